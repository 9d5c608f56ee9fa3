"""Uploads under faults: the chaos proxy in front of the real SeaweedFS server.

Each scenario of issue 5, run with resilient-s3; ``benchmarks/resilience_vs_boto3.py`` runs the
same scenarios with plain boto3 for the comparison table in docs/resilience.md.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resilient_s3 import (
    AsyncResilientUploader,
    DirectoryUploadError,
    RetriesExhaustedError,
    S3RequestError,
    SourceChangedError,
    UploadConfig,
)
from resilient_s3.testing import (
    ChaosProxy,
    CredentialVendor,
    Fault,
    FaultKind,
    S3Server,
    skewed_clock,
)
from s3_helpers import (
    Wrapped,
    admin_session,
    open_uploads,
    reader_session,
    stored_sha256,
    write_random,
)

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024


@pytest.fixture
def big_file(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "big.bin"
    return path, write_random(path, 200 * MiB)


async def test_multipart_and_small_files_land_under_heavy_faults(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path, big_file: tuple[Path, str]
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    digests = {f"s/{n:02d}": write_random(small / f"{n:02d}", 64 * 1024) for n in range(50)}
    path, digest = big_file
    with ChaosProxy(
        s3_server.endpoint_url,
        slowdown=0.15,
        too_many=0.05,
        internal_error=0.03,
        reset=0.03,
        reset_after=32 * 1024,
        seed=5,
    ) as proxy:
        async with AsyncResilientUploader(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url
        ) as up:
            result = await up.upload_file(path, s3_bucket, "big")
            results = await up.upload_directory(small, s3_bucket, prefix="s/")
            stats = up.stats
        injected = proxy.stats.faults
    assert result.strategy == "multipart"
    assert stored_sha256(s3_client, s3_bucket, "big") == digest
    for key, expected in digests.items():
        assert stored_sha256(s3_client, s3_bucket, key) == expected
    assert len(results) == 50
    retried = sum(result.retries.values()) + sum(sum(r.retries.values()) for r in results)
    assert retried == sum(stats.retries.values()) > 0
    assert set(stats.retries) <= {"throttled", "server-error", "network"}
    assert sum(injected.values()) >= retried  # every retry answers an injected fault
    assert stats.concurrency_decreases > 0  # throttling lowered the parts in flight
    assert open_uploads(s3_client, s3_bucket) == []


async def test_rotating_credentials_the_server_expires_early(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    # Keys live 10 s; the server refuses them 2 s before the client is told. The proxy's
    # bandwidth limit makes the upload last about 20 s: two rotations at least.
    path = tmp_path / "f"
    digest = write_random(path, 40 * MiB)
    with ChaosProxy(s3_server.endpoint_url, bandwidth=2 * MiB) as proxy:
        vendor = CredentialVendor(s3_server.identities, proxy, lifetime=10, server_early=2)
        config = UploadConfig(max_concurrency=4)
        async with AsyncResilientUploader(
            vendor.boto3_session(), endpoint_url=proxy.endpoint_url, config=config
        ) as up:
            result = await up.upload_file(path, s3_bucket, "rotated")
    assert stored_sha256(s3_client, s3_bucket, "rotated") == digest
    assert result.credential_refreshes >= 2
    assert len(vendor.issued) >= 3


async def test_a_credentials_callable_is_refreshed_when_the_server_rejects_it(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    digest = write_random(path, 24 * MiB)
    with ChaosProxy(s3_server.endpoint_url, bandwidth=4 * MiB) as proxy:
        # The server refuses keys after 1 s although the client is told 60 s: only the
        # server's ExpiredToken answers can make the client refresh.
        vendor = CredentialVendor(s3_server.identities, proxy, lifetime=60, server_early=59)

        async def credentials() -> dict[str, str]:
            return vendor.issue().as_metadata()

        async with AsyncResilientUploader(
            endpoint_url=proxy.endpoint_url,
            credentials=credentials,
            config=UploadConfig(max_concurrency=2),
        ) as up:
            result = await up.upload_file(path, s3_bucket, "callable")
        expired = proxy.stats.faults.get("expired_token", 0)
    assert stored_sha256(s3_client, s3_bucket, "callable") == digest
    assert expired > 0
    assert result.retries.get("credentials-expired", 0) == expired
    assert result.credential_refreshes >= 1


@pytest.mark.parametrize("skew", [20 * 60, -20 * 60], ids=["ahead", "behind"])
async def test_clock_skew_is_corrected_once(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path, skew: int
) -> None:
    path = tmp_path / "f"
    digest = write_random(path, 20 * MiB)
    with skewed_clock(skew):
        async with AsyncResilientUploader(
            admin_session(s3_server), endpoint_url=s3_server.endpoint_url
        ) as up:
            result = await up.upload_file(path, s3_bucket, "skewed")
            again = await up.upload_file(path, s3_bucket, "skewed-again")
    assert stored_sha256(s3_client, s3_bucket, "skewed") == digest
    assert result.retries == {"clock-skew": 1}
    assert result.clock_offset == pytest.approx(-skew, abs=5)
    assert again.retries == {}  # learned once, applied to every later request


async def test_a_lost_complete_answer_is_confirmed_by_head_object(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    digest = write_random(path, 20 * MiB)
    lost = Fault(FaultKind.LOSE_RESPONSE, 1.0, {"CompleteMultipartUpload"})
    with ChaosProxy(s3_server.endpoint_url, faults=[lost]) as proxy:
        async with AsyncResilientUploader(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url
        ) as up:
            result = await up.upload_file(path, s3_bucket, "lost")
        stats = proxy.stats
    assert stats.forwarded["CompleteMultipartUpload"] == 3  # every answer lost
    assert stats.requests["HeadObject"] == 1
    assert result.retries == {"network": 2}
    assert stored_sha256(s3_client, s3_bucket, "lost") == digest
    head = s3_client.head_object(Bucket=s3_bucket, Key="lost")
    assert result.etag == head["ETag"]
    assert result.size == head["ContentLength"]
    assert open_uploads(s3_client, s3_bucket) == []


async def test_a_complete_that_never_arrives_is_a_failure(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    write_random(path, 20 * MiB)
    never = Fault(FaultKind.RESET, 1.0, {"CompleteMultipartUpload"}, after_bytes=0)
    with ChaosProxy(s3_server.endpoint_url, faults=[never]) as proxy:
        async with AsyncResilientUploader(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url
        ) as up:
            with pytest.raises(RetriesExhaustedError) as raised:
                await up.upload_file(path, s3_bucket, "never")
        stats = proxy.stats
    assert raised.value.diagnosis is not None
    assert raised.value.diagnosis.cause == "network"
    assert raised.value.upload_id is not None
    assert stats.requests["HeadObject"] == 1
    assert stats.requests["AbortMultipartUpload"] == 1
    assert "Contents" not in s3_client.list_objects_v2(Bucket=s3_bucket)
    assert open_uploads(s3_client, s3_bucket) == []


async def test_a_part_damaged_in_transit_is_sent_again(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    digest = write_random(path, 20 * MiB)
    flip = Fault(FaultKind.CORRUPT, 1.0, {"UploadPart"}, after_bytes=12345, limit=1)
    with ChaosProxy(s3_server.endpoint_url, faults=[flip]) as proxy:
        async with AsyncResilientUploader(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url
        ) as up:
            result = await up.upload_file(path, s3_bucket, "flipped")
    assert result.retries == {"bad-digest": 1}
    assert stored_sha256(s3_client, s3_bucket, "flipped") == digest


async def test_a_file_changed_under_a_bad_digest_is_not_resent(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    write_random(path, 20 * MiB)
    flip = Fault(FaultKind.CORRUPT, 1.0, {"UploadPart"}, limit=1)

    class ChangeAfterBadDigest(Wrapped):
        async def upload_part(self, *args: Any) -> Any:
            try:
                return await self.inner.upload_part(*args)
            except S3RequestError as exc:
                if exc.code == "BadDigest":
                    with path.open("r+b") as f:  # what a writer does before the re-read
                        f.write(b"changed!")
                raise

    with ChaosProxy(s3_server.endpoint_url, faults=[flip]) as proxy:
        async with AsyncResilientUploader(
            admin_session(s3_server),
            endpoint_url=proxy.endpoint_url,
            config=UploadConfig(max_concurrency=1),
            _backend=ChangeAfterBadDigest,
        ) as up:
            with pytest.raises(SourceChangedError):
                await up.upload_file(path, s3_bucket, "changed")
    assert open_uploads(s3_client, s3_bucket) == []


# -- permanent failures: fast, diagnosed, nothing left open -----------------------------------


@pytest.fixture
def counting_proxy(s3_server: S3Server) -> Iterator[ChaosProxy]:
    with ChaosProxy(s3_server.endpoint_url) as proxy:
        yield proxy


@pytest.mark.parametrize("size", [1 * MiB, 20 * MiB], ids=["single", "multipart"])
@pytest.mark.parametrize(
    ("case", "cause"),
    [
        ("wrong-secret", "signature-mismatch"),
        ("missing-bucket", "no-such-bucket"),
        ("no-permission", "permission-denied"),
    ],
)
async def test_permanent_errors_fail_fast_with_a_diagnosis(
    s3_server: S3Server,
    s3_bucket: str,
    s3_client: Any,
    counting_proxy: ChaosProxy,
    tmp_path: Path,
    case: str,
    cause: str,
    size: int,
) -> None:
    path = tmp_path / "f"
    write_random(path, size)
    session = {
        "wrong-secret": admin_session(s3_server, secret="not-the-secret"),
        "missing-bucket": admin_session(s3_server),
        "no-permission": reader_session(s3_server),
    }[case]
    bucket = "no-such-bucket-here" if case == "missing-bucket" else s3_bucket
    async with AsyncResilientUploader(session, endpoint_url=counting_proxy.endpoint_url) as up:
        with pytest.raises(S3RequestError) as raised:
            await up.upload_file(path, bucket, "denied")
    error = raised.value
    assert not isinstance(error, RetriesExhaustedError)
    assert error.diagnosis is not None
    assert error.diagnosis.cause == cause, error
    assert error.attempts == 1
    assert sum(counting_proxy.stats.requests.values()) <= 2
    assert open_uploads(s3_client, s3_bucket) == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_endpoint_that_dies_fails_in_bounded_time_without_storming(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    for n in range(40):
        (tmp_path / f"{n:02d}").write_bytes(b"x" * 1024)
    proxy = ChaosProxy(s3_server.endpoint_url).start()
    async with AsyncResilientUploader(
        admin_session(s3_server), endpoint_url=proxy.endpoint_url
    ) as up:
        await up.upload_file(tmp_path / "00", s3_bucket, "first")  # the endpoint answered once
        proxy.stop()  # then nothing listens there any more
        with pytest.raises(DirectoryUploadError) as raised:
            await up.upload_directory(tmp_path, s3_bucket)
        stats = up.stats
    assert len(raised.value.failures) == 40
    assert all(
        f.diagnosis and f.diagnosis.cause == "network" for f in raised.value.failures.values()
    )
    # 500 tokens at 5 per retry: at most 100 retries across all 40 files, then final at once.
    assert stats.retries["network"] <= 100
    assert stats.attempts <= 1 + 40 + 100
    assert stats.retry_budget < 5


async def test_a_wrong_endpoint_fails_fast_and_says_so(s3_server: S3Server, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 1024)
    endpoint = f"http://127.0.0.1:{closed_port()}"
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with AsyncResilientUploader(
        admin_session(s3_server), endpoint_url=endpoint, _sleep=sleep
    ) as up:
        with pytest.raises(RetriesExhaustedError) as raised:
            await up.upload_file(tmp_path / "f", "bucket", "k")
    error = raised.value
    assert error.attempts == 3  # a short, bounded retry: the endpoint never answered
    assert len(sleeps) == 2
    assert sum(sleeps) < 1
    assert error.diagnosis is not None
    assert error.diagnosis.cause == "network"
    assert "nothing accepts connections at 127.0.0.1:" in error.diagnosis.summary
    assert "check the endpoint URL" in str(error)


async def test_no_secret_reaches_logs_errors_or_the_journal_under_faults(
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import base64
    import logging

    path = tmp_path / "f"
    write_random(path, 20 * MiB)
    key = os.urandom(32)
    sse_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    faults = [
        Fault(FaultKind.SLOWDOWN, 0.3),
        Fault(FaultKind.CORRUPT, 1.0, {"UploadPart"}, limit=1),
        Fault(FaultKind.EXPIRED_TOKEN, 1.0, {"CompleteMultipartUpload"}),  # never succeeds
    ]
    journal = tmp_path / "journal"
    config = UploadConfig(max_attempts=3, journal_dir=str(journal))
    caplog.set_level(logging.DEBUG, logger="resilient_s3")
    with ChaosProxy(s3_server.endpoint_url, faults=faults, seed=3) as proxy:
        async with AsyncResilientUploader(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url, config=config
        ) as up:
            with pytest.raises(S3RequestError) as raised:
                await up.upload_file(path, s3_bucket, "secret", dict(sse_c))
            # Our own log records (botocore's DEBUG logs show every request's headers, for any
            # boto3 user; they are botocore's).
            ours = [r.getMessage() for r in caplog.records if r.name.startswith("resilient_s3")]
            seen = [*ours, str(raised.value), repr(raised.value), repr(up), repr(up.stats)]
            error: BaseException | None = raised.value
            while error is not None:
                seen += [str(error), repr(error)]
                error = error.__cause__ or error.__context__
            seen += [p.read_text() for p in journal.rglob("*") if p.is_file()]
    secrets = [s3_server.secret_key, key.hex(), base64.b64encode(key).decode(), "Signature="]
    for text in seen:
        for secret in secrets:
            assert secret not in text
