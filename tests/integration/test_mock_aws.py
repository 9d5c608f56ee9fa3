"""Code written for boto3's tests keeps working: uploads under moto's ``mock_aws()`` land in the
mock, through botocore's ``before-send`` hook, and nothing goes to the network.

The machine running the tests has no internet: a request that leaked would fail to resolve
``*.s3.amazonaws.com`` at once (one attempt, short timeouts). Each test also checks that every
request was answered by the hook (``offered == answered``), which holds on a machine with
internet too.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

moto = pytest.importorskip("moto", reason="moto is not installed (pip install moto)")

from resilient_s3 import (  # noqa: E402 - after the skip
    AsyncResilientUploader,
    PresignedUploader,
    Presigner,
    ResilientUploader,
    S3RequestError,
    UploadConfig,
)
from resilient_s3.testing import S3Server  # noqa: E402
from s3_helpers import Unseekable  # noqa: E402

BUCKET = "my-bucket"
MiB = 1024 * 1024

# One attempt and short timeouts: a request that leaked to the network fails fast.
CONFIG = UploadConfig(
    max_attempts=1,
    connect_timeout=2,
    read_timeout=2,
    multipart_threshold=5 * MiB,
    part_size=5 * MiB,
    max_concurrency=4,
)


class Backends:
    """The ``_backend`` seam: keeps the S3 backend an uploader opens, to read its hooks."""

    def __init__(self) -> None:
        self.opened: list[Any] = []

    def __call__(self, backend: Any) -> Any:
        self.opened.append(backend)
        return backend

    @property
    def hooks(self) -> Any:
        return self.opened[0].transport.sender.hooks


@pytest.fixture
def mocked() -> Iterator[Any]:
    """The common pattern: inside ``mock_aws()``, a boto3 client and a bucket."""
    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield s3


def sources(kind: str, tmp_path: Path) -> tuple[str, tuple[Any, ...], dict[str, bytes]]:
    """The uploader method, its arguments and the objects it should make, for one source."""
    if kind == "single":
        data = os.urandom(100_000)
        (tmp_path / "single").write_bytes(data)
        return "upload_file", (tmp_path / "single", BUCKET, "single"), {"single": data}
    if kind == "multipart":
        data = os.urandom(11 * MiB)
        (tmp_path / "big").write_bytes(data)
        return "upload_file", (tmp_path / "big", BUCKET, "big"), {"big": data}
    if kind == "stream":
        data = os.urandom(11 * MiB)
        return "upload_fileobj", (Unseekable(data), BUCKET, "piped"), {"piped": data}
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    files = {"a.txt": os.urandom(3000), "sub/b.bin": os.urandom(6 * MiB), "sub/empty": b""}
    for name, content in files.items():
        (tree / name).write_bytes(content)
    expected = {f"p/{name}": content for name, content in files.items()}
    return "upload_directory", (tree, BUCKET, "p/"), expected


def read_back(s3: Any, key: str) -> bytes:
    data: bytes = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return data


def assert_all_answered_by_the_mock(backends: Backends) -> None:
    hooks = backends.hooks
    assert hooks is not None
    assert hooks.answered > 0
    assert hooks.offered == hooks.answered  # nothing was sent on after the hook


KINDS = ["single", "multipart", "stream", "directory"]


@pytest.mark.parametrize("kind", KINDS)
def test_sync_upload_lands_in_the_mock(mocked: Any, kind: str, tmp_path: Path) -> None:
    method, args, expected = sources(kind, tmp_path)
    backends = Backends()
    with ResilientUploader(session=boto3.Session(), config=CONFIG, _backend=backends) as up:
        getattr(up, method)(*args)
    for key, data in expected.items():
        assert read_back(mocked, key) == data
    assert_all_answered_by_the_mock(backends)


@pytest.mark.parametrize("kind", KINDS)
def test_async_upload_lands_in_the_mock(mocked: Any, kind: str, tmp_path: Path) -> None:
    method, args, expected = sources(kind, tmp_path)
    backends = Backends()

    async def upload() -> None:
        async with AsyncResilientUploader(
            session=boto3.Session(), config=CONFIG, _backend=backends
        ) as up:
            await getattr(up, method)(*args)

    asyncio.run(upload())
    for key, data in expected.items():
        assert read_back(mocked, key) == data
    assert_all_answered_by_the_mock(backends)


@pytest.mark.parametrize("kind", ["single", "multipart"])
def test_missing_bucket_is_diagnosed(mocked: Any, kind: str, tmp_path: Path) -> None:
    method, (source, _, key), _ = sources(kind, tmp_path)
    with ResilientUploader(config=CONFIG) as up, pytest.raises(S3RequestError) as caught:
        getattr(up, method)(source, "no-such-bucket-here", key)
    error = caught.value
    assert error.code == "NoSuchBucket"
    assert error.status == 404
    assert error.diagnosis is not None
    assert error.diagnosis.cause == "no-such-bucket"


def test_async_missing_bucket_is_diagnosed(mocked: Any) -> None:
    async def upload() -> None:
        async with AsyncResilientUploader(config=CONFIG) as up:
            await up.upload_fileobj(io.BytesIO(b"x"), "no-such-bucket-here", "k")

    with pytest.raises(S3RequestError) as caught:
        asyncio.run(upload())
    assert caught.value.diagnosis is not None
    assert caught.value.diagnosis.cause == "no-such-bucket"


def test_uploader_made_before_the_mock_started() -> None:
    """Made (not yet opened) outside ``mock_aws()``, used inside it: it opens in the mock."""
    up = ResilientUploader(config=CONFIG)
    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        with up:
            up.upload_fileobj(io.BytesIO(b"made before"), BUCKET, "k")
        assert s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"made before"


def test_uploader_opened_before_the_mock_started() -> None:
    """Opened outside ``mock_aws()`` (a session with keys of its own): moto's handler was
    there already, switched off; the mock switches it on."""
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    backends = Backends()
    with ResilientUploader(session=session, config=CONFIG, _backend=backends) as up:
        up.open()
        assert backends.hooks is not None  # moto is imported: its handler is in the session

        def upload() -> bytes:
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket=BUCKET)
            up.upload_fileobj(io.BytesIO(b"opened before"), BUCKET, "k")
            data: bytes = s3.get_object(Bucket=BUCKET, Key="k")["Body"].read()
            return data

        in_the_mock: Callable[[], bytes] = moto.mock_aws(upload)  # as a decorator
        assert in_the_mock() == b"opened before"
    assert_all_answered_by_the_mock(backends)


def test_presigner_under_the_mock(mocked: Any) -> None:
    """Presigner's control calls land in the mock, and a URL it signs uploads there."""
    with Presigner(session=boto3.Session()) as presigner:
        multipart = presigner.create_multipart(BUCKET, "presigned-mpu", size=11 * MiB)
        assert presigner.list_parts(BUCKET, "presigned-mpu", multipart.upload_id) == []
        listed = mocked.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
        assert [u["UploadId"] for u in listed] == [multipart.upload_id]
        presigner.abort_multipart(BUCKET, "presigned-mpu", multipart.upload_id)
        assert "Uploads" not in mocked.list_multipart_uploads(Bucket=BUCKET)

        def sign(request: Any) -> Any:
            return presigner.answer(request, bucket=BUCKET)

        with PresignedUploader(sign, config=CONFIG) as uploader:
            uploader.upload_fileobj(io.BytesIO(b"presigned"), "presigned-put")
    assert read_back(mocked, "presigned-put") == b"presigned"


def test_without_the_mock_no_request_goes_through_the_hook(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    """moto is imported, so its handler sits in every new session, switched off: uploads take
    the uploader's own path, and no request is handed to the hook."""
    session = boto3.Session(
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        region_name=s3_server.region,
    )
    (tmp_path / "big").write_bytes(os.urandom(11 * MiB))
    backends = Backends()
    with ResilientUploader(
        session=session, endpoint_url=s3_server.endpoint_url, config=CONFIG, _backend=backends
    ) as up:
        up.upload_fileobj(io.BytesIO(b"small"), s3_bucket, "small")
        up.upload_file(tmp_path / "big", s3_bucket, "big")
    assert backends.hooks is not None
    assert backends.hooks.offered == 0
    assert s3_client.get_object(Bucket=s3_bucket, Key="small")["Body"].read() == b"small"


def test_a_handler_on_the_session_sees_each_request(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    """A user's before-send handler that answers nothing sees each signed request, body
    included, and the request then goes to the server."""
    seen: list[tuple[str, str, bytes]] = []

    def watch(request: Any, event_name: str, **kwargs: Any) -> None:
        body = request.body.read() if hasattr(request.body, "read") else request.body
        seen.append((event_name, request.headers["Authorization"][:16], body or b""))

    session = boto3.Session(
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        region_name=s3_server.region,
    )
    session.events.register("before-send.s3", watch)
    with ResilientUploader(session=session, endpoint_url=s3_server.endpoint_url) as up:
        up.upload_fileobj(io.BytesIO(b"watched"), s3_bucket, "k")
    assert seen == [("before-send.s3.PutObject", "AWS4-HMAC-SHA256", b"watched")]
    assert s3_client.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"watched"
