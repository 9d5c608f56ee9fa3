"""What a fault-free ChaosProxy costs: one large upload direct, and through the proxy.

    python benchmarks/proxy_overhead.py [--size-mib 256] [--rounds 5]

Starts an embedded SeaweedFS server, then alternates, round after round, uploads of the same
file straight to the server, through a proxy in this process, and through a proxy in its own
process (``resilient-s3 chaos``), with resilient-s3 and with boto3's ``upload_file``. Prints the
median throughput of each and its ratio to the direct upload. Rounds alternate so that the
machine's drift hits every contender alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import boto3

from resilient_s3 import ResilientUploader
from resilient_s3.testing import ChaosProxy, S3Server

MiB = 1024 * 1024


def resilient_upload(session: boto3.Session, endpoint: str, path: Path, bucket: str) -> None:
    with ResilientUploader(session=session, endpoint_url=endpoint) as up:
        up.upload_file(path, bucket, "bench")


def boto3_upload(session: boto3.Session, endpoint: str, path: Path, bucket: str) -> None:
    session.client("s3", endpoint_url=endpoint).upload_file(str(path), bucket, "bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, S3Server(buckets=["bench"]) as server:
        path = Path(tmp) / "data"
        with path.open("wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(MiB))
        session = boto3.Session(
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
            region_name=server.region,
        )
        external = subprocess.Popen(
            [sys.executable, "-m", "resilient_s3", "chaos", "--upstream", server.endpoint_url],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert external.stdout is not None
        external_url = json.loads(external.stdout.readline())["endpoint_url"]
        clients: dict[str, Callable[[boto3.Session, str, Path, str], None]] = {
            "resilient-s3": resilient_upload,
            "boto3": boto3_upload,
        }
        rates: dict[tuple[str, str], list[float]] = {}
        try:
            with ChaosProxy(server.endpoint_url) as inproc:
                routes = {
                    "direct": server.endpoint_url,
                    "proxy in process": inproc.endpoint_url,
                    "proxy own process": external_url,
                }
                for round_ in range(args.rounds):
                    for client_name, upload in clients.items():
                        for route, endpoint in routes.items():
                            started = time.perf_counter()
                            upload(session, endpoint, path, "bench")
                            rate = args.size_mib / (time.perf_counter() - started)
                            rates.setdefault((client_name, route), []).append(rate)
                    print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            external.terminate()
            external.wait()

    print(f"\n{args.size_mib} MiB upload, median of {args.rounds} rounds (MiB/s, ratio to direct)")
    print(f"{'client':<14}{'route':<20}{'MiB/s':>8}{'ratio':>8}")
    for (client_name, route), values in rates.items():
        median = statistics.median(values)
        direct = statistics.median(rates[(client_name, "direct")])
        print(f"{client_name:<14}{route:<20}{median:>8.1f}{median / direct:>8.2f}")


if __name__ == "__main__":
    main()
