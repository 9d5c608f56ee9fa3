"""Peak memory does not grow with file size: a 1 GiB upload in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from resilient_s3.testing import S3Server

MiB = 1024 * 1024
PART_SIZE = 8 * MiB
CONCURRENCY = 4
# What the process holds besides part buffers, measured before the upload starts (interpreter,
# boto3/aiobotocore models, aiohttp): the bound below is that baseline plus the buffers plus
# this much for sockets, the event loop and allocator slack.
SLACK = 64 * MiB

CHILD = textwrap.dedent(
    """
    import json, sys, boto3
    from resilient_s3 import ResilientUploader, UploadConfig

    def rss_peak():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

    endpoint, access, secret, bucket, path, part, conc = sys.argv[1:]
    session = boto3.Session(aws_access_key_id=access, aws_secret_access_key=secret,
                            region_name="us-east-1")
    config = UploadConfig(part_size=int(part), max_concurrency=int(conc))
    with ResilientUploader(session=session, endpoint_url=endpoint, config=config) as up:
        up.upload_fileobj(__import__("io").BytesIO(b"warm-up"), bucket, "warm-up")
        baseline = rss_peak()
        result = up.upload_file(path, bucket, "big")
    print(json.dumps({"baseline": baseline, "peak": rss_peak(), "size": result.size,
                      "parts": result.parts}))
    """
)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_peak_rss_of_a_1_gib_upload(s3_server: S3Server, s3_bucket: str, tmp_path: Path) -> None:
    big = tmp_path / "big"
    with big.open("wb") as f:
        block = bytes(range(256)) * 4096  # 1 MiB, not all zeros
        for _ in range(1024):
            f.write(block)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            s3_server.endpoint_url,
            s3_server.access_key,
            s3_server.secret_key,
            s3_bucket,
            str(big),
            str(PART_SIZE),
            str(CONCURRENCY),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=280,
    )
    report = json.loads(out.stdout)
    assert report["size"] == 1024 * MiB
    buffers = PART_SIZE * (CONCURRENCY + 2)
    growth = report["peak"] - report["baseline"]
    assert growth <= buffers + SLACK, (
        f"peak grew by {growth / MiB:.0f} MiB over a {report['baseline'] / MiB:.0f} MiB baseline; "
        f"allowed {(buffers + SLACK) / MiB:.0f} MiB"
    )
