"""Uploads against the real SeaweedFS server: sizes, strategies, streams, arguments, facades."""

from __future__ import annotations

import dataclasses
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import boto3
import pytest

from resilient_s3 import (
    AsyncResilientUploader,
    Checksum,
    DirectoryUploadError,
    ObjectExistsError,
    ResilientUploader,
    S3RequestError,
    UploadConfig,
    UploadResult,
)
from resilient_s3._upload.checksums import CHECKSUM_KINDS, b64
from resilient_s3.testing import S3Server
from s3_helpers import Target, Unseekable, open_uploads

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
THRESHOLD = 8 * MiB


@pytest.fixture(scope="module")
def session(s3_server: S3Server) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        region_name=s3_server.region,
    )


@pytest.fixture
def uploader(s3_server: S3Server, session: boto3.Session) -> Iterator[ResilientUploader]:
    with ResilientUploader(session=session, endpoint_url=s3_server.endpoint_url) as up:
        yield up


def write_random(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def read_back(client: Any, bucket: str, key: str) -> bytes:
    body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


class ProgressLog:
    def __init__(self) -> None:
        self.seen: list[tuple[int, int | None]] = []

    def __call__(self, done: int, total: int | None) -> None:
        self.seen.append((done, total))

    def assert_complete(self, size: int) -> None:
        values = [done for done, _ in self.seen]
        assert values == sorted(values), "progress went backwards"
        assert (values[-1] if values else 0) == size


@pytest.mark.parametrize(
    "size",
    [0, 1, 5 * MiB - 1, 5 * MiB, THRESHOLD - 1, THRESHOLD, THRESHOLD + 1, 100 * MiB + 3],
    ids=lambda n: f"{n}B",
)
async def test_upload_file_sizes_round_trip(target: Target, tmp_path: Path, size: int) -> None:
    s3_bucket, s3_client = target.bucket, target.client
    data = write_random(tmp_path / "f.bin", size)
    progress = ProgressLog()
    async with AsyncResilientUploader(
        session=target.session, endpoint_url=target.server.endpoint_url
    ) as up:
        result = await up.upload_file(tmp_path / "f.bin", s3_bucket, "obj", on_progress=progress)

    assert read_back(s3_client, s3_bucket, "obj") == data
    assert result.size == size
    assert (result.bucket, result.key) == (s3_bucket, "obj")
    progress.assert_complete(size)
    if size < THRESHOLD:
        assert result.strategy == "single"
        assert result.parts == 1
        assert not result.etag.strip('"').rpartition("-")[1]
    else:
        assert result.strategy == "multipart"
        assert result.parts == -(-size // (8 * MiB))
        assert result.etag.strip('"').endswith(f"-{result.parts}")
    assert result.checksum is not None
    assert result.checksum.algorithm == "CRC64NVME"
    assert result.checksum.type == "FULL_OBJECT"
    assert result.attempts == (1 if result.strategy == "single" else result.parts + 2)
    assert open_uploads(s3_client, s3_bucket) == []


def test_sync_facade_single_and_multipart(
    uploader: ResilientUploader, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    small = write_random(tmp_path / "small", 1000)
    large = write_random(tmp_path / "large", 20 * MiB + 5)
    r1 = uploader.upload_file(tmp_path / "small", s3_bucket, "dir/small")
    r2 = uploader.upload_file(str(tmp_path / "large"), s3_bucket, "dir/large")
    assert (r1.strategy, r2.strategy) == ("single", "multipart")
    assert read_back(s3_client, s3_bucket, "dir/small") == small
    assert read_back(s3_client, s3_bucket, "dir/large") == large


def test_non_seekable_stream_of_50_mib(
    uploader: ResilientUploader, s3_bucket: str, s3_client: Any
) -> None:
    data = os.urandom(50 * MiB + 11)
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as sink:
            for start in range(0, len(data), 1 << 20):
                sink.write(data[start : start + (1 << 20)])

    writer = threading.Thread(target=feed)
    writer.start()
    progress = ProgressLog()
    with os.fdopen(read_fd, "rb") as pipe:
        result = uploader.upload_fileobj(pipe, s3_bucket, "piped", on_progress=progress)
    writer.join()
    assert result.strategy == "multipart"
    assert result.size == len(data)
    assert read_back(s3_client, s3_bucket, "piped") == data
    assert all(total is None for _, total in progress.seen)
    progress.assert_complete(len(data))


def test_short_stream_is_a_single_put(
    uploader: ResilientUploader, s3_bucket: str, s3_client: Any
) -> None:
    result = uploader.upload_fileobj(Unseekable(b"abc" * 1000), s3_bucket, "short")
    assert result.strategy == "single"
    assert read_back(s3_client, s3_bucket, "short") == b"abc" * 1000


def test_seekable_stream_uploads_from_its_position(
    uploader: ResilientUploader, s3_bucket: str, s3_client: Any
) -> None:
    data = os.urandom(12 * MiB)
    stream = io.BytesIO(data)
    stream.seek(1000)
    result = uploader.upload_fileobj(stream, s3_bucket, "tail")
    assert result.size == len(data) - 1000
    assert result.strategy == "multipart"
    assert read_back(s3_client, s3_bucket, "tail") == data[1000:]


@pytest.mark.parametrize("size", [100, 9 * MiB], ids=["single", "multipart"])
def test_extra_args_reach_the_object(
    uploader: ResilientUploader, s3_bucket: str, s3_client: Any, tmp_path: Path, size: int
) -> None:
    write_random(tmp_path / "f", size)
    uploader.upload_file(
        tmp_path / "f",
        s3_bucket,
        "with-args",
        extra_args={
            "ContentType": "video/mp4",
            "Metadata": {"owner": "tests", "purpose": "extra-args"},
            "CacheControl": "max-age=60",
            "ContentDisposition": "attachment",
            "Tagging": "team=storage&tier=gold",
        },
    )
    head = s3_client.head_object(Bucket=s3_bucket, Key="with-args")
    assert head["ContentType"] == "video/mp4"
    # Exactly the caller's: nothing added to confirm a completion (docs/durability.md).
    assert head["Metadata"] == {"owner": "tests", "purpose": "extra-args"}
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == "attachment"
    tags = s3_client.get_object_tagging(Bucket=s3_bucket, Key="with-args")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "storage", "tier": "gold"}


@pytest.mark.parametrize("size", [100, 9 * MiB], ids=["single", "multipart"])
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"ServerSideEncryption": "AES256"}, {"ServerSideEncryption": "AES256"}),
        ({"StorageClass": "STANDARD_IA"}, {"StorageClass": "STANDARD_IA"}),
        ({"ACL": "public-read"}, {}),
    ],
    ids=["sse-s3", "storage-class", "acl"],
)
def test_object_attributes(
    uploader: ResilientUploader,
    s3_bucket: str,
    s3_client: Any,
    tmp_path: Path,
    size: int,
    args: dict[str, str],
    expected: dict[str, str],
) -> None:
    data = write_random(tmp_path / "f", size)
    uploader.upload_file(tmp_path / "f", s3_bucket, "attrs", extra_args=args)
    head = s3_client.head_object(Bucket=s3_bucket, Key="attrs")
    assert {name: head.get(name) for name in expected} == expected
    assert read_back(s3_client, s3_bucket, "attrs") == data


@pytest.mark.parametrize("size", [100, 9 * MiB], ids=["single", "multipart"])
def test_sse_c_key_travels_with_every_part(
    uploader: ResilientUploader, s3_bucket: str, s3_client: Any, tmp_path: Path, size: int
) -> None:
    data = write_random(tmp_path / "f", size)
    key = os.urandom(32)
    sse_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    uploader.upload_file(tmp_path / "f", s3_bucket, "sse-c", extra_args=dict(sse_c))
    got = s3_client.get_object(Bucket=s3_bucket, Key="sse-c", **sse_c)
    assert got["SSECustomerAlgorithm"] == "AES256"
    assert got["Body"].read() == data
    with pytest.raises(s3_client.exceptions.ClientError):
        s3_client.get_object(Bucket=s3_bucket, Key="sse-c")


@pytest.mark.parametrize("algorithm", ["CRC32C", "CRC32", "CRC64NVME", "SHA256"])
def test_checksums_match_a_local_computation_and_the_server(
    target: Target, tmp_path: Path, algorithm: Any
) -> None:
    s3_bucket, s3_client = target.bucket, target.client
    data = write_random(tmp_path / "f", 11 * MiB + 1)
    kind = CHECKSUM_KINDS[algorithm]
    config = UploadConfig(checksum_algorithm=algorithm, verify_after_upload=True)
    with ResilientUploader(
        session=target.session, endpoint_url=target.server.endpoint_url, config=config
    ) as up:
        multipart = up.upload_file(tmp_path / "f", s3_bucket, "multi")
        single = up.upload_fileobj(io.BytesIO(data[:1000]), s3_bucket, "single")
    if algorithm == "SHA256":  # S3's COMPOSITE checksum: the digest of the parts' digests
        parts = [data[i : i + 8 * MiB] for i in range(0, len(data), 8 * MiB)]
        composite = kind.digest(b"".join(kind.digest(p) for p in parts))
        expected = Checksum(algorithm, f"{b64(composite)}-2", "COMPOSITE")
    else:
        expected = Checksum(algorithm, b64(kind.digest(data)), "FULL_OBJECT")
    # SeaweedFS reports the object's checksum back when the upload completes, moto does not:
    # only then is it "confirmed", never an empty value.
    confirmed = target.name == "seaweedfs"
    assert multipart.checksum == dataclasses.replace(expected, confirmed=confirmed)
    assert single.checksum == Checksum(algorithm, b64(kind.digest(data[:1000])), confirmed=True)
    assert read_back(s3_client, s3_bucket, "multi") == data
    # The server stored the single PUT's checksum (moto only when told the algorithm too).
    head = s3_client.head_object(Bucket=s3_bucket, Key="single", ChecksumMode="ENABLED")
    assert head[kind.param] == single.checksum.value


def test_upload_directory(
    uploader: ResilientUploader, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    tree = {
        "a.txt": os.urandom(10),
        "sub/b.bin": os.urandom(9 * MiB),
        "sub/deeper/c": b"",
        "d e+f.txt": b"spaces and plus",
    }
    for name, data in tree.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    seen = ProgressLog()
    results = uploader.upload_directory(tmp_path, s3_bucket, prefix="p/", on_progress=seen)
    assert sorted(r.key for r in results) == sorted(f"p/{name}" for name in tree)
    for name, data in tree.items():
        assert read_back(s3_client, s3_bucket, f"p/{name}") == data
    assert seen.seen[-1] == (sum(map(len, tree.values())), sum(map(len, tree.values())))


def test_keys_with_unusual_characters(
    uploader: ResilientUploader, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    write_random(tmp_path / "f", 10)
    for key in ["a b/c+d=e&f?g#h", "ünï/cødé ✓", "x//y", "~tilde/%percent"]:
        uploader.upload_file(tmp_path / "f", s3_bucket, key)
        assert read_back(s3_client, s3_bucket, key) == (tmp_path / "f").read_bytes()


async def test_cancelled_upload_leaves_no_multipart_upload(
    s3_server: S3Server, session: boto3.Session, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    write_random(tmp_path / "f", 64 * MiB)
    started = anyio.Event()

    def on_progress(done: int, total: int | None) -> None:
        if done > 10 * MiB:
            started.set()

    config = UploadConfig(max_concurrency=2)
    async with (
        AsyncResilientUploader(
            session=session, endpoint_url=s3_server.endpoint_url, config=config
        ) as up,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(up.upload_file, tmp_path / "f", s3_bucket, "cancelled", None, on_progress)
        await started.wait()
        tg.cancel_scope.cancel()
    assert open_uploads(s3_client, s3_bucket) == []
    listed = s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])
    assert [o["Key"] for o in listed] == []


def test_result_is_an_upload_result(
    uploader: ResilientUploader, s3_bucket: str, tmp_path: Path
) -> None:
    write_random(tmp_path / "f", 3)
    result = uploader.upload_file(tmp_path / "f", s3_bucket, "r")
    assert isinstance(result, UploadResult)
    assert result.elapsed > 0
    assert result.retries == {}
    assert result.credential_refreshes == 0
    assert result.clock_offset == 0.0
    assert result.resumed_parts == 0
    assert result.version_id is None


def test_the_https_data_path(
    s3_server: S3Server,
    session: boto3.Session,
    s3_bucket: str,
    s3_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over https file bodies are read and sent in chunks (no sendfile), with UNSIGNED-PAYLOAD
    and a signed checksum header. The test server speaks http, so https is pretended."""
    from resilient_s3._s3.sender import Sender
    from resilient_s3._s3.transport import S3Transport

    monkeypatch.setattr(S3Transport, "is_https", property(lambda self: True))
    monkeypatch.setattr(Sender, "_lean", staticmethod(lambda url: False))
    data = write_random(tmp_path / "f", 20 * MiB + 7)
    progress = ProgressLog()
    with ResilientUploader(session=session, endpoint_url=s3_server.endpoint_url) as up:
        result = up.upload_file(tmp_path / "f", s3_bucket, "https", on_progress=progress)
        up.upload_file(tmp_path / "f", s3_bucket, "https-single", extra_args=None)
    assert result.strategy == "multipart"
    assert read_back(s3_client, s3_bucket, "https") == data
    progress.assert_complete(len(data))


def test_upload_directory_reports_every_result_and_every_failure(
    uploader: ResilientUploader, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    for name in ("a", "b", "c", "d"):
        (tmp_path / name).write_bytes(name.encode())
    deep = tmp_path.joinpath(*["d" * 200] * 6)
    deep.mkdir(parents=True)
    (deep / "too-long").write_bytes(b"x")  # its key is over 1,024 bytes: refused, not fatal
    s3_client.put_object(Bucket=s3_bucket, Key="c", Body=b"old")
    with pytest.raises(DirectoryUploadError) as raised:
        uploader.upload_directory(tmp_path, s3_bucket, overwrite=False)
    error = raised.value
    assert sorted(r.key for r in error.results) == ["a", "b", "d"]
    assert sorted(error.failures) == sorted(
        ["c", deep.relative_to(tmp_path).as_posix() + "/too-long"]
    )
    assert isinstance(error.failures["c"], ObjectExistsError)
    assert "2 of 5 files failed" in str(error)
    for name in ("a", "b", "d"):
        assert read_back(s3_client, s3_bucket, name) == name.encode()
    assert read_back(s3_client, s3_bucket, "c") == b"old"


@pytest.mark.parametrize("how", ["file", "stream", "directory"])
def test_progress_reports_an_empty_upload_once(
    uploader: ResilientUploader, s3_bucket: str, tmp_path: Path, how: str
) -> None:
    (tmp_path / "empty").write_bytes(b"")
    seen = ProgressLog()
    if how == "file":
        uploader.upload_file(tmp_path / "empty", s3_bucket, "e", on_progress=seen)
    elif how == "stream":
        uploader.upload_fileobj(io.BytesIO(), s3_bucket, "e", on_progress=seen)
    else:
        uploader.upload_directory(tmp_path, s3_bucket, on_progress=seen)
    assert seen.seen == [(0, 0)]  # once, so that a progress display can finish


def test_errors_name_s3_operations(
    uploader: ResilientUploader, s3_client: Any, tmp_path: Path
) -> None:
    write_random(tmp_path / "f", 9 * MiB)
    with pytest.raises(S3RequestError) as raised:
        uploader.upload_file(tmp_path / "f", "no-such-bucket-here", "k")
    assert str(raised.value).startswith("CreateMultipartUpload failed: NoSuchBucket")
