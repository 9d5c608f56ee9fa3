"""S3's limits and naming rules, and sizes as people write them: checked before any request.

Each check raises :class:`InvalidUploadError` with a message that says what is wrong and what is
allowed, so a mistake costs no round trip and no half-made multipart upload. The limits are
S3's (botocore's S3 model): parts of 5 MiB..5 GiB (the last part may be smaller), at most
10,000 parts, a single PUT of at most 5 GiB and an object of at most 50 TB. Pure: part of the
library's vocabulary, used by the settings, the planner and the test server alike.
"""

from __future__ import annotations

import re
import string

from ._exceptions import InvalidUploadError

MiB = 1024**2
GiB = 1024**3
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_SINGLE_PUT_SIZE = 5 * GiB
MAX_OBJECT_SIZE = 50 * 10**12
MAX_KEY_BYTES = 1024
MAX_CONCURRENCY = 1024

_BINARY_UNITS = (("PiB", 1024**5), ("TiB", 1024**4), ("GiB", GiB), ("MiB", MiB), ("KiB", 1024))
_DECIMAL_UNITS = (("PB", 10**15), ("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3))

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


def validate_part_size(n: int, *, name: str = "part_size") -> None:
    """Check a part size: a whole number of bytes from 5 MiB to 5 GiB."""
    require_int(name, n, MIN_PART_SIZE, MAX_PART_SIZE)


def validate_threshold(n: int, *, name: str = "multipart_threshold") -> None:
    """Check a multipart threshold: a whole number of bytes, at least 1 B.

    Larger values are fine; objects above 5 GiB go multipart whatever the threshold.
    """
    require_int(name, n, 1, None)


def validate_concurrency(n: int) -> None:
    """Check ``max_concurrency``: a whole number from 1 to 1024."""
    require_int("max_concurrency", n, 1, MAX_CONCURRENCY, in_bytes=False)


def format_size(n: int) -> str:
    """Format a byte count for people: ``"5 MiB"``, ``"1.5 GiB"``, ``"50 TB"``, ``"1000 B"``.

    Binary units are preferred; a decimal unit is used only when it states the value exactly
    and no binary unit does (``5 * 10**9`` is ``"5 GB"``). Otherwise the value is rounded to two
    decimals in the largest binary unit that fits.
    """
    return _format_size(n)[0]


_UNITS_BY_NAME = {name.lower(): unit for name, unit in (*_BINARY_UNITS, *_DECIMAL_UNITS)}
_UNITS_BY_NAME.update(b=1, kib=1024)


def parse_size(text: str) -> int:
    """A byte count from ``"8MiB"``, ``"1.5 GiB"``, ``"64KiB"``, ``"5 MB"`` or ``"5242880"``.

    Binary units (KiB, MiB, GiB, TiB, PiB) are powers of 1024; decimal ones (kB, MB, GB, TB,
    PB) powers of 1000, as :func:`format_size` writes them. A bare ``k``, ``m`` or ``g`` says
    neither and is refused rather than guessed. ValueError says what is wrong.
    """
    clean = text.strip()
    number = clean.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ").strip()
    unit = clean[len(number) :].strip()
    if unit.lower() in ("k", "m", "g", "t", "p"):
        raise ValueError(
            f"{text!r} is ambiguous: write {number}{unit.upper()}iB for powers of 1024 "
            f"or {number}{unit.upper()}B for powers of 1000"
        )
    scale = _UNITS_BY_NAME.get(unit.lower()) if unit else 1
    try:
        value = float(number)
    except ValueError:
        value = float("nan")
    if scale is None or value != value or value < 0:
        raise ValueError(f"not a size: {text!r}; write e.g. 8MiB, 64KiB, 5MB or 5242880")
    bytes_ = value * scale
    if bytes_ != int(bytes_):
        raise ValueError(f"{text!r} is not a whole number of bytes")
    return int(bytes_)


def size_text(n: int) -> str:
    """``format_size(n)`` when that is exact, else the byte count with the rounded value."""
    text, exact = _format_size(n)
    return text if exact else f"{n:,} bytes (about {text})"


def require_int(
    name: str, value: int, low: int, high: int | None, *, in_bytes: bool = True
) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        unit = " of bytes" if in_bytes else ""
        raise InvalidUploadError(f"{name} must be a whole number{unit}, got {value!r}")
    if low <= value and (high is None or value <= high):
        return
    show = size_text if in_bytes else str
    if high is None and low == 0:
        raise InvalidUploadError(f"{name} must not be negative, got {show(value)}")
    if high is None:
        allowed = f"at least {format_size(low) if in_bytes else low}"
    elif in_bytes:
        allowed = f"between {format_size(low)} and {format_size(high)}"
    else:
        allowed = f"between {low} and {high}"
    raise InvalidUploadError(f"{name} must be {allowed}, got {show(value)}")


def _format_size(n: int) -> tuple[str, bool]:
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n < 1024:
        return f"{sign}{n} B", True
    for name, unit in (*_BINARY_UNITS, *_DECIMAL_UNITS):
        if unit <= n < 10_000 * unit and (n * 100) % unit == 0:
            return f"{sign}{_decimals(n / unit)} {name}", True
    return f"{sign}{binary_size(n)}", False


def binary_size(n: int) -> str:
    index = next(i for i, (_, unit) in enumerate(_BINARY_UNITS) if unit <= n)
    value = round(n / _BINARY_UNITS[index][1], 2)
    if value >= 1024 and index > 0:
        index -= 1
        value = round(n / _BINARY_UNITS[index][1], 2)
    return f"{_decimals(value)} {_BINARY_UNITS[index][0]}"


def _decimals(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")
