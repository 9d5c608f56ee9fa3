"""Events for metrics: what an uploader reports, and the documented Prometheus example run
through injected faults, counting exactly the retries the faults caused."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from resilient_s3 import (
    EventKind,
    PresignedRequest,
    PresignedUploader,
    Presigner,
    ResilientUploader,
    SignRequest,
    UploadConfig,
    UploadError,
    UploadEvent,
)
from resilient_s3.testing import (
    ChaosProxy,
    CredentialVendor,
    Fault,
    FaultKind,
    S3Server,
    skewed_clock,
)
from s3_helpers import admin_session, cli_env, write_random

MiB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]


def example(document: str, containing: str) -> str:
    text = (ROOT / document).read_text()
    blocks: list[str] = re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)
    return next(block for block in blocks if containing in block)


def test_an_upload_reports_every_step(s3_server: S3Server, s3_bucket: str, tmp_path: Path) -> None:
    write_random(tmp_path / "f", 20 * MiB)
    seen: list[UploadEvent] = []
    faults = [Fault(FaultKind.SLOWDOWN, 1.0, {"UploadPart"}, limit=2)]
    with (
        ChaosProxy(s3_server.endpoint_url, faults=faults) as proxy,
        ResilientUploader(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url, on_event=seen.append
        ) as up,
    ):
        result = up.upload_file(tmp_path / "f", s3_bucket, "f")
    kinds = [event.kind for event in seen]
    assert kinds[0] is EventKind.STARTED
    assert kinds[-1] is EventKind.COMPLETED
    assert kinds.count(EventKind.PART_DONE) == 3
    retries = [event for event in seen if event.kind is EventKind.RETRY]
    assert len(retries) == 2 == sum(result.retries.values())
    assert {event.cause for event in retries} == {"throttled"}
    assert all(event.part_number is not None and event.seconds is not None for event in retries)
    done = seen[-1]
    assert (done.size, done.parts, done.strategy) == (20 * MiB, 3, "multipart")
    assert sum(e.size or 0 for e in seen if e.kind is EventKind.PART_DONE) == 20 * MiB


def test_a_failure_is_reported_with_its_cause_and_a_raising_callback_is_ignored(
    s3_server: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    seen: list[UploadEvent] = []

    def record(event: UploadEvent) -> None:
        seen.append(event)
        raise RuntimeError("a broken metrics exporter")

    with (
        ResilientUploader(
            admin_session(s3_server), endpoint_url=s3_server.endpoint_url, on_event=record
        ) as up,
        pytest.raises(UploadError),
    ):
        up.upload_file(tmp_path / "f", "no-such-bucket-here", "k")
    assert [event.kind for event in seen] == [EventKind.STARTED, EventKind.FAILED]
    assert seen[-1].cause == "no-such-bucket"
    assert "the on_event callback raised" in caplog.text


def test_presigned_uploads_report_renewed_urls_as_retries(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    write_random(tmp_path / "f", 12 * MiB)
    seen: list[UploadEvent] = []
    expired: list[PresignedRequest] = []
    with Presigner(admin_session(s3_server), endpoint_url=s3_server.endpoint_url) as signer:

        def sign(request: SignRequest) -> Any:
            if request.action == "part" and request.part_number == 2 and not expired:
                # Part 2's first URL lives 1 s and is handed out once that is over, while
                # the uploader is told it has an hour left: sent as it is, S3 refuses it as
                # expired, and only asking for it again can store the part.
                url = signer.answer(request, bucket=s3_bucket, part_expires_in=1)
                assert isinstance(url, PresignedRequest)
                time.sleep(max(url.expires_at.timestamp() - time.time(), 0) + 1.5)
                expired.append(url)
                return dataclasses.replace(url, expires_in=3600)
            return signer.answer(request, bucket=s3_bucket)

        config = UploadConfig(multipart_threshold=5 * MiB, part_size=5 * MiB)
        with PresignedUploader(sign, config, on_event=seen.append) as up:
            result = up.upload_file(tmp_path / "f", "f")
    assert len(expired) == 1  # the URL above was handed out
    kinds = [event.kind for event in seen]
    assert kinds.count(EventKind.PART_DONE) == 3
    assert kinds[-1] is EventKind.COMPLETED
    retries = [event for event in seen if event.kind is EventKind.RETRY]
    assert [(event.cause, event.part_number) for event in retries] == [("presigned-url-expired", 2)]
    assert result.retries == {"presigned-url-expired": 1}
    assert result.renewed_urls > 0


def test_credentials_the_server_expires_are_reported_refreshed(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    (tmp_path / "f").write_bytes(b"x" * 1000)
    seen: list[UploadEvent] = []
    with ChaosProxy(s3_server.endpoint_url) as proxy:
        # The client is told every key lives 10 minutes, but the server refuses the first one
        # from the start: only S3's ExpiredToken answer can make the uploader refresh.
        vendor = CredentialVendor(s3_server.identities, proxy, lifetime=600, server_early=600)

        def credentials() -> dict[str, str]:
            issued = vendor.issue()
            vendor.server_early = 0  # the keys after the first are good for their lifetime
            return issued.as_metadata()

        with ResilientUploader(
            endpoint_url=proxy.endpoint_url, credentials=credentials, on_event=seen.append
        ) as up:
            result = up.upload_file(tmp_path / "f", s3_bucket, "f")
        expired = proxy.stats.faults.get("expired_token", 0)
    assert expired == 1
    assert len(vendor.issued) == 2
    refreshed = [event for event in seen if event.kind is EventKind.CREDENTIALS_REFRESHED]
    assert [event.cause for event in refreshed] == ["expired"]
    retries = [event.cause for event in seen if event.kind is EventKind.RETRY]
    assert retries == ["credentials-expired"]
    assert result.credential_refreshes == 1
    assert seen[-1].kind is EventKind.COMPLETED


def test_a_skewed_clock_is_reported_corrected_once(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    write_random(tmp_path / "f", 12 * MiB)  # a multipart upload: several signed requests
    seen: list[UploadEvent] = []
    with (
        skewed_clock(-1800),  # this machine signs as if it were half an hour behind
        ResilientUploader(
            admin_session(s3_server), endpoint_url=s3_server.endpoint_url, on_event=seen.append
        ) as up,
    ):
        first = up.upload_file(tmp_path / "f", s3_bucket, "f")
        again = up.upload_file(tmp_path / "f", s3_bucket, "again")
    corrected = [event for event in seen if event.kind is EventKind.CLOCK_CORRECTED]
    assert len(corrected) == 1  # learned once, for every later request
    assert corrected[0].clock_offset == pytest.approx(1800, abs=60)
    assert [event.cause for event in seen if event.kind is EventKind.RETRY] == ["clock-skew"]
    assert first.retries == {"clock-skew": 1}
    assert again.retries == {}
    assert [event.kind for event in seen].count(EventKind.COMPLETED) == 2


def test_the_prometheus_example_counts_the_injected_faults(
    s3_server: S3Server, tmp_path: Path
) -> None:
    pytest.importorskip("prometheus_client")
    s3_server.create_bucket("my-bucket")
    (tmp_path / "video.mp4").write_bytes(os.urandom(9 * MiB))  # two parts
    code = example("docs/events.md", "prometheus_client")
    faults = [Fault(FaultKind.SLOWDOWN, 1.0, {"UploadPart"}, limit=3)]
    with ChaosProxy(s3_server.endpoint_url, faults=faults) as proxy:
        run = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env=cli_env(
                s3_server,
                AWS_ENDPOINT_URL=proxy.endpoint_url,
                RESILIENT_S3_JOURNAL_DIR=str(tmp_path / "journal"),
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        injected = proxy.stats.faults_by_operation.get(("UploadPart", "slowdown"), 0)
    assert run.returncode == 0, run.stderr
    assert injected == 3
    assert "parts: 2.0" in run.stdout
    assert f"throttled retries: {float(injected)}" in run.stdout
