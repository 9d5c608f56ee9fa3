"""Configuration that cannot work is refused where the uploader is made or opened, as one
InvalidUploadError, never as a traceback or a network fault retried for seconds: a malformed
endpoint URL, a CA bundle that cannot be loaded. No server here: nothing is sent."""

from __future__ import annotations

import io
import socket
from pathlib import Path
from typing import Any

import boto3
import pytest

from resilient_s3 import (
    AsyncPresignedUploader,
    AsyncResilientUploader,
    InvalidUploadError,
    Presigner,
    ResilientUploader,
    UploadEvent,
)
from resilient_s3._s3.errors import check_endpoint_url

pytestmark = pytest.mark.anyio

MALFORMED = ["http://[::1", "https://[::1/bucket", "http://]x", "http://[fe80::1%eth0"]


def session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1"
    )


def closed_port() -> int:
    """A local port nothing listens on: were a request sent, it would be refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- endpoint URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_endpoint_url_is_refused_like_any_bad_one(url: str) -> None:
    with pytest.raises(InvalidUploadError, match="is not an http:// or https:// URL") as raised:
        check_endpoint_url(url)
    assert raised.value.diagnosis is not None
    assert raised.value.diagnosis.cause == "invalid-configuration"
    assert url in str(raised.value)


@pytest.mark.parametrize("url", MALFORMED)
def test_the_facades_refuse_a_malformed_endpoint_url(url: str) -> None:
    for make in (AsyncResilientUploader, ResilientUploader, Presigner):
        with pytest.raises(InvalidUploadError, match="is not an http:// or https:// URL"):
            make(session(), endpoint_url=url)


# -- CA bundles ----------------------------------------------------------------------------------


class Watch:
    """What an uploader did: its events, and the waits between retries."""

    def __init__(self) -> None:
        self.events: list[UploadEvent] = []
        self.sleeps: list[float] = []

    def __call__(self, event: UploadEvent) -> None:
        self.events.append(event)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    @property
    def retries(self) -> list[UploadEvent]:
        return [e for e in self.events if e.kind == "retry"]


def unusable_bundles(tmp_path: Path) -> dict[str, str]:
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"not a certificate\n")
    return {
        "does not exist": "/nonexistent/ca.pem",
        "is a directory": str(tmp_path),
        "holds no PEM certificate": str(garbage),
    }


@pytest.mark.parametrize(
    "problem", ["does not exist", "is a directory", "holds no PEM certificate"]
)
async def test_an_unusable_ca_bundle_fails_at_open_and_is_never_retried(
    tmp_path: Path, problem: str
) -> None:
    path = unusable_bundles(tmp_path)[problem]
    watch = Watch()
    up = AsyncResilientUploader(
        session(),
        endpoint_url=f"https://127.0.0.1:{closed_port()}",
        verify=path,
        on_event=watch,
        _sleep=watch.sleep,
    )
    try:
        with pytest.raises(InvalidUploadError) as raised:
            await up.upload_fileobj(io.BytesIO(b"x"), "bucket", "key")  # opens on first use
    finally:
        await up.aclose()
    error = raised.value
    assert problem in error.message
    assert repr(path) in error.message
    assert "verify=" in error.message
    assert error.diagnosis is not None
    assert error.diagnosis.cause == "invalid-configuration"
    assert not error.diagnosis.retryable
    assert "AWS_CA_BUNDLE" in error.diagnosis.fixes[0]
    assert watch.retries == []
    assert watch.sleeps == []


async def test_a_missing_aws_ca_bundle_is_named_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", "/nonexistent/ca.pem")
    watch = Watch()
    up = AsyncResilientUploader(
        session(), endpoint_url=f"https://127.0.0.1:{closed_port()}", _sleep=watch.sleep
    )
    with pytest.raises(InvalidUploadError, match=r"'/nonexistent/ca\.pem' \(AWS_CA_BUNDLE"):
        await up.open()
    await up.aclose()
    assert watch.sleeps == []


def test_the_blocking_uploader_fails_at_open_too() -> None:
    up = ResilientUploader(
        session(), endpoint_url=f"https://127.0.0.1:{closed_port()}", verify="/nonexistent/ca.pem"
    )
    with pytest.raises(InvalidUploadError, match=r"/nonexistent/ca\.pem"), up:
        pass


async def test_the_presigned_uploader_refuses_an_unusable_ca_bundle_before_asking() -> None:
    asked = []

    def sign(request: object) -> None:
        asked.append(request)

    up = AsyncPresignedUploader(sign, verify="/nonexistent/ca.pem")
    with pytest.raises(InvalidUploadError, match=r"/nonexistent/ca\.pem"):
        await up.upload_fileobj(io.BytesIO(b"data"), "k")
    await up.aclose()
    assert asked == []


async def test_the_default_aws_endpoint_is_https_and_checked() -> None:
    up = AsyncResilientUploader(session(), verify="/nonexistent/ca.pem")
    with pytest.raises(InvalidUploadError, match="does not exist"):
        await up.open()
    await up.aclose()


async def test_over_http_no_ca_bundle_is_read() -> None:
    """As botocore: a bundle (AWS_CA_BUNDLE set for other work) matters only over https."""
    async with AsyncResilientUploader(
        session(), endpoint_url=f"http://127.0.0.1:{closed_port()}", verify="/nonexistent/ca.pem"
    ) as up:
        assert up.endpoint_url is not None


async def test_a_usable_ca_bundle_opens(tmp_path: Path) -> None:
    trustme: Any = pytest.importorskip("trustme")
    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    async with AsyncResilientUploader(
        session(), endpoint_url=f"https://127.0.0.1:{closed_port()}", verify=str(bundle)
    ) as up:
        assert up.endpoint_url is not None
