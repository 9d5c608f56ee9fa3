"""Header values from a caller never reach the wire with a line break in them: a plain socket
listener stands in for S3 and records every byte, and a CR/LF in a content type, a metadata name
or value, or any extra_args header is refused, naming the argument, before anything is sent
(else a second request is smuggled onto the pooled keep-alive connection)."""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from resilient_s3 import (
    AsyncPresignedUploader,
    AsyncResilientUploader,
    InvalidUploadError,
    Presigner,
    UploadConfig,
)
from resilient_s3._s3.errors import Where
from resilient_s3._s3.session import SessionSettings, make_client, resolve_session
from resilient_s3._s3.transport import S3Transport
from resilient_s3._upload.body import MemoryBody
from s3_helpers import RawS3

pytestmark = pytest.mark.anyio

SMUGGLED = "image/png\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

EXTRA_ARGS: list[tuple[dict[str, Any], str]] = [
    ({"ContentType": SMUGGLED}, "extra_args['ContentType'] contains a line break (CR/LF)"),
    (
        {"ContentDisposition": "inline", "Metadata": {"owner": SMUGGLED}},
        "extra_args['Metadata']['owner'] contains a line break (CR/LF)",
    ),
    (
        {"Metadata": {"a: b\r\n\r\nGET /smuggled HTTP/1.1\r\nX-A": "v"}},
        "the metadata name of extra_args['Metadata']['a: b\\r\\n\\r\\nGET /smuggled HTTP/1.1\\r"
        "\\nX-A'] is not an HTTP token",
    ),
    ({"Tagging": "a=b\r\nGET /smuggled HTTP/1.1"}, "extra_args['Tagging'] contains a line"),
]


@pytest.fixture
def raw() -> Iterator[RawS3]:
    with RawS3() as listener:
        yield listener


def session(raw: RawS3) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=raw.access_key,
        aws_secret_access_key=raw.secret_key,
        region_name=raw.region,
    )


@pytest.mark.parametrize(("extra_args", "message"), EXTRA_ARGS)
@pytest.mark.parametrize("entry", ["upload_file", "upload_fileobj", "upload_directory"])
async def test_the_uploader_sends_nothing_for_extra_args_that_would_smuggle(
    raw: RawS3, tmp_path: Path, entry: str, extra_args: dict[str, Any], message: str
) -> None:
    (tmp_path / "photo.png").write_bytes(b"\x89PNG" * 100)
    async with AsyncResilientUploader(session(raw), endpoint_url=raw.endpoint_url) as up:
        photo, data = tmp_path / "photo.png", io.BytesIO(b"data")
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "upload_file": lambda: up.upload_file(photo, "bucket", "p", extra_args),
            "upload_fileobj": lambda: up.upload_fileobj(data, "bucket", "k", extra_args),
            "upload_directory": lambda: up.upload_directory(tmp_path, "bucket", "d/", extra_args),
        }
        with pytest.raises(InvalidUploadError, match=re.escape(message)) as refused:
            await calls[entry]()
    assert refused.value.bucket == "bucket"
    assert raw.received == b""  # not a single request


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"content_type": SMUGGLED}, "content_type contains a line break (CR/LF)"),
        *[({"extra_args": extra_args}, message) for extra_args, message in EXTRA_ARGS],
    ],
)
@pytest.mark.parametrize("call", ["create_multipart", "presign_put", "presign_upload"])
def test_the_presigner_sends_and_signs_nothing_that_would_smuggle(
    raw: RawS3, call: str, options: dict[str, Any], message: str
) -> None:
    with Presigner(session(raw), endpoint_url=raw.endpoint_url) as presigner:
        presigner.open()  # reads the server's time: a HEAD
        assert raw.requests == ["HEAD / HTTP/1.1"]
        size = {"create_multipart": {}, "presign_put": {}, "presign_upload": {"size": 1 << 30}}
        with pytest.raises(InvalidUploadError, match=re.escape(message)):
            getattr(presigner, call)("bucket", "k", **size[call], **options)
    assert raw.requests == ["HEAD / HTTP/1.1"]  # no CreateMultipartUpload
    assert b"smuggled" not in raw.received


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"content_type": SMUGGLED}, "content_type contains a line break (CR/LF)"),
        ({"metadata": {"owner": SMUGGLED}}, "metadata['owner'] contains a line break (CR/LF)"),
        ({"metadata": {"a\r\nb": "v"}}, "the metadata name of metadata['a\\r\\nb'] is not an"),
    ],
)
async def test_the_presigned_uploader_asks_for_nothing_that_would_smuggle(
    options: dict[str, Any], message: str
) -> None:
    asked: list[Any] = []
    async with AsyncPresignedUploader(asked.append) as up:
        with pytest.raises(InvalidUploadError, match=re.escape(message)):
            await up.upload_fileobj(io.BytesIO(b"data"), "k", **options)
    assert asked == []


async def transport_to(raw: RawS3) -> S3Transport:
    settings = SessionSettings(endpoint_url=raw.endpoint_url, region_name=raw.region)
    client = make_client(await resolve_session(session(raw)), settings, timeouts=UploadConfig())

    class Unsigned:
        async def sign(self, method: str, url: str, headers: Any, **_: Any) -> tuple[Any, int]:
            return dict(headers), 0

    return S3Transport(
        client, Unsigned(), max_connections=1, connect_timeout=5, read_timeout=5, verify=None
    )


async def test_requests_built_below_the_api_are_refused_by_the_http_client(raw: RawS3) -> None:
    """The last line of defence: a control call serialized by botocore, and a PUT with its
    extra_args, past every check of the API (a journal's extra_args, a future caller)."""
    transport = await transport_to(raw)
    where = Where("bucket", "k")
    try:
        with pytest.raises(InvalidUploadError, match="header 'x-amz-meta-owner' value contains"):
            await transport.call(
                "CreateMultipartUpload",
                where,
                Bucket="bucket",
                Key="k",
                Metadata={"owner": "x\r\nGET /smuggled HTTP/1.1"},
            )
        with pytest.raises(InvalidUploadError, match="header 'Content-Type' value contains"):
            await transport.send_body(
                "PutObject",
                where,
                {"ContentType": SMUGGLED},
                MemoryBody(memoryview(b"data")),
                {},
                payload_sha256=None,
                on_sent=lambda _: None,
            )
    finally:
        await transport.close()
    assert raw.received == b""
