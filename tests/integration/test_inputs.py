"""Bad input is refused with a clear UploadError before any request, and nothing is left behind."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import boto3
import pytest

from resilient_s3 import (
    InvalidUploadError,
    ObjectTooLargeError,
    ResilientUploader,
    SourceChangedError,
    SourceError,
    UploadConfig,
    UploadError,
)
from resilient_s3.testing import S3Server

MiB = 1024 * 1024

# Nothing listens here: any request would fail with a network error, not the error expected.
UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
def offline() -> Any:
    session = boto3.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI",
        region_name="us-east-1",
    )
    with ResilientUploader(session=session, endpoint_url=UNREACHABLE) as up:
        yield up


def test_missing_file(offline: ResilientUploader, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        offline.upload_file(tmp_path / "absent", "bucket", "key")


def test_directory_instead_of_file(offline: ResilientUploader, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is a directory"):
        offline.upload_file(tmp_path, "bucket", "key")


def test_fifo_is_not_a_regular_file(offline: ResilientUploader, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(SourceError, match="not a regular file"):
        offline.upload_file(fifo, "bucket", "key")


def test_unreadable_file(
    offline: ResilientUploader, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"x")
    path.chmod(0)
    if os.geteuid() == 0:  # root reads any file: make this one refuse as it would for a user
        real_open = os.open

        def refuse(name: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if Path(name) == path:
                raise PermissionError(13, "Permission denied", str(name))
            return real_open(name, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(SourceError, match="permission denied"):
        offline.upload_file(path, "bucket", "key")


@pytest.mark.parametrize(
    ("bucket", "key", "message"),
    [
        ("", "key", "bucket"),
        ("bucket", "", "key"),
        ("a/b", "key", "bucket"),
        ("bucket", "k" * 1025, "1024"),
    ],
)
def test_bad_bucket_or_key(
    offline: ResilientUploader, tmp_path: Path, bucket: str, key: str, message: str
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(InvalidUploadError, match=message):
        offline.upload_file(tmp_path / "f", bucket, key)


@pytest.mark.parametrize(
    ("bucket", "message"),
    [
        ("Bad_Bucket", r"contains 'B', '_' \(uppercase is not allowed\)"),
        ("ab", "it is 2 characters long"),
        ("my..bucket", "two adjacent dots"),
    ],
)
def test_bucket_names_s3_would_refuse_are_refused_before_any_request(
    s3_server: S3Server, tmp_path: Path, bucket: str, message: str
) -> None:
    from resilient_s3.testing import ChaosProxy

    (tmp_path / "f").write_bytes(b"x")
    with (
        ChaosProxy(s3_server.endpoint_url) as proxy,
        ResilientUploader(
            session=boto3.Session(**admin_keys(s3_server)), endpoint_url=proxy.endpoint_url
        ) as up,
    ):
        with pytest.raises(InvalidUploadError, match=message):
            up.upload_file(tmp_path / "f", bucket, "key")
        with pytest.raises(InvalidUploadError, match=message):
            up.upload_directory(tmp_path, bucket)
        assert proxy.stats.total_requests == 0


@pytest.mark.parametrize(
    ("bucket", "legacy"),
    [
        ("Legacy_Bucket", True),  # buckets from before March 2018, on AWS only
        ("arn:aws:s3:us-west-2:123456789012:accesspoint/my-ap", False),
        ("my-ap-hrzrlukc5m36ft7okagglf3gmwluquse1a-s3alias", False),
        ("my-bucket", False),
    ],
)
def test_names_requests_may_use_besides_new_buckets(bucket: str, legacy: bool) -> None:
    from resilient_s3._limits import validate_request_bucket

    validate_request_bucket(bucket, legacy=legacy)
    if legacy:
        with pytest.raises(InvalidUploadError):
            validate_request_bucket(bucket, legacy=False)


def admin_keys(server: S3Server) -> dict[str, str]:
    return {
        "aws_access_key_id": server.access_key,
        "aws_secret_access_key": server.secret_key,
        "region_name": server.region,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("part_size", 5 * MiB - 1),
        ("part_size", 5 * 1024**3 + 1),
        ("max_concurrency", 0),
        ("max_concurrency", 100_000),
        ("multipart_threshold", 0),
        ("checksum_algorithm", "MD5"),
        ("read_timeout", 0),
    ],
)
def test_config_out_of_range(field: str, value: Any) -> None:
    with pytest.raises(InvalidUploadError, match=field):
        UploadConfig(**{field: value})


def test_reserved_and_unknown_extra_args(offline: ResilientUploader, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(InvalidUploadError, match="ContentMD5"):
        offline.upload_file(tmp_path / "f", "bucket", "k", extra_args={"ContentMD5": "x"})
    with pytest.raises(InvalidUploadError, match="ChecksumAlgorithm"):
        offline.upload_file(
            tmp_path / "f", "bucket", "k", extra_args={"ChecksumAlgorithm": "CRC33"}
        )
    with pytest.raises(InvalidUploadError, match="NotAParameter"):
        offline.upload_file(tmp_path / "f", "bucket", "k", extra_args={"NotAParameter": 1})


def test_text_mode_stream(offline: ResilientUploader) -> None:
    with pytest.raises(InvalidUploadError, match="binary mode"):
        offline.upload_fileobj(io.StringIO("text"), "bucket", "key")  # type: ignore[arg-type]


def test_object_too_large_is_refused_before_any_read_or_request(
    offline: ResilientUploader,
) -> None:
    class Huge(io.RawIOBase):
        """Claims 50 TB + 1 byte (no file system here holds a sparse file that large)."""

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return True

        def tell(self) -> int:
            return 0

        def seek(self, offset: int, whence: int = 0) -> int:
            return 50 * 10**12 + 1 if whence == os.SEEK_END else 0

        def readinto(self, buffer: Any) -> int:
            raise AssertionError("nothing may be read")

    with pytest.raises(ObjectTooLargeError, match="50 TB"):
        offline.upload_fileobj(Huge(), "bucket", "key")


def test_errors_are_one_tree() -> None:
    for error in (InvalidUploadError, SourceError, ObjectTooLargeError, SourceChangedError):
        assert issubclass(error, UploadError)
    assert issubclass(InvalidUploadError, ValueError)


def test_file_that_changes_while_read_is_aborted(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "growing"
    path.write_bytes(os.urandom(40 * MiB))

    def grow(done: int, total: int | None) -> None:
        if done >= MiB and path.stat().st_size == 40 * MiB:
            with path.open("ab") as f:
                f.write(b"more")

    session = boto3.Session(
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        region_name=s3_server.region,
    )
    config = UploadConfig(max_concurrency=2)
    with (
        ResilientUploader(
            session=session, endpoint_url=s3_server.endpoint_url, config=config
        ) as up,
        pytest.raises(SourceChangedError, match="changed while it was being uploaded") as info,
    ):
        up.upload_file(path, s3_bucket, "growing", on_progress=grow)
    assert info.value.upload_id is not None
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_an_invalid_sse_c_key_is_not_quoted(offline: ResilientUploader, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(InvalidUploadError) as info:
        offline.upload_file(
            tmp_path / "f",
            "bucket",
            "k",
            extra_args={"SSECustomerAlgorithm": "AES256", "SSECustomerKey": 12345678987654321},
        )
    assert "12345678987654321" not in str(info.value)
    assert "SSECustomerKey" in str(info.value)
