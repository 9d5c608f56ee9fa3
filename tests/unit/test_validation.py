"""Tests for the checks run before any request."""

from __future__ import annotations

import pytest

from resilient_s3._exceptions import InvalidUploadError
from resilient_s3._limits import (
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MIN_PART_SIZE,
    MiB,
    validate_bucket_name,
    validate_concurrency,
    validate_key,
    validate_part_size,
    validate_threshold,
)


@pytest.mark.parametrize(
    "name",
    [
        "abc",
        "my-bucket",
        "my.bucket.name",
        "123",
        "a" * 63,
        "1.2.3",
        "192.168.5.4x",
        "bucket-111122223333-us-west-2-an",
        "xn-abc",
        "sthree",
        "abc-s3",
        "mybucket--usw2-az1--x-s3",
        "amzn-s3-demo-bucket--usw2-az1--x-s3",
        "data--use1-lax1-az1--x-s3",
    ],
)
def test_valid_bucket_names(name: str) -> None:
    validate_bucket_name(name)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "the bucket name is empty"),
        ("ab", "it is 2 characters long; bucket names are 3-63 characters"),
        ("a" * 64, "it is 64 characters long"),
        ("a" * 50 + "--usw2-az1--x-s3", "it is 66 characters long"),
        ("MyBucket", r"contains 'B', 'M' \(uppercase is not allowed\)"),
        ("my_bucket", "contains '_'"),
        ("my bucket", "contains ' '"),
        ("bücket", "contains 'ü'"),
        ("my/bucket", "contains '/'"),
        ("-abc", "must begin and end with a letter or digit"),
        (".abc", "must begin and end with a letter or digit"),
        ("abc-", "must begin and end with a letter or digit"),
        ("abc.", "must begin and end with a letter or digit"),
        ("my..bucket", "two adjacent dots"),
        ("192.168.5.4", "formatted as an IP address"),
        ("10.0.0.1", "formatted as an IP address"),
        ("xn--abc", "prefix 'xn--' is reserved"),
        ("sthree-abc", "prefix 'sthree-' is reserved"),
        ("sthree-configurator-1", "prefix 'sthree-' is reserved"),
        ("amzn-s3-demo-bucket", "prefix 'amzn-s3-demo-' is reserved"),
        ("abc-s3alias", "suffix '-s3alias' is reserved"),
        ("abc--ol-s3", "suffix '--ol-s3' is reserved"),
        ("abc.mrap", "suffix '.mrap' is reserved"),
        ("abc--table-s3", "suffix '--table-s3' is reserved"),
        ("abc--x-s3", "suffix '--x-s3' is reserved for directory buckets"),
        ("-abc--usw2-az1--x-s3", "must begin and end with a letter or digit"),
        ("Abc--usw2-az1--x-s3", "uppercase is not allowed"),
    ],
)
def test_invalid_bucket_names(name: str, message: str) -> None:
    with pytest.raises(InvalidUploadError, match=message) as info:
        validate_bucket_name(name)
    if name:
        assert repr(name[:63]) in str(info.value)


@pytest.mark.parametrize(
    "name", ["MyLegacy_Bucket", "a", "ab", "a" * 255, "my..bucket", "192.168.5.4", "xn--abc"]
)
def test_lenient_bucket_names(name: str) -> None:
    validate_bucket_name(name, strict=False)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "the bucket name is empty"),
        ("a" * 256, "is 256 characters long; bucket names have at most 255"),
        ("bucket/prefix", "contains '/'; pass the bucket and the key separately"),
    ],
)
def test_lenient_bucket_names_still_refuse(name: str, message: str) -> None:
    with pytest.raises(InvalidUploadError, match=message):
        validate_bucket_name(name, strict=False)


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "dir/file.txt",
        "x" * 1024,
        "é" * 512,
        "😀" * 256,
        "../relative/./path",
        " leading and trailing spaces ",
        "tab\tnewline\n",
        "nul\x00",
        "/",
    ],
)
def test_valid_keys(key: str) -> None:
    validate_key(key)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "the object key is empty"),
        ("x" * 1025, "is 1025 bytes in UTF-8; S3 allows at most 1024 bytes"),
        ("é" * 513, r"is 1026 bytes in UTF-8 \(513 characters\)"),
        ("😀" * 257, r"is 1028 bytes in UTF-8 \(257 characters\)"),
        ("a\ud800b", r"unpaired surrogate '\\ud800' at index 1"),
        ("\udfff", "cannot be encoded as UTF-8"),
    ],
)
def test_invalid_keys(key: str, message: str) -> None:
    with pytest.raises(InvalidUploadError, match=message):
        validate_key(key)


@pytest.mark.parametrize("n", [MIN_PART_SIZE, 8 * MiB, MIN_PART_SIZE + 1, MAX_PART_SIZE])
def test_valid_part_sizes(n: int) -> None:
    validate_part_size(n)


@pytest.mark.parametrize(
    ("n", "message"),
    [
        (MIN_PART_SIZE - 1, r"between 5 MiB and 5 GiB, got 5,242,879 bytes \(about 5 MiB\)"),
        (MAX_PART_SIZE + 1, "between 5 MiB and 5 GiB, got 5,368,709,121 bytes"),
        (4 * MiB, "between 5 MiB and 5 GiB, got 4 MiB"),
        (0, "got 0 B"),
        (-MiB, "got -1 MiB"),
        (5_000_000, "got 5 MB"),
        (5.5 * MiB, "part_size must be a whole number of bytes, got 5767168.0"),
        (True, "part_size must be a whole number of bytes, got True"),
    ],
)
def test_invalid_part_sizes(n: int, message: str) -> None:
    with pytest.raises(InvalidUploadError, match=message):
        validate_part_size(n)


@pytest.mark.parametrize("n", [1, MIN_PART_SIZE, 8 * MiB, 5 * 1024**3 + 1, MAX_OBJECT_SIZE, 2**80])
def test_valid_thresholds(n: int) -> None:
    validate_threshold(n)


@pytest.mark.parametrize(
    ("n", "message"),
    [
        (0, "multipart_threshold must be at least 1 B, got 0 B"),
        (-1, "multipart_threshold must be at least 1 B, got -1 B"),
        (8.0 * MiB, "multipart_threshold must be a whole number of bytes"),
    ],
)
def test_invalid_thresholds(n: int, message: str) -> None:
    with pytest.raises(InvalidUploadError, match=message):
        validate_threshold(n)


@pytest.mark.parametrize("n", [1, 10, 1024])
def test_valid_concurrency(n: int) -> None:
    validate_concurrency(n)


@pytest.mark.parametrize(
    ("n", "message"),
    [
        (0, "max_concurrency must be between 1 and 1024, got 0"),
        (1025, "max_concurrency must be between 1 and 1024, got 1025"),
        (-3, "max_concurrency must be between 1 and 1024, got -3"),
        (2.0, "max_concurrency must be a whole number, got 2.0"),
        (False, "max_concurrency must be a whole number, got False"),
    ],
)
def test_invalid_concurrency(n: int, message: str) -> None:
    with pytest.raises(InvalidUploadError, match=message):
        validate_concurrency(n)


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        validate_concurrency(0)
