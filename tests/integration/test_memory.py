"""Peak memory does not grow with the object's size: 1 GiB from a file and from a stream."""

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
        from_file = up.upload_file(path, bucket, "from-file")
        after_file = rss_peak()
        with open(path, "rb") as stream:  # a stream: its parts are held in pooled buffers
            from_stream = up.upload_fileobj(stream, bucket, "from-stream")
    print(json.dumps({"baseline": baseline, "after_file": after_file, "peak": rss_peak(),
                      "sizes": [from_file.size, from_stream.size]}))
    """
)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_peak_rss_of_1_gib_uploads(s3_server: S3Server, s3_bucket: str, tmp_path: Path) -> None:
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
    assert report["sizes"] == [1024 * MiB, 1024 * MiB]
    # Files are re-read as they are sent: no part buffers at all.
    file_growth = report["after_file"] - report["baseline"]
    assert file_growth <= SLACK, f"a file upload grew the peak by {file_growth / MiB:.0f} MiB"
    # Streams hold at most max_concurrency + 2 parts.
    buffers = PART_SIZE * (CONCURRENCY + 2)
    growth = report["peak"] - report["baseline"]
    assert growth <= buffers + SLACK, (
        f"peak grew by {growth / MiB:.0f} MiB over a {report['baseline'] / MiB:.0f} MiB baseline; "
        f"allowed {(buffers + SLACK) / MiB:.0f} MiB"
    )


TREE_CHILD = textwrap.dedent(
    """
    import json, sys, boto3
    from resilient_s3 import ResilientUploader

    def rss_peak():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

    endpoint, access, secret, bucket, directory = sys.argv[1:]
    session = boto3.Session(aws_access_key_id=access, aws_secret_access_key=secret,
                            region_name="us-east-1")
    statuses = {}
    def on_file(outcome):
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    with ResilientUploader(session=session, endpoint_url=endpoint) as up:
        report = up.upload_tree(directory, bucket, "t/", on_file=on_file)
    print(json.dumps({"peak": rss_peak(), "uploaded": report.uploaded, "statuses": statuses}))
    """
)


def _tree_peak(server: S3Server, bucket: str, directory: Path) -> dict[str, object]:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            TREE_CHILD,
            server.endpoint_url,
            server.access_key,
            server.secret_key,
            bucket,
            str(directory),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=800,
    )
    report: dict[str, object] = json.loads(out.stdout)
    return report


def _small_files(directory: Path, count: int) -> None:
    directory.mkdir()
    for n in range(count):
        (directory / f"f{n:06d}").write_bytes(b"%06d" % n)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_peak_rss_of_a_directory_does_not_grow_with_its_files(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    """100,000 small files in one directory (the hardest case for a walk): the peak stays
    within 20 MiB of the peak at 1,000 files. Nothing is kept per file."""
    _small_files(tmp_path / "few", 1_000)
    _small_files(tmp_path / "many", 100_000)
    few = _tree_peak(s3_server, s3_bucket, tmp_path / "few")
    many = _tree_peak(s3_server, s3_bucket, tmp_path / "many")
    assert few["uploaded"] == 1_000
    assert many["uploaded"] == 100_000
    assert many["statuses"] == {"uploaded": 100_000}
    growth = int(str(many["peak"])) - int(str(few["peak"]))
    assert growth <= 20 * MiB, f"100,000 files peaked {growth / MiB:.1f} MiB above 1,000"
