"""Where the library meets what it does not control, against real servers: a CA bundle that
is not there, a malformed endpoint, and a server whose answer to a conditional PUT was lost
(the checksum is confirmed only by what HeadObject reports then)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resilient_s3 import (
    AsyncResilientUploader,
    IntegrityError,
    InvalidUploadError,
    UploadConfig,
    UploadEvent,
)
from resilient_s3.testing import ChaosProxy, Fault, FaultKind, S3Server
from s3_helpers import Wrapped, admin_session, cli_env, stored_sha256, write_random

CLI = [sys.executable, "-m", "resilient_s3"]
MISSING = "/nonexistent/ca.pem"
EXIT_USAGE = 2


@pytest.fixture(scope="module")
def tls_server() -> Iterator[S3Server]:
    pytest.importorskip("trustme")
    with S3Server(buckets=["tls-bucket"], tls=True) as server:
        yield server


# -- a CA bundle that is not there ---------------------------------------------------------------


@pytest.mark.anyio
async def test_a_missing_ca_bundle_is_one_clear_error_not_a_network_fault(
    tls_server: S3Server, tmp_path: Path
) -> None:
    (tmp_path / "f").write_bytes(b"over https")
    events: list[UploadEvent] = []
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    up = AsyncResilientUploader(
        admin_session(tls_server),
        endpoint_url=tls_server.endpoint_url,
        verify=MISSING,
        on_event=events.append,
        _sleep=sleep,
    )
    try:
        with pytest.raises(InvalidUploadError) as raised:
            await up.upload_file(tmp_path / "f", "tls-bucket", "f")
    finally:
        await up.aclose()
    assert f"the CA bundle {MISSING!r} (verify=) does not exist" in raised.value.message
    assert raised.value.diagnosis is not None
    assert not raised.value.diagnosis.retryable
    assert [e for e in events if e.kind == "retry"] == []
    assert sleeps == []
    assert "Contents" not in tls_server.boto3_client().list_objects_v2(Bucket="tls-bucket")


def test_the_cli_exits_2_at_once_for_a_missing_aws_ca_bundle(
    tls_server: S3Server, tmp_path: Path
) -> None:
    (tmp_path / "f").write_bytes(b"over https")
    argv = [*CLI, "put", str(tmp_path / "f"), "s3://tls-bucket/f"]
    argv += ["--endpoint-url", tls_server.endpoint_url]
    started = time.monotonic()
    done = subprocess.run(
        argv,
        env=cli_env(tls_server, AWS_CA_BUNDLE=MISSING),
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == EXIT_USAGE, done.stderr
    assert f"the CA bundle {MISSING!r} (AWS_CA_BUNDLE" in done.stderr
    assert "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    assert "retr" not in done.stderr.lower().replace("retryable: no", "")
    assert elapsed < 15  # it was 10 attempts over about 24 s; now nothing is sent


def test_over_http_a_stale_aws_ca_bundle_does_not_matter(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    """As with botocore: the bundle is read for https only."""
    (tmp_path / "f").write_bytes(b"over http")
    argv = [*CLI, "put", str(tmp_path / "f"), f"s3://{s3_bucket}/f"]
    argv += ["--endpoint-url", s3_server.endpoint_url]
    done = subprocess.run(
        argv,
        env=cli_env(s3_server, AWS_CA_BUNDLE=MISSING),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert s3_client.get_object(Bucket=s3_bucket, Key="f")["Body"].read() == b"over http"


# -- a malformed endpoint ------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://[::1", "https://[::1/"])
def test_the_cli_refuses_a_malformed_endpoint_without_a_traceback(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, url: str
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    argv = [*CLI, "put", str(tmp_path / "f"), f"s3://{s3_bucket}/f", "--endpoint-url", url]
    done = subprocess.run(argv, env=cli_env(s3_server), capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_USAGE, done.stderr
    assert "Traceback" not in done.stderr
    assert f"endpoint URL {url!r} is not an http:// or https:// URL with a host" in done.stderr


# -- a conditional PUT whose answer was lost -----------------------------------------------------


def lost_put() -> Fault:
    """The first PutObject lands, its answer is lost: the retry is refused (412) by it."""
    return Fault(FaultKind.LOSE_RESPONSE, 1.0, {"PutObject"}, limit=1)


def checksum_keys(head: dict[str, Any]) -> list[str]:
    return [k for k in head if k.startswith("Checksum") and k != "ChecksumType"]


class HeadWithoutChecksum(Wrapped):
    """A server whose HeadObject reports no checksum (as some S3 implementations)."""

    async def head_object(self, *args: Any) -> Any:
        head = await self.inner.head_object(*args)
        if head is not None:
            for name in checksum_keys(head):
                del head[name]
        return head


class HeadWithOtherChecksum(Wrapped):
    """A server whose HeadObject reports another checksum than was sent."""

    async def head_object(self, *args: Any) -> Any:
        head = await self.inner.head_object(*args)
        if head is not None:
            for name in checksum_keys(head):
                head[name] = "AAAAAAAAAAA="
        return head


async def upload_losing_the_answer(
    server: S3Server,
    bucket: str,
    path: Path,
    key: str,
    backend: Any = None,
    config: UploadConfig | None = None,
) -> Any:
    with ChaosProxy(server.endpoint_url, faults=[lost_put()]) as proxy:
        async with AsyncResilientUploader(
            admin_session(server), endpoint_url=proxy.endpoint_url, config=config, _backend=backend
        ) as up:
            result = await up.upload_file(path, bucket, key, overwrite=False)
        assert proxy.stats.requests["HeadObject"] >= 1
    return result


@pytest.mark.anyio
async def test_a_lost_conditional_put_is_confirmed_by_the_checksum_head_object_reports(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    digest = write_random(path, 256 * 1024)
    result = await upload_losing_the_answer(s3_server, s3_bucket, path, "k")
    head = s3_client.head_object(Bucket=s3_bucket, Key="k", ChecksumMode="ENABLED")
    reported = head.get(f"Checksum{result.checksum.algorithm}")
    assert result.retries == {"network": 1}
    assert stored_sha256(s3_client, s3_bucket, "k") == digest
    assert result.checksum.confirmed is (reported is not None)
    if reported is not None:
        assert reported == result.checksum.value


@pytest.mark.anyio
async def test_a_lost_conditional_put_is_not_confirmed_by_a_head_without_checksum(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    digest = write_random(path, 256 * 1024)
    result = await upload_losing_the_answer(s3_server, s3_bucket, path, "k", HeadWithoutChecksum)
    assert stored_sha256(s3_client, s3_bucket, "k") == digest
    assert result.retries == {"network": 1}
    assert result.checksum.confirmed is False  # nothing the server said vouches for it


@pytest.mark.anyio
async def test_a_lost_conditional_put_whose_head_reports_another_checksum_fails_loudly(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    write_random(path, 256 * 1024)
    probe = s3_server.boto3_client()
    probe.put_object(Bucket=s3_bucket, Key="probe", Body=b"x", ChecksumAlgorithm="CRC32")
    head = probe.head_object(Bucket=s3_bucket, Key="probe", ChecksumMode="ENABLED")
    if not checksum_keys(head):
        pytest.skip("this server's HeadObject reports no checksum to alter")
    # The token proves the object is this upload's; the checksum then says it is damaged.
    # (Without the token, another checksum means another writer's object: ObjectExistsError.)
    with pytest.raises(IntegrityError, match="finds the object this PUT wrote, but its"):
        await upload_losing_the_answer(
            s3_server,
            s3_bucket,
            path,
            "k",
            HeadWithOtherChecksum,
            UploadConfig(completion_token=True),
        )
