"""Upload planning: single PUT or multipart, and how the bytes split into parts.

Pure functions over sizes; nothing here reads files or talks to S3. The limits are S3's
(botocore's S3 model): parts of 5 MiB..5 GiB (the last part may be smaller), at most 10,000
parts, a single PUT of at most 5 GiB and an object of at most 50 TB.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from ._exceptions import InvalidUploadError, ObjectTooLargeError

__all__ = [
    "MAX_OBJECT_SIZE",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MAX_SINGLE_PUT_SIZE",
    "MIN_PART_SIZE",
    "GiB",
    "MiB",
    "Part",
    "UploadPlan",
    "format_size",
    "parse_size",
    "plan_upload",
    "stream_capacity",
    "stream_part_size",
]

MiB = 1024**2
GiB = 1024**3
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_SINGLE_PUT_SIZE = 5 * GiB
MAX_OBJECT_SIZE = 50 * 10**12

_STREAM_DOUBLING_INTERVAL = 1000

_BINARY_UNITS = (("PiB", 1024**5), ("TiB", 1024**4), ("GiB", GiB), ("MiB", MiB), ("KiB", 1024))
_DECIMAL_UNITS = (("PB", 10**15), ("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3))


@dataclass(frozen=True, slots=True)
class Part:
    """One part of an upload: ``length`` bytes of the source starting at ``offset``."""

    number: int
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class UploadPlan:
    """How one object of known size is uploaded; legal for S3 by construction.

    For ``"single"`` the plan has one part covering the whole object (possibly empty) and
    ``part_size == size``. For ``"multipart"`` every part but the last is ``part_size`` bytes and
    the last is 1..``part_size`` bytes.
    """

    strategy: Literal["single", "multipart"]
    size: int
    part_size: int
    part_count: int

    def __post_init__(self) -> None:
        if self.strategy == "single":
            if not 0 <= self.size <= MAX_SINGLE_PUT_SIZE:
                raise ValueError(f"a single PUT holds 0 B to 5 GiB, not {self.size} bytes")
            if self.part_size != self.size or self.part_count != 1:
                raise ValueError("a single PUT has one part with part_size == size")
        elif self.strategy == "multipart":
            if not 1 <= self.size <= MAX_OBJECT_SIZE:
                raise ValueError(f"a multipart upload holds 1 B to 50 TB, not {self.size} bytes")
            if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
                raise ValueError(f"part_size must be 5 MiB to 5 GiB, not {self.part_size} bytes")
            if self.part_count != -(-self.size // self.part_size):
                raise ValueError(
                    f"{self.size} bytes in parts of {self.part_size} bytes make "
                    f"{-(-self.size // self.part_size)} parts, not {self.part_count}"
                )
            if self.part_count > MAX_PARTS:
                raise ValueError(f"{self.part_count} parts is more than S3 allows ({MAX_PARTS})")
        else:
            raise ValueError(f"strategy must be 'single' or 'multipart', not {self.strategy!r}")

    def part(self, number: int) -> Part:
        """Return part ``number`` (1-based); ValueError outside 1..``part_count``."""
        if not 1 <= number <= self.part_count:
            raise ValueError(f"part number must be between 1 and {self.part_count}, got {number}")
        offset = (number - 1) * self.part_size
        return Part(number, offset, min(self.part_size, self.size - offset))

    def parts(self) -> Iterator[Part]:
        """Yield every part in order; together they cover ``[0, size)`` exactly."""
        for number in range(1, self.part_count + 1):
            yield self.part(number)


def plan_upload(size: int, *, multipart_threshold: int, part_size: int) -> UploadPlan:
    """Plan the upload of ``size`` bytes.

    Objects smaller than ``multipart_threshold`` (and never larger than 5 GiB) go in one PUT,
    an empty object included. Larger ones go multipart with ``part_size``, or, when that would
    take more than 10,000 parts, the smallest whole number of MiB that fits.

    Raises :class:`InvalidUploadError` for a negative size or an argument out of range and
    :class:`ObjectTooLargeError` above :data:`MAX_OBJECT_SIZE`.
    """
    _require_int("size", size, 0, None)
    if size > MAX_OBJECT_SIZE:
        raise ObjectTooLargeError(
            f"the object is {size_text(size)}, larger than S3 accepts: at most "
            f"{format_size(MAX_OBJECT_SIZE)} (about {_binary_size(MAX_OBJECT_SIZE)}, "
            f"{MAX_OBJECT_SIZE:,} bytes)"
        )
    check_part_size(part_size)
    check_threshold(multipart_threshold)
    if size < min(multipart_threshold, MAX_SINGLE_PUT_SIZE + 1):
        return UploadPlan("single", size, size, 1)
    needed = -(-size // MAX_PARTS)
    if needed > part_size:
        part_size = min(max(-(-needed // MiB) * MiB, MIN_PART_SIZE), MAX_PART_SIZE)
    return UploadPlan("multipart", size, part_size, -(-size // part_size))


def stream_part_size(part_number: int, base_part_size: int) -> int:
    """Size of part ``part_number`` (1-based) of a stream whose length is unknown.

    Parts 1-1,000 are ``base_part_size`` bytes; the size doubles every 1,000 parts after that
    (part 1,001 is 2x, part 2,001 is 4x, ...) up to :data:`MAX_PART_SIZE`. Part buffers, and so
    memory, stay at the base size for the first 1,000 parts (8 GB with 8 MiB parts) and grow
    only for longer streams. 10,000 parts then hold 1,023,000 base parts: about 8.6 TB from an
    8 MiB base, 5.4 TB from 5 MiB. Reaching S3's 50 TB limit would need parts near 5 GiB from
    the first tenth of the stream on, so a stream that large needs a larger base part size.

    Raises ValueError for a part number outside 1..10,000 and :class:`InvalidUploadError` for a
    base outside 5 MiB..5 GiB.
    """
    if not 1 <= part_number <= MAX_PARTS:
        raise ValueError(f"part number must be between 1 and {MAX_PARTS}, got {part_number}")
    check_part_size(base_part_size, name="base_part_size")
    doublings = (part_number - 1) // _STREAM_DOUBLING_INTERVAL
    return min(base_part_size << doublings, MAX_PART_SIZE)


def stream_capacity(base_part_size: int) -> int:
    """Bytes a stream can carry in :data:`MAX_PARTS` parts (see :func:`stream_part_size`)."""
    check_part_size(base_part_size, name="base_part_size")
    total = 0
    for first in range(1, MAX_PARTS + 1, _STREAM_DOUBLING_INTERVAL):
        count = min(_STREAM_DOUBLING_INTERVAL, MAX_PARTS - first + 1)
        total += count * stream_part_size(first, base_part_size)
    return total


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


def check_part_size(n: int, *, name: str = "part_size") -> None:
    """Raise InvalidUploadError unless ``n`` is a whole number of bytes in 5 MiB..5 GiB."""
    _require_int(name, n, MIN_PART_SIZE, MAX_PART_SIZE)


def check_threshold(n: int, *, name: str = "multipart_threshold") -> None:
    """Raise InvalidUploadError unless ``n`` is a whole number of bytes, at least 1 B.

    Any larger value is allowed: objects above 5 GiB go multipart whatever the threshold.
    """
    _require_int(name, n, 1, None)


def _require_int(
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
    return f"{sign}{_binary_size(n)}", False


def _binary_size(n: int) -> str:
    index = next(i for i, (_, unit) in enumerate(_BINARY_UNITS) if unit <= n)
    value = round(n / _BINARY_UNITS[index][1], 2)
    if value >= 1024 and index > 0:
        index -= 1
        value = round(n / _BINARY_UNITS[index][1], 2)
    return f"{_decimals(value)} {_BINARY_UNITS[index][0]}"


def _decimals(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")
