"""``resilient-s3 cleanup``: abort stale multipart uploads and tidy the journal."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from .._exceptions import UploadError
from .common import (
    CANNOT_RUN,
    ENVIRONMENT,
    EXIT_FAILED,
    EXIT_OK,
    INTERRUPTED,
    command,
    duration,
    failed,
    output_options,
    s3_target,
    uploader,
    where_options,
)
from .output import print_json, print_line


def add_parser(sub: Any) -> None:
    clean = command(
        sub,
        "cleanup",
        help="abort stale multipart uploads and tidy the journal",
        description="Abort the incomplete multipart uploads below s3://bucket/prefix started "
        "longer ago than --older-than, by any tool (their parts are billed until then); retry "
        "aborts that failed earlier; remove journal entries whose upload is gone.",
        statuses=(
            (EXIT_OK, "every stale upload was aborted (--dry-run: listed), or there was none"),
            (EXIT_FAILED, "an upload could not be aborted, or S3 refused to list them"),
            CANNOT_RUN,
            INTERRUPTED,
        ),
        notes=(ENVIRONMENT,),
    )
    clean.add_argument(
        "target", type=s3_target("s3://bucket[/prefix]"), help="s3://bucket[/prefix]"
    )
    clean.add_argument(
        "--older-than", type=duration, default=86400.0, help="e.g. 24h (default), 30m, 2d, 0"
    )
    clean.add_argument(
        "--dry-run", action="store_true", help="only list what would be aborted (would_abort)"
    )
    output_options(clean, progress=False)
    where_options(clean)


def run(args: argparse.Namespace) -> int:
    bucket, prefix = args.target
    try:
        with uploader(args, bucket) as up:
            report = up.cleanup(bucket, prefix, older_than=args.older_than, dry_run=args.dry_run)
    except UploadError as exc:
        return failed(exc, as_json=args.json)
    if args.json:
        print_json(asdict(report))
        return EXIT_FAILED if report.failed else EXIT_OK
    verb = "would abort" if args.dry_run else "aborted"
    listed = report.would_abort if args.dry_run else report.aborted
    print_line(f"{verb} {len(listed)} stale multipart uploads below s3://{bucket}/{prefix}")
    for upload in listed:
        print_line(f"  s3://{bucket}/{upload.key}  upload id {upload.upload_id}")
    if report.kept:
        print_line(f"kept {len(report.kept)} younger than --older-than")
    for upload_id, why in report.failed.items():
        print_line(f"could not abort {upload_id}: {why}")
    if report.retried_aborts or report.journal_entries_removed:
        print_line(
            f"earlier failed aborts done now: {report.retried_aborts}; journal entries "
            f"removed: {report.journal_entries_removed}"
        )
    return EXIT_FAILED if report.failed else EXIT_OK
