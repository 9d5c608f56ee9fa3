"""Abort stale multipart uploads, whoever started them, and tidy the journal.

Incomplete multipart uploads are invisible in listings of objects but their parts are stored
and billed until aborted (boto/boto3#3187, boto/s3transfer#90, aws/aws-cli#1425).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ._errors import Where
from ._exceptions import S3RequestError
from ._journal import Journal
from ._retry import Counters, Retrier
from ._transport import S3Transport

logger = logging.getLogger("resilient_s3")


@dataclass(frozen=True, slots=True)
class StaleUpload:
    key: str
    upload_id: str
    initiated: datetime.datetime
    age: float
    """Seconds since it was started."""


@dataclass
class CleanupReport:
    """What ``cleanup`` found and did (``dry_run``: what it would do)."""

    bucket: str
    prefix: str
    dry_run: bool
    aborted: list[StaleUpload] = field(default_factory=list)
    would_abort: list[StaleUpload] = field(default_factory=list)
    """With ``dry_run``: the uploads a real run would abort (``aborted`` stays empty)."""
    kept: list[StaleUpload] = field(default_factory=list)
    """Uploads younger than the cutoff, left alone."""
    failed: dict[str, str] = field(default_factory=dict)
    """Upload id -> why it could not be aborted."""
    retried_aborts: int = 0
    """Aborts that failed earlier (remembered in the journal) and were done now."""
    journal_entries_removed: int = 0


async def cleanup(
    transport: S3Transport,
    retrier: Retrier,
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
    endpoint = transport.endpoint_url

    async def abort(key: str, upload_id: str) -> str | None:
        """None when the upload is gone, else why not."""
        try:
            await retrier.run(
                partial(transport.abort_multipart_upload, Where(bucket, key, upload_id)),
                counters,
                budgeted=False,
            )
        except S3RequestError as exc:
            if exc.code != "NoSuchUpload":
                return exc.message
        return None

    for path, pending in journal.pending_aborts():
        if (pending.endpoint, pending.bucket) != (endpoint, bucket):
            continue
        if not pending.key.startswith(prefix):
            continue
        if not dry_run and await abort(pending.key, pending.upload_id) is None:
            path.unlink(missing_ok=True)
            report.retried_aborts += 1

    open_ids = set()
    in_use = journal.upload_ids_in_use()  # by uploads running in other processes
    for upload in await _list_uploads(transport, retrier, counters, bucket, prefix):
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
        why = await abort(stale.key, stale.upload_id)
        if why is None:
            report.aborted.append(stale)
        else:
            report.failed[stale.upload_id] = why
            open_ids.add(stale.upload_id)

    if not dry_run:
        for entry, header, _ in journal.entries():
            mine = (header.endpoint, header.bucket) == (endpoint, bucket)
            if mine and header.key.startswith(prefix) and header.upload_id not in open_ids:
                entry.remove()
                report.journal_entries_removed += 1
    return report


async def _list_uploads(
    transport: S3Transport, retrier: Retrier, counters: Counters, bucket: str, prefix: str
) -> list[dict[str, Any]]:
    uploads: list[dict[str, Any]] = []
    markers: dict[str, str] = {}
    while True:
        page = await retrier.run(
            lambda markers=markers: transport.call(  # type: ignore[misc]
                "ListMultipartUploads",
                Where(bucket, prefix),
                Bucket=bucket,
                Prefix=prefix,
                **markers,
            ),
            counters,
        )
        uploads.extend(page.get("Uploads", []))
        if not page.get("IsTruncated"):
            return uploads
        markers = {
            "KeyMarker": page.get("NextKeyMarker", ""),
            "UploadIdMarker": page.get("NextUploadIdMarker", ""),
        }
