"""``resilient-s3 put``, ``put-dir`` and ``resume``: uploads."""

from __future__ import annotations

import argparse
import mimetypes
import os
import select
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from .._api.blocking import ResilientUploader
from .._exceptions import UploadError
from .._outcomes import FileOutcome
from .._result import UploadResult
from .._upload.journal import Journal
from .common import (
    ENVIRONMENT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    SIZES,
    UPLOADS,
    Terminated,
    command,
    failed,
    output_options,
    retry_options,
    s3_target,
    sigterm_ends_the_upload,
    upload_options,
    uploader,
    where_options,
)
from .output import (
    directory_line,
    file_line,
    outcome_document,
    print_error,
    print_json,
    print_line,
    report_document,
    result_document,
    uploaded_line,
)
from .progress import Display, wanted


def add_parsers(sub: Any) -> None:
    put = command(
        sub,
        "put",
        help="upload a file (or - for stdin)",
        description="Upload a file, or standard input (-). A destination ending in / (or a "
        "bare bucket) is a prefix: the file's name is appended, as with `aws s3 cp`. The "
        "Content-Type is guessed from the file's name unless --content-type gives it.",
        statuses=UPLOADS,
        notes=(SIZES, ENVIRONMENT),
    )
    put.add_argument("source", help="a file path, or - to read standard input")
    put.add_argument(
        "destination",
        type=s3_target("s3://bucket/key, or s3://bucket/prefix/"),
        help="s3://bucket/key, or s3://bucket/prefix/ for a file",
    )
    put.add_argument("--content-type", help="default: guessed from the file's name")
    upload_options(put)
    output_options(put)
    where_options(put)

    put_dir = command(
        sub,
        "put-dir",
        help="upload every file below a directory",
        description="Upload every regular file below a directory to the prefix plus its "
        "relative path; a prefix without a trailing / gets one, as with `aws s3 cp "
        "--recursive`. Every file is attempted, through one concurrency bound. A line per file "
        "as it finishes (uploaded, skipped, or failed and why; none with --quiet), then a "
        "summary; each failure's diagnosis on standard error. --json prints one JSON line per "
        "file as it finishes, then a summary line.",
        statuses=UPLOADS,
        notes=(SIZES, ENVIRONMENT),
    )
    put_dir.add_argument("source", help="a directory")
    put_dir.add_argument(
        "destination", type=s3_target("s3://bucket[/prefix/]"), help="s3://bucket[/prefix/]"
    )
    put_dir.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="upload only files whose path below the directory matches (repeatable)",
    )
    put_dir.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip files whose path below the directory matches (repeatable; wins over --include)",
    )
    put_dir.add_argument(
        "--skip-unchanged",
        action="store_true",
        help="skip a file whose object has the same size and checksum (or MD5 ETag)",
    )
    put_dir.add_argument(
        "--content-type", help="for every file (default: guessed per file from its name)"
    )
    upload_options(put_dir)
    output_options(put_dir)
    where_options(put_dir)

    resume = command(
        sub,
        "resume",
        help="finish the uploads a crash interrupted (from the journal)",
        description="Upload again every file whose multipart upload to this endpoint was "
        "interrupted, sending only the parts S3 does not have yet.",
        statuses=(
            (EXIT_OK, "every interrupted upload was finished, or there was none"),
            (EXIT_FAILED, "an upload failed; the error names its cause"),
            *UPLOADS[2:],
        ),
        notes=(ENVIRONMENT,),
    )
    retry_options(resume)
    output_options(resume)
    where_options(resume)


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
        with sigterm_ends_the_upload() as terminating:
            return _upload(args, terminating)
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


def _upload(args: argparse.Namespace, terminating: threading.Event) -> int:
    target = f"s3://{getattr(args, 'bucket', '')}/{getattr(args, 'key', '')}"
    multipart = getattr(args, "part_size", None)
    display = Display(
        wanted(args),
        args.source if args.command == "put" else target,
        per_file_from=multipart if args.command == "put-dir" else None,
    )
    up: ResilientUploader | None = None
    try:
        with display, uploader(args, getattr(args, "bucket", None), display.on_event) as up:
            if args.command == "put":
                result = _put(up, args, display, terminating)
                display.close()
                if args.json:
                    print_json(result_document(result))
                else:
                    print_line(uploaded_line(args.source, result))
                return EXIT_OK
            if args.command == "put-dir":
                return _put_dir(up, args, display, target)
            return _resume(up, args)
    except UploadError as exc:
        return failed(exc, as_json=getattr(args, "json", False))
    except KeyboardInterrupt:
        print("resilient-s3: interrupted; the partial upload was aborted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        kept = up._async._kept_for_resume if up is not None else []
        print(f"resilient-s3: terminated (SIGTERM); {_kept_text(kept)}", file=sys.stderr)
        return EXIT_TERMINATED


def _put(
    up: ResilientUploader, args: argparse.Namespace, display: Display, terminating: threading.Event
) -> UploadResult:
    content_type = args.content_type
    if content_type is None and args.source != "-":
        content_type, _ = mimetypes.guess_type(args.source, strict=False)
    extra = {"ContentType": content_type} if content_type else None
    overwrite = not args.no_overwrite
    if args.source == "-":
        stdin = _standard_input(terminating)
        return up.upload_fileobj(
            stdin, args.bucket, args.key, extra, display.on_progress, overwrite=overwrite
        )
    return up.upload_file(
        args.source, args.bucket, args.key, extra, display.on_progress, overwrite=overwrite
    )


def _put_dir(up: ResilientUploader, args: argparse.Namespace, display: Display, target: str) -> int:
    finished = 0

    def on_file(outcome: FileOutcome) -> None:
        nonlocal finished
        finished += 1
        display.describe(f"{target} ({finished} files)")
        if args.json:
            print_json(outcome_document(outcome))
        elif not args.quiet:
            # On a terminal with the bars drawn, rich has standard output in hand while they
            # are: a line printed goes above them, as the retry notes do.
            print_line(file_line(outcome, args.bucket))

    extra = {"ContentType": args.content_type} if args.content_type else None
    report = up.upload_tree(
        args.source,
        args.bucket,
        args.key,
        extra,
        on_file=on_file,
        on_progress=display.on_progress,
        overwrite=not args.no_overwrite,
        include=args.include,
        exclude=args.exclude,
        skip_unchanged=args.skip_unchanged,
        guess_content_type=args.content_type is None,
    )
    display.close()
    if args.json:
        print_json(report_document(report))
    else:
        print_line(directory_line(report, target))
    for outcome in report.first_failures:
        assert outcome.error is not None
        print_error(outcome.error, key=outcome.key)
    if report.failed > len(report.first_failures):
        more = report.failed - len(report.first_failures)
        listed = "--json gives every diagnosis" if args.quiet else "each named on standard output"
        print(f"resilient-s3: ... and {more} more failures ({listed})", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


class _Pipe:
    """Standard input as a pipe (or a terminal, or a socket), read without blocking SIGTERM.

    A blocking read would hold the thread reading a part until the whole part had arrived:
    when the program writing the pipe pauses, SIGTERM's abort of the multipart upload (a
    pipe cannot be read again, so it is not kept) waited for it, and a supervisor's SIGKILL
    (``docker stop`` after 10 s) left the upload open. Each read waits at most a tenth of a
    second at a time and gives up once SIGTERM has arrived."""

    def __init__(self, fd: int, terminating: threading.Event) -> None:
        self._fd = fd
        self._terminating = terminating

    def readinto(self, buffer: memoryview | bytearray) -> int:
        while not self._terminating.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.1)
            if ready:
                return os.readv(self._fd, [buffer])
        raise InterruptedError("standard input was not read to its end: terminated (SIGTERM)")

    def read(self, size: int = -1) -> bytes:
        if size >= 0:
            buffer = bytearray(size)
            return bytes(buffer[: self.readinto(buffer)])
        chunks = []
        while chunk := self.read(1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)

    def seekable(self) -> bool:
        return False


def _standard_input(terminating: threading.Event) -> IO[bytes] | _Pipe:
    """``put -``'s source: a file redirected to standard input is read as it is (its size is
    known, it never stalls); a pipe is read so that SIGTERM can end the upload at once."""
    stdin = sys.stdin.buffer
    if stdin.seekable():
        return stdin
    return _Pipe(stdin.fileno(), terminating)


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
    for result in results:
        if args.json:
            print_json(result_document(result))
        else:
            print_line(uploaded_line("(resumed)", result))
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
        elif not args.json:
            print_line("nothing to resume")
    return EXIT_OK
