"""Client CPU of the control calls one multipart upload makes, by the two ways to make them
without aiobotocore: botocore's own (sync) client in a worker thread, or botocore's
serializer and parser over resilient-s3's HTTP path (what the library does).

    python benchmarks/control_calls.py [--rounds 5] [--calls 200]

Against the embedded SeaweedFS on loopback. Each round makes ``--calls`` pairs of
CreateMultipartUpload + AbortMultipartUpload (the shape of a multipart upload's create and
complete) one way and then the other, alternating, and prints CPU milliseconds per pair
(``getrusage`` of this process: both ways run here, the server apart). A single PUT makes no
control call either way, so small files cost the same.
"""

from __future__ import annotations

import argparse
import functools
import resource
import statistics
import time
from collections.abc import Awaitable, Callable

import anyio
import boto3
from botocore.config import Config

from resilient_s3 import UploadConfig
from resilient_s3._auth.clock import ServerClock
from resilient_s3._auth.credentials import CredentialOwner
from resilient_s3._auth.signer import RequestSigner
from resilient_s3._s3.errors import Where
from resilient_s3._s3.session import SessionSettings, make_client, resolve_session
from resilient_s3._s3.transport import S3Transport
from resilient_s3.testing import S3Server

BUCKET = "control-calls"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(pairs: int, one_pair: Callable[[int], Awaitable[None]]) -> float:
    """CPU milliseconds per pair, ``pairs`` pairs at 8 at a time."""
    started = cpu()
    limiter = anyio.CapacityLimiter(8)

    async def bounded(n: int) -> None:
        async with limiter:
            await one_pair(n)

    async with anyio.create_task_group() as tg:
        for n in range(pairs):
            tg.start_soon(bounded, n)
    return (cpu() - started) / pairs * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    options = parser.parse_args()

    with S3Server(buckets=[BUCKET]) as server:
        session = boto3.Session(
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
            region_name=server.region,
        )
        # (a) botocore's client, retries off, in worker threads.
        client = session.client(
            "s3",
            endpoint_url=server.endpoint_url,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"total_max_attempts": 1, "mode": "standard"},
                max_pool_connections=8,
            ),
        )

        def client_pair(n: int) -> None:
            key = f"a/{n}"
            upload = client.create_multipart_upload(
                Bucket=BUCKET, Key=key, ChecksumAlgorithm="CRC64NVME"
            )
            client.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"])

        async def botocore_client(n: int) -> None:
            await anyio.to_thread.run_sync(functools.partial(client_pair, n))

        # (b) the library's path: botocore's model, serializer and parser, our HTTP and signer.
        settings = SessionSettings(endpoint_url=server.endpoint_url)
        resolved = await resolve_session(session)
        clock = ServerClock()
        transport = S3Transport(
            make_client(resolved, settings, timeouts=UploadConfig()),
            RequestSigner(CredentialOwner(resolved.credentials), clock),
            max_connections=8,
            connect_timeout=10,
            read_timeout=60,
            verify=None,
        )

        async def own_path(n: int) -> None:
            key = f"b/{n}"
            where = Where(BUCKET, key)
            upload = await transport.call(
                "CreateMultipartUpload",
                where,
                Bucket=BUCKET,
                Key=key,
                ChecksumAlgorithm="CRC64NVME",
            )
            await transport.call(
                "AbortMultipartUpload", where, Bucket=BUCKET, Key=key, UploadId=upload["UploadId"]
            )

        await measure(20, botocore_client)  # warm both: models, connections, threads
        await measure(20, own_path)
        figures: dict[str, list[float]] = {"botocore client in threads": [], "resilient-s3": []}
        for _ in range(options.rounds):
            figures["botocore client in threads"].append(
                await measure(options.calls, botocore_client)
            )
            figures["resilient-s3"].append(await measure(options.calls, own_path))
        await transport.close()
        client.close()

    print(f"CPU ms per create + abort pair, median of {options.rounds} rounds of {options.calls}:")
    for name, values in figures.items():
        print(
            f"  {name:28} {statistics.median(values):6.2f}"
            f"   (all rounds: {', '.join(f'{v:.2f}' for v in values)})"
        )
    ours = statistics.median(figures["resilient-s3"])
    theirs = statistics.median(figures["botocore client in threads"])
    print(f"  ratio: {theirs / ours:.1f}x less CPU on resilient-s3's path")


if __name__ == "__main__":
    started = time.perf_counter()
    anyio.run(main)
    print(f"({time.perf_counter() - started:.0f} s)")
