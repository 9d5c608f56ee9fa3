"""``resilient-s3 chaos``: a fault-injecting proxy in front of an S3 endpoint."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from .common import EXIT_OK, EXIT_USAGE, OUTPUT_CLOSED, SIZES, command, size

if TYPE_CHECKING:
    from ..testing import ChaosProxy


def add_parser(sub: Any) -> None:
    chaos = command(
        sub,
        "chaos",
        help="run a fault-injecting proxy in front of an S3 endpoint",
        description="Relay S3 requests to --upstream and inject faults. Prints one JSON line "
        "with the proxy's endpoint_url, then, when stopped (Ctrl-C, SIGTERM or --duration), "
        "one JSON line of counters. Probabilities are per request, 0..1.",
        statuses=(
            (EXIT_OK, "stopped (Ctrl-C, SIGTERM or --duration): the counters were printed"),
            (
                EXIT_USAGE,
                "the proxy cannot run as given (--upstream, a probability, --expiries, the "
                "port): nothing was started",
            ),
            OUTPUT_CLOSED,
        ),
        notes=(SIZES,),
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
        "--reset-after", type=size, default=64 * 1024, help="body bytes before a reset"
    )
    chaos.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    chaos.add_argument("--bandwidth", type=size, help="bytes per second, e.g. 10MiB")
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


def run(args: argparse.Namespace) -> int:
    import signal
    import threading

    try:
        proxy = _proxy(args).start()
    except (ValueError, OSError) as exc:  # ChaosProxy's own checks, the port, the file
        print(f"resilient-s3: {exc}", file=sys.stderr)
        return EXIT_USAGE
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
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
    finally:
        proxy.stop()
    return EXIT_OK


def _proxy(args: argparse.Namespace) -> ChaosProxy:
    from ..testing import ChaosProxy

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
    return proxy
