"""``resilient-s3 put``, ``put-dir`` and ``resume``: uploads."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._api.blocking import ResilientUploader
from .._exceptions import DirectoryUploadError, UploadError
from .._result import UploadResult
from .._upload.journal import Journal
from .common import (
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    Terminated,
    connection_options,
    failed,
    s3_url,
    sigterm_ends_the_upload,
    uploader,
)
from .output import ProgressLine, failure, print_json, summary


def add_parsers(sub: Any) -> None:
    put = sub.add_parser(
        "put",
        help="upload a file (or - for stdin)",
        description="Upload a file, or standard input (-). A destination ending in / (or a "
        "bare bucket) is a prefix: the file's name is appended, as with `aws s3 cp`.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    put.add_argument("source", help="a file path, or - to read standard input")
    put.add_argument(
        "destination", type=s3_url, help="s3://bucket/key, or s3://bucket/prefix/ for a file"
    )
    put.add_argument("--content-type")
    put.add_argument(
        "--no-overwrite", action="store_true", help="fail if the key exists (If-None-Match: *)"
    )
    put.add_argument(
        "--no-resume", action="store_true", help="do not journal the upload for a resume"
    )
    put.add_argument("--verify", action="store_true", help="check the object with HeadObject")
    connection_options(put)

    put_dir = sub.add_parser(
        "put-dir",
        help="upload every file below a directory",
        description="Upload every regular file below a directory to the prefix plus its "
        "relative path; a prefix without a trailing / gets one, as with `aws s3 cp "
        "--recursive`. Every file is attempted; all results and failures are printed.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    put_dir.add_argument("source", help="a directory")
    put_dir.add_argument("destination", type=s3_url, help="s3://bucket[/prefix/]")
    connection_options(put_dir)

    resume = sub.add_parser(
        "resume",
        help="finish the uploads a crash interrupted (from the journal)",
        description="Upload again every file whose multipart upload to this endpoint was "
        "interrupted, sending only the parts S3 does not have yet.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    connection_options(resume)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "put":
        args.bucket, args.key = _put_destination(parser, args.source, *args.destination)
    elif args.command == "put-dir":
        bucket, prefix = args.destination
        args.bucket, args.key = (
            bucket,
            prefix if not prefix or prefix.endswith("/") else prefix + "/",
        )
    try:
        with sigterm_ends_the_upload():
            return _upload(args)
    except Terminated:
        return EXIT_TERMINATED


def _put_destination(
    parser: argparse.ArgumentParser, source: str, bucket: str, key: str
) -> tuple[str, str]:
    """Where ``put`` writes: a key ending in / (or none) is a prefix for the file's name."""
    if source == "-":
        if not key or key.endswith("/"):
            parser.error(
                f"standard input has no file name: give the whole key, e.g. "
                f"s3://{bucket}/{key}data.bin"
            )
        return bucket, key
    if os.path.isdir(source):
        parser.error(
            f"{source} is a directory: use `resilient-s3 put-dir {source} s3://{bucket}/{key}`"
        )
    if not key or key.endswith("/"):
        return bucket, key + Path(source).name
    return bucket, key


def _upload(args: argparse.Namespace) -> int:
    progress = ProgressLine(not args.quiet and sys.stderr.isatty())
    up: ResilientUploader | None = None
    try:
        with uploader(args, getattr(args, "bucket", None)) as up:
            if args.command == "put":
                print_json(summary(_put(up, args, progress)))
            elif args.command == "put-dir":
                results = up.upload_directory(
                    args.source, args.bucket, args.key, on_progress=progress
                )
                progress.finish()
                print_json([summary(r) for r in results])
            else:
                return _resume(up, args)
    except DirectoryUploadError as exc:
        progress.finish()
        failures = [failure(key, error) for key, error in sorted(exc.failures.items())]
        print_json([*(summary(r) for r in exc.results), *failures])
        print(f"resilient-s3: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except UploadError as exc:
        progress.finish()
        return failed(exc)
    except KeyboardInterrupt:
        progress.finish()
        print("resilient-s3: interrupted; the partial upload was aborted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        progress.finish()
        kept = up._async._kept_for_resume if up is not None else []
        print(f"resilient-s3: terminated (SIGTERM); {_kept_text(kept)}", file=sys.stderr)
        return EXIT_TERMINATED
    return EXIT_OK


def _put(up: ResilientUploader, args: argparse.Namespace, progress: ProgressLine) -> UploadResult:
    extra = {"ContentType": args.content_type} if args.content_type else None
    overwrite = not args.no_overwrite
    if args.source == "-":
        result = up.upload_fileobj(
            sys.stdin.buffer, args.bucket, args.key, extra, progress, overwrite=overwrite
        )
    else:
        result = up.upload_file(
            args.source, args.bucket, args.key, extra, progress, overwrite=overwrite
        )
    progress.finish()
    return result


def _kept_text(kept: Sequence[Any]) -> str:
    if not kept:
        return "no multipart upload was left open"
    names = ", ".join(f"s3://{w.bucket}/{w.key}" for w in kept)
    return (
        f"kept to resume: {names}; run the same command again, or `resilient-s3 resume`, to "
        "finish (`resilient-s3 cleanup` removes it instead)"
    )


def _resume(up: ResilientUploader, args: argparse.Namespace) -> int:
    results = up.resume_interrupted()
    print_json([summary(r) for r in results])
    if not results:
        elsewhere = Counter(
            header.endpoint
            for _, header, _ in Journal(up.config.journal_dir).entries()
            if header.endpoint != up.endpoint_url
        )
        if elsewhere:
            listed = ", ".join(f"{endpoint} ({n})" for endpoint, n in sorted(elsewhere.items()))
            print(
                f"resilient-s3: nothing to resume at {up.endpoint_url}; the journal holds "
                f"interrupted uploads to other endpoints: {listed}. Pass --endpoint-url to "
                "resume those.",
                file=sys.stderr,
            )
    return EXIT_OK
