"""Abort stale multipart uploads, whoever started them, and tidy the journal.

Incomplete multipart uploads are invisible in listings of objects but their parts are stored
and billed until aborted (boto/boto3#3187, boto/s3transfer#90, aws/aws-cli#1425).
"""

from __future__ import annotations

import datetime
import logging

from .._resilience.retry import Counters, Retrier
from .._result import CleanupReport, StaleUpload
from .._s3.errors import Where
from .aborts import Aborts
from .journal import Journal
from .s3_backend import S3Backend

logger = logging.getLogger("resilient_s3")


async def cleanup(
    backend: S3Backend,
    retrier: Retrier,
    aborts: Aborts,
    journal: Journal,
    bucket: str,
    prefix: str = "",
    *,
    older_than: float,
    dry_run: bool = False,
    now: datetime.datetime | None = None,
) -> CleanupReport:
    """``now`` is the server's time (the uploader's clock offset applied)."""
    now = now or datetime.datetime.now(datetime.UTC)
    report = CleanupReport(bucket, prefix, dry_run)
    counters = Counters()
    endpoint = backend.endpoint_url

    if not dry_run:
        report.retried_aborts = await aborts.retry_remembered(
            wanted=lambda pending: pending.bucket == bucket and pending.key.startswith(prefix)
        )

    open_ids = set()
    in_use = journal.upload_ids_in_use()  # by uploads running in other processes
    listed = await retrier.run(lambda: backend.list_multipart_uploads(bucket, prefix), counters)
    for upload in listed:
        initiated: datetime.datetime = upload["Initiated"]
        stale = StaleUpload(
            upload["Key"], upload["UploadId"], initiated, (now - initiated).total_seconds()
        )
        if stale.age < older_than or stale.upload_id in in_use:
            report.kept.append(stale)
            open_ids.add(stale.upload_id)
            continue
        if dry_run:
            report.would_abort.append(stale)
            continue
        where = Where(bucket, stale.key, stale.upload_id)
        problem = await aborts.abort(where, reason="cleanup", counters=counters, remember=False)
        if problem is None:
            report.aborted.append(stale)
        else:
            report.failed[stale.upload_id] = problem
            open_ids.add(stale.upload_id)

    if not dry_run:
        for entry, header, _ in journal.entries():
            mine = (header.endpoint, header.bucket) == (endpoint, bucket)
            if mine and header.key.startswith(prefix) and header.upload_id not in open_ids:
                entry.remove()
                report.journal_entries_removed += 1
    return report
