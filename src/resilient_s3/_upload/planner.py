"""Upload planning: single PUT or multipart, and how the bytes split into parts.

Pure functions over sizes; nothing here reads files or talks to S3. The limits are S3's (see
``_limits``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from .._exceptions import ObjectTooLargeError
from .._limits import (
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MAX_SINGLE_PUT_SIZE,
    MIN_PART_SIZE,
    MiB,
    binary_size,
    format_size,
    require_int,
    size_text,
    validate_part_size,
    validate_threshold,
)

_STREAM_DOUBLING_INTERVAL = 1000


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
    require_int("size", size, 0, None)
    if size > MAX_OBJECT_SIZE:
        raise ObjectTooLargeError(
            f"the object is {size_text(size)}, larger than S3 accepts: at most "
            f"{format_size(MAX_OBJECT_SIZE)} (about {binary_size(MAX_OBJECT_SIZE)}, "
            f"{MAX_OBJECT_SIZE:,} bytes)"
        )
    validate_part_size(part_size)
    validate_threshold(multipart_threshold)
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
    validate_part_size(base_part_size, name="base_part_size")
    doublings = (part_number - 1) // _STREAM_DOUBLING_INTERVAL
    return min(base_part_size << doublings, MAX_PART_SIZE)


def stream_capacity(base_part_size: int) -> int:
    """Bytes a stream can carry in :data:`MAX_PARTS` parts (see :func:`stream_part_size`)."""
    validate_part_size(base_part_size, name="base_part_size")
    total = 0
    for first in range(1, MAX_PARTS + 1, _STREAM_DOUBLING_INTERVAL):
        count = min(_STREAM_DOUBLING_INTERVAL, MAX_PARTS - first + 1)
        total += count * stream_part_size(first, base_part_size)
    return total
