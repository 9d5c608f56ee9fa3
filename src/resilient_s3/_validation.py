"""Checks run before any request is sent.

Each check raises :class:`InvalidUploadError` with a message that says what is wrong and what is
allowed, so a mistake costs no round trip and no half-made multipart upload.
"""

from __future__ import annotations

import re
import string

from ._exceptions import InvalidUploadError
from ._planner import _require_int, check_part_size, check_threshold

__all__ = [
    "MAX_CONCURRENCY",
    "MAX_KEY_BYTES",
    "validate_bucket_name",
    "validate_concurrency",
    "validate_key",
    "validate_part_size",
    "validate_request_bucket",
    "validate_threshold",
]

MAX_KEY_BYTES = 1024
MAX_CONCURRENCY = 1024

_BUCKET_RULES = (
    "bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, "
    "and begin and end with a letter or digit"
)
_BUCKET_CHARACTERS = frozenset(string.ascii_lowercase + string.digits + ".-")
_DIRECTORY_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]*--[a-z0-9-]+--x-s3")
_IP_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_LEGACY_MAX_LENGTH = 255
_ALIAS_SUFFIXES = ("-s3alias", "--ol-s3")
"""Access point and Object Lambda aliases: reserved for bucket creation, valid in requests."""


def validate_bucket_name(name: str, *, strict: bool = True) -> None:
    """Check ``name`` against S3's bucket naming rules.

    With ``strict`` (the default) the rules are those of AWS general purpose buckets, which
    MinIO and SeaweedFS enforce too, plus directory buckets named ``base--zone-id--x-s3``.
    ``strict=False`` is for names those rules refuse but that still exist: buckets created in
    us-east-1 before March 2018 may have up to 255 characters, uppercase letters and
    underscores, and other S3-compatible servers have their own rules. It only refuses what can
    never name a bucket: an empty name, more than 255 characters, or a ``/``, which would be
    read as the start of the key.
    """
    if not name:
        raise InvalidUploadError("the bucket name is empty")
    if not strict:
        if len(name) > _LEGACY_MAX_LENGTH:
            raise InvalidUploadError(
                f"bucket name {name[:20]!r}... is {len(name)} characters long; "
                f"bucket names have at most {_LEGACY_MAX_LENGTH}"
            )
        if "/" in name:
            raise InvalidUploadError(
                f"bucket name {name!r} contains '/'; pass the bucket and the key separately"
            )
        return
    problem = _bucket_name_problem(name)
    if problem is not None:
        shown = f"{name[:63]!r}..." if len(name) > 63 else repr(name)
        raise InvalidUploadError(f"invalid bucket name {shown}: {problem}")


def validate_request_bucket(name: str, *, legacy: bool) -> None:
    """Check the bucket a request names, before it is sent.

    The rules of bucket creation, with what requests may name besides: access point ARNs
    (checked by botocore's endpoint rules) and access point aliases. With ``legacy`` (AWS's own
    endpoints, where they can exist) the names of buckets created in us-east-1 before March
    2018 pass too: see ``validate_bucket_name(strict=False)``.
    """
    if name.startswith("arn:"):
        return
    if legacy:
        validate_bucket_name(name, strict=False)
        return
    if name.endswith(_ALIAS_SUFFIXES) and 3 <= len(name) <= 63:
        base = name.removesuffix("-s3alias").removesuffix("--ol-s3")
        if len(base) >= 3 and _bucket_name_problem(base) is None:
            return
    validate_bucket_name(name)


def _bucket_name_problem(name: str) -> str | None:
    if not 3 <= len(name) <= 63:
        plural = "s" if len(name) != 1 else ""
        return f"it is {len(name)} character{plural} long; {_BUCKET_RULES}"
    if _DIRECTORY_BUCKET.fullmatch(name):
        return None
    bad = sorted(set(name) - _BUCKET_CHARACTERS)
    if bad:
        listed = ", ".join(repr(c) for c in bad)
        hint = " (uppercase is not allowed)" if any(c.isupper() for c in bad) else ""
        return f"it contains {listed}{hint}; {_BUCKET_RULES}"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return f"it must begin and end with a letter or digit; {_BUCKET_RULES}"
    if ".." in name:
        return "it contains two adjacent dots, which S3 does not allow"
    if _IP_ADDRESS.fullmatch(name):
        return "it is formatted as an IP address, which S3 does not allow"
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"the prefix {prefix!r} is reserved by S3"
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            if suffix == "--x-s3":
                return (
                    "the suffix '--x-s3' is reserved for directory buckets, "
                    "which are named 'base-name--zone-id--x-s3'"
                )
            return f"the suffix {suffix!r} is reserved by S3"
    return None


def validate_key(key: str) -> None:
    """Check an object key: non-empty, valid UTF-8, at most 1024 bytes when encoded.

    S3 accepts any other Unicode text as a key, so nothing else is refused.
    """
    if not key:
        raise InvalidUploadError("the object key is empty")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidUploadError(
            f"object key {key[:40]!r} has an unpaired surrogate {key[exc.start]!r} at index "
            f"{exc.start}, which cannot be encoded as UTF-8; keys must be valid Unicode text"
        ) from None
    if len(encoded) > MAX_KEY_BYTES:
        detail = "" if len(encoded) == len(key) else f" ({len(key)} characters)"
        raise InvalidUploadError(
            f"object key {key[:40]!r}... is {len(encoded)} bytes in UTF-8{detail}; "
            f"S3 allows at most {MAX_KEY_BYTES} bytes"
        )


def validate_part_size(n: int) -> None:
    """Check a part size: a whole number of bytes from 5 MiB to 5 GiB."""
    check_part_size(n)


def validate_threshold(n: int) -> None:
    """Check a multipart threshold: a whole number of bytes, at least 1 B.

    Larger values are fine; objects above 5 GiB go multipart whatever the threshold.
    """
    check_threshold(n)


def validate_concurrency(n: int) -> None:
    """Check ``max_concurrency``: a whole number from 1 to 1024."""
    _require_int("max_concurrency", n, 1, MAX_CONCURRENCY, in_bytes=False)
