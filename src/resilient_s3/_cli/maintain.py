"""``resilient-s3 cleanup``: abort stale multipart uploads and tidy the journal."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from .._exceptions import UploadError
from .common import EXIT_CODES, EXIT_OK, connection_options, duration, failed, s3_url, uploader
from .output import print_json


def add_parser(sub: Any) -> None:
    clean = sub.add_parser(
        "cleanup",
        help="abort stale multipart uploads and tidy the journal",
        description="Abort the incomplete multipart uploads below s3://bucket/prefix started "
        "longer ago than --older-than, by any tool (their parts are billed until then); retry "
        "aborts that failed earlier; remove journal entries whose upload is gone.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    clean.add_argument("target", type=s3_url, help="s3://bucket[/prefix]")
    clean.add_argument(
        "--older-than", type=duration, default=86400.0, help="e.g. 24h (default), 30m, 2d, 0"
    )
    clean.add_argument(
        "--dry-run", action="store_true", help="only list what would be aborted (would_abort)"
    )
    connection_options(clean)


def run(args: argparse.Namespace) -> int:
    bucket, prefix = args.target
    try:
        with uploader(args, bucket) as up:
            report = up.cleanup(bucket, prefix, older_than=args.older_than, dry_run=args.dry_run)
    except UploadError as exc:
        return failed(exc)
    print_json(asdict(report))
    return EXIT_OK
