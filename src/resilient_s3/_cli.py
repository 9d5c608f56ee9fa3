"""The ``resilient-s3`` command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ._bench import cli as _bench_cli
from ._config import CHECKSUM_ALGORITHMS, UploadConfig
from ._exceptions import InvalidUploadError, ObjectExistsError, UploadError
from ._journal import Journal
from ._planner import MiB, parse_size
from ._result import UploadResult
from ._uploader import DirectoryUploadError, ResilientUploader

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

EXIT_CODES = f"""exit status:
  {EXIT_OK}    everything was uploaded
  {EXIT_FAILED}    an upload failed (for put-dir: at least one file); the error names its cause
  {EXIT_USAGE}    the command cannot run as given (an option, the endpoint, the profile, a
       bucket or key name, a source that cannot be read): nothing was sent
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C): multipart uploads in progress were aborted
  {EXIT_TERMINATED}  terminated (SIGTERM): multipart uploads of files were kept, to finish by
       running the same command again or `resilient-s3 resume`; others were aborted

sizes: 8MiB, 64KiB, 1.5GiB (powers of 1024), 5MB, 10kB (powers of 1000), or bytes"""


class _Terminated(SystemExit):
    """SIGTERM, raised in the main thread; the uploader keeps resumable uploads for it."""


def _s3_url(text: str) -> tuple[str, str]:
    if not text.startswith("s3://"):
        raise argparse.ArgumentTypeError(f"expected s3://bucket/key, got {text!r}")
    bucket, _, key = text[5:].partition("/")
    if not bucket:
        raise argparse.ArgumentTypeError(f"no bucket in {text!r}")
    return bucket, key


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_size.__name__ = "size"  # argparse names the type in its messages


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a duration like 24h, 30m or 90s, got {text!r}"
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resilient-s3",
        description="Resilient S3 uploads: retries, resume, diagnosis.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs
        )

    def connection(p: argparse.ArgumentParser) -> None:
        p.add_argument("--endpoint-url", help="S3 endpoint (MinIO, SeaweedFS, R2...); default AWS")
        p.add_argument("--region", help="region name; default from the profile/environment")
        p.add_argument("--profile", help="AWS profile to use")
        p.add_argument(
            "--embedded",
            action="store_true",
            help="start a throwaway local S3 server (SeaweedFS, needs the 'embedded' extra) "
            "and upload to it; the bucket is created",
        )
        p.add_argument("--part-size", type=_size, default=8 * MiB, help="e.g. 8MiB (default)")
        p.add_argument("--concurrency", type=int, default=16, help="requests in flight (16)")
        p.add_argument("--checksum", choices=CHECKSUM_ALGORITHMS, default="CRC64NVME")
        p.add_argument("--quiet", action="store_true", help="no progress display")

    put = command(
        "put",
        help="upload a file (or - for stdin)",
        description="Upload a file, or standard input (-). A destination ending in / (or a "
        "bare bucket) is a prefix: the file's name is appended, as with `aws s3 cp`.",
    )
    put.add_argument("source", help="a file path, or - to read standard input")
    put.add_argument(
        "destination", type=_s3_url, help="s3://bucket/key, or s3://bucket/prefix/ for a file"
    )
    put.add_argument("--content-type")
    put.add_argument(
        "--no-overwrite", action="store_true", help="fail if the key exists (If-None-Match: *)"
    )
    put.add_argument(
        "--no-resume", action="store_true", help="do not journal the upload for a resume"
    )
    put.add_argument("--verify", action="store_true", help="check the object with HeadObject")
    connection(put)

    put_dir = command(
        "put-dir",
        help="upload every file below a directory",
        description="Upload every regular file below a directory to the prefix plus its "
        "relative path; a prefix without a trailing / gets one, as with `aws s3 cp "
        "--recursive`. Every file is attempted; all results and failures are printed.",
    )
    put_dir.add_argument("source", help="a directory")
    put_dir.add_argument("destination", type=_s3_url, help="s3://bucket[/prefix/]")
    connection(put_dir)

    resume = command(
        "resume",
        help="finish the uploads a crash interrupted (from the journal)",
        description="Upload again every file whose multipart upload to this endpoint was "
        "interrupted, sending only the parts S3 does not have yet.",
    )
    connection(resume)

    clean = command(
        "cleanup",
        help="abort stale multipart uploads and tidy the journal",
        description="Abort the incomplete multipart uploads below s3://bucket/prefix started "
        "longer ago than --older-than, by any tool (their parts are billed until then); retry "
        "aborts that failed earlier; remove journal entries whose upload is gone.",
    )
    clean.add_argument("target", type=_s3_url, help="s3://bucket[/prefix]")
    clean.add_argument(
        "--older-than", type=_duration, default=86400.0, help="e.g. 24h (default), 30m, 2d, 0"
    )
    clean.add_argument(
        "--dry-run", action="store_true", help="only list what would be aborted (would_abort)"
    )
    connection(clean)

    chaos = sub.add_parser(
        "chaos",
        help="run a fault-injecting proxy in front of an S3 endpoint",
        description="Relay S3 requests to --upstream and inject faults. Prints one JSON line "
        "with the proxy's endpoint_url, then, when stopped (Ctrl-C, SIGTERM or --duration), "
        "one JSON line of counters. Probabilities are per request, 0..1.",
    )
    chaos.add_argument("--upstream", required=True, help="http:// URL of the real S3 server")
    chaos.add_argument("--host", default="127.0.0.1")
    chaos.add_argument("--port", type=int, default=0, help="0 picks a free port")
    for flag, what in [
        ("slowdown", "503 SlowDown"),
        ("too-many", "429 TooManyRequests"),
        ("internal-error", "500 InternalError"),
        ("reset", "connection reset mid-body"),
        ("lose-response", "answer lost after the server succeeded"),
        ("complete-error", "200 with an <Error> body on CompleteMultipartUpload"),
    ]:
        chaos.add_argument(f"--{flag}", type=float, default=0.0, metavar="P", help=what)
    chaos.add_argument(
        "--reset-after", type=_size, default=64 * 1024, help="body bytes before a reset"
    )
    chaos.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    chaos.add_argument("--bandwidth", type=_size, help="bytes per second, e.g. 10MiB")
    chaos.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="OPERATION",
        help="limit the probabilities to an S3 operation (repeatable), e.g. UploadPart",
    )
    chaos.add_argument("--expiries", help='JSON file {"ACCESS_KEY": expiry}: ExpiredToken after it')
    chaos.add_argument("--seed", type=int)
    chaos.add_argument("--duration", type=float, help="stop after this many seconds")
    chaos.add_argument(
        "--stats-interval", type=float, default=0.0, help="print counters to stderr every N seconds"
    )

    bench = sub.add_parser(
        "bench",
        help="compare S3 upload clients on the same server, data and faults",
        description="Compare resilient-s3, boto3, aioboto3, the AWS CRT and obstore on the same "
        "S3 server and data, with and without injected faults; each run in its own process. "
        "Writes results.json, results.csv and chart.png; see benchmarks/README.md.",
    )
    _bench_cli.add_arguments(bench)
    return parser


class _ProgressLine:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = 0.0
        self._started = time.monotonic()

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.2 and done != total):
            return
        self._last = now
        rate = done / MiB / max(now - self._started, 1e-6)
        of = f" of {total / MiB:.1f}" if total is not None else ""
        sys.stderr.write(f"\r{done / MiB:.1f}{of} MiB  {rate:.1f} MiB/s ")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


@contextlib.contextmanager
def _uploader(args: argparse.Namespace, bucket: str | None) -> Iterator[ResilientUploader]:
    import botocore.session

    config = UploadConfig(
        part_size=args.part_size,
        max_concurrency=args.concurrency,
        checksum_algorithm=args.checksum,
        resume=not getattr(args, "no_resume", False),
        verify_after_upload=getattr(args, "verify", False),
    )
    with contextlib.ExitStack() as stack:
        if args.embedded:
            from .testing import S3Server

            server = stack.enter_context(S3Server(buckets=[bucket] if bucket else []))
            session = botocore.session.Session()
            session.set_credentials(server.access_key, server.secret_key)
            session.set_config_variable("region", server.region)
            endpoint = server.endpoint_url
        else:
            # botocore resolves the profile when the uploader opens: an unknown one is reported
            # there, as every other session problem.
            session = botocore.session.Session(profile=args.profile)
            endpoint = args.endpoint_url
        yield stack.enter_context(
            ResilientUploader(
                session=session, endpoint_url=endpoint, region_name=args.region, config=config
            )
        )


@contextlib.contextmanager
def _sigterm_ends_the_upload() -> Iterator[None]:
    """SIGTERM (systemd, ``docker stop``, a cancelled CI job) stops the upload the way a
    process exit does: resumable multipart uploads are kept, the others aborted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise _Terminated(EXIT_TERMINATED)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _failed(exc: UploadError) -> int:
    """Print an error that ended the command; its exit status."""
    if isinstance(exc, ObjectExistsError):
        print(
            f"resilient-s3: s3://{exc.bucket}/{exc.key} exists; nothing was written "
            "(--no-overwrite)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(f"resilient-s3: {exc}", file=sys.stderr)
    return EXIT_USAGE if isinstance(exc, InvalidUploadError) else EXIT_FAILED


def _summary(result: UploadResult) -> dict[str, Any]:
    summary = asdict(result)
    summary["elapsed"] = round(result.elapsed, 3)
    return {"status": "uploaded", **summary}


def _failure(key: str, exc: UploadError) -> dict[str, Any]:
    diagnosis = exc.diagnosis
    return {
        "status": "failed",
        "bucket": exc.bucket,
        "key": key,
        "error": exc.message,
        "cause": str(diagnosis.cause) if diagnosis else None,
        "fixes": list(diagnosis.fixes) if diagnosis else [],
    }


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "chaos":
        return _chaos(args)
    if args.command == "bench":
        return _bench_cli.run(args)
    if args.command == "cleanup":
        return _cleanup(args)
    if args.command == "put":
        args.bucket, args.key = _put_destination(parser, args.source, *args.destination)
    elif args.command == "put-dir":
        bucket, prefix = args.destination
        args.bucket, args.key = (
            bucket,
            prefix if not prefix or prefix.endswith("/") else prefix + "/",
        )
    try:
        with _sigterm_ends_the_upload():
            return _upload(args)
    except _Terminated:
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
    progress = _ProgressLine(not args.quiet and sys.stderr.isatty())
    up: ResilientUploader | None = None
    try:
        with _uploader(args, getattr(args, "bucket", None)) as up:
            if args.command == "put":
                _print_json(_summary(_put(up, args, progress)))
            elif args.command == "put-dir":
                results = up.upload_directory(
                    args.source, args.bucket, args.key, on_progress=progress
                )
                progress.finish()
                _print_json([_summary(r) for r in results])
            else:
                return _resume(up, args)
    except DirectoryUploadError as exc:
        progress.finish()
        failed = [_failure(key, error) for key, error in sorted(exc.failures.items())]
        _print_json([*(_summary(r) for r in exc.results), *failed])
        print(f"resilient-s3: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except UploadError as exc:
        progress.finish()
        return _failed(exc)
    except KeyboardInterrupt:
        progress.finish()
        print("resilient-s3: interrupted; the partial upload was aborted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _Terminated:
        progress.finish()
        kept = up._async._kept_for_resume if up is not None else []
        print(f"resilient-s3: terminated (SIGTERM); {_kept_text(kept)}", file=sys.stderr)
        return EXIT_TERMINATED
    return EXIT_OK


def _put(up: ResilientUploader, args: argparse.Namespace, progress: _ProgressLine) -> UploadResult:
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
    _print_json([_summary(r) for r in results])
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


def _cleanup(args: argparse.Namespace) -> int:
    bucket, prefix = args.target
    try:
        with _uploader(args, bucket) as up:
            report = up.cleanup(bucket, prefix, older_than=args.older_than, dry_run=args.dry_run)
    except UploadError as exc:
        return _failed(exc)
    _print_json(asdict(report))
    return EXIT_OK


def _chaos(args: argparse.Namespace) -> int:
    import signal
    import threading

    from .testing import ChaosProxy

    proxy = ChaosProxy(
        args.upstream,
        slowdown=args.slowdown,
        too_many=args.too_many,
        internal_error=args.internal_error,
        reset=args.reset,
        lose_response=args.lose_response,
        complete_error=args.complete_error,
        latency=args.latency,
        bandwidth=args.bandwidth,
        only=args.only,
        reset_after=args.reset_after,
        seed=args.seed,
        host=args.host,
        port=args.port,
    )
    if args.expiries:
        proxy.load_expiries(args.expiries)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with proxy:
        print(
            json.dumps({"endpoint_url": proxy.endpoint_url, "upstream": args.upstream}), flush=True
        )
        deadline = time.monotonic() + args.duration if args.duration else None
        while not stop.is_set():
            timeout = args.stats_interval or 0.5
            if deadline is not None:
                timeout = min(timeout, max(deadline - time.monotonic(), 0))
            if stop.wait(timeout) or (deadline is not None and time.monotonic() >= deadline):
                break
            if args.stats_interval:
                print(json.dumps(proxy.stats.as_dict()), file=sys.stderr, flush=True)
        print(json.dumps(proxy.stats.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
