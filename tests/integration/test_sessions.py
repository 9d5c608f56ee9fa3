"""The sessions users already have: boto3, botocore, aiobotocore, aioboto3, refreshable keys."""

from __future__ import annotations

import datetime
import io
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.credentials import RefreshableCredentials

from resilient_s3 import (
    AsyncResilientUploader,
    CredentialRefreshError,
    InvalidUploadError,
    ResilientUploader,
    UploadConfig,
)
from resilient_s3.testing import S3Server

pytestmark = pytest.mark.anyio


def botocore_session(srv: S3Server) -> Any:
    session = botocore.session.get_session()
    session.set_credentials(srv.access_key, srv.secret_key)
    session.set_config_variable("region", srv.region)
    return session


def aio_session(srv: S3Server) -> Any:
    # Not a dependency (it pins botocore tightly); users who have it may pass its sessions.
    aiobotocore = pytest.importorskip("aiobotocore.session")
    session = aiobotocore.AioSession()
    session.set_credentials(srv.access_key, srv.secret_key)
    session.set_config_variable("region", srv.region)
    return session


async def test_botocore_session(s3_server: S3Server, s3_bucket: str, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"botocore")
    async with AsyncResilientUploader(
        session=botocore_session(s3_server), endpoint_url=s3_server.endpoint_url
    ) as up:
        result = await up.upload_file(tmp_path / "f", s3_bucket, "k")
    assert result.size == 8


async def test_aiobotocore_session(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    (tmp_path / "f").write_bytes(b"aiobotocore" * 1_000_000)
    async with AsyncResilientUploader(
        session=aio_session(s3_server), endpoint_url=s3_server.endpoint_url
    ) as up:
        result = await up.upload_file(tmp_path / "f", s3_bucket, "k")
    assert result.strategy == "multipart"
    body = s3_client.get_object(Bucket=s3_bucket, Key="k")["Body"].read()
    assert body == (tmp_path / "f").read_bytes()


async def test_aioboto3_session(s3_server: S3Server, s3_bucket: str, tmp_path: Path) -> None:
    aioboto3 = pytest.importorskip("aioboto3", minversion="13")
    session = aioboto3.Session(
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        region_name=s3_server.region,
    )
    (tmp_path / "f").write_bytes(b"aioboto3")
    async with AsyncResilientUploader(session=session, endpoint_url=s3_server.endpoint_url) as up:
        result = await up.upload_file(tmp_path / "f", s3_bucket, "k")
    assert result.size == 8


def test_refreshable_credentials_from_a_custom_provider(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    """Credentials that expire soon are refreshed through the provider, off the event loop."""
    calls: list[int] = []

    def fetch() -> dict[str, str]:
        calls.append(1)
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
        return {
            "access_key": s3_server.access_key,
            "secret_key": s3_server.secret_key,
            "token": "",
            "expiry_time": expiry.isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method="custom-process"
    )
    session = botocore.session.get_session()
    session._credentials = credentials  # what a custom CredentialProvider would install
    session.set_config_variable("region", s3_server.region)
    (tmp_path / "f").write_bytes(b"x" * (9 * 1024 * 1024))
    with ResilientUploader(
        session=boto3.Session(botocore_session=session),
        endpoint_url=s3_server.endpoint_url,
        config=UploadConfig(max_concurrency=2),
    ) as up:
        result = up.upload_file(tmp_path / "f", s3_bucket, "refreshing")
    assert result.strategy == "multipart"
    # 5 minutes left is inside botocore's refresh window: every signing asked the provider.
    assert len(calls) > 1
    assert result.credential_refreshes == len(calls) - 1


def test_not_a_session() -> None:
    with pytest.raises(InvalidUploadError, match="session must be"):  # noqa: SIM117
        with ResilientUploader(session=object(), endpoint_url="http://127.0.0.1:9"):  # type: ignore[arg-type]
            pass


async def test_a_bad_session_fails_when_the_uploader_opens() -> None:
    uploader = AsyncResilientUploader(session=object(), endpoint_url="http://127.0.0.1:9")  # type: ignore[arg-type]
    with pytest.raises(InvalidUploadError, match="session must be"):
        await uploader.upload_fileobj(io.BytesIO(b"x"), "bucket", "key")
    await uploader.aclose()


def test_secrets_stay_out_of_reprs(s3_server: S3Server) -> None:
    session = boto3.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="very-secret-key",
        aws_session_token="very-secret-token",
        region_name="us-east-1",
    )
    with ResilientUploader(session=session, endpoint_url=s3_server.endpoint_url) as up:
        text = repr(up) + repr(up.config)
    assert "very-secret" not in text


async def test_a_failing_credentials_callable_is_named_as_the_cause(
    s3_server: S3Server, s3_bucket: str
) -> None:
    def provider() -> dict[str, str]:
        raise RuntimeError("the identity provider is down")

    with pytest.raises(CredentialRefreshError) as raised:
        async with AsyncResilientUploader(
            credentials=provider, endpoint_url=s3_server.endpoint_url, region_name="us-east-1"
        ) as up:
            await up.upload_fileobj(io.BytesIO(b"x"), s3_bucket, "k")
    diagnosis = raised.value.diagnosis
    assert diagnosis is not None
    assert diagnosis.cause == "credential-provider-failed"  # not "credentials-expired"
    assert "the identity provider is down" in str(raised.value)
