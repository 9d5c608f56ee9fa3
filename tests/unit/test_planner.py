"""Tests for the upload planner: examples at the S3 limits, then properties over 0..50 TB."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilient_s3._exceptions import InvalidUploadError, ObjectTooLargeError
from resilient_s3._limits import (
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MAX_SINGLE_PUT_SIZE,
    MIN_PART_SIZE,
    GiB,
    MiB,
    format_size,
    size_text,
)
from resilient_s3._upload.planner import (
    Part,
    UploadPlan,
    plan_upload,
    stream_capacity,
    stream_part_size,
)

THRESHOLD = 8 * MiB
PART_SIZE = 8 * MiB


def plan(size: int, threshold: int = THRESHOLD, part_size: int = PART_SIZE) -> UploadPlan:
    return plan_upload(size, multipart_threshold=threshold, part_size=part_size)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def test_limits() -> None:
    assert MiB == 1024**2
    assert GiB == 1024**3
    assert 5 * MiB == MIN_PART_SIZE
    assert MAX_PART_SIZE == MAX_SINGLE_PUT_SIZE == 5 * GiB
    assert MAX_PARTS == 10_000
    assert MAX_OBJECT_SIZE == 50 * 10**12
    assert MAX_PARTS * MAX_PART_SIZE > MAX_OBJECT_SIZE


@pytest.mark.parametrize(
    ("size", "strategy", "part_size", "part_count", "last_length"),
    [
        (0, "single", 0, 1, 0),
        (1, "single", 1, 1, 1),
        (5 * MiB - 1, "single", 5 * MiB - 1, 1, 5 * MiB - 1),
        (5 * MiB, "single", 5 * MiB, 1, 5 * MiB),
        (THRESHOLD - 1, "single", THRESHOLD - 1, 1, THRESHOLD - 1),
        (THRESHOLD, "multipart", PART_SIZE, 1, PART_SIZE),
        (THRESHOLD + 1, "multipart", PART_SIZE, 2, 1),
        (100 * MiB + 3, "multipart", PART_SIZE, 13, 4 * MiB + 3),
        (5 * GiB, "multipart", PART_SIZE, 640, PART_SIZE),
        (5 * GiB + 1, "multipart", PART_SIZE, 641, 1),
        (MAX_PARTS * PART_SIZE, "multipart", PART_SIZE, MAX_PARTS, PART_SIZE),
        (MAX_PARTS * PART_SIZE + 1, "multipart", 9 * MiB, 8889, 8 * MiB + 1),
        (100 * GiB, "multipart", 11 * MiB, 9310, 100 * GiB - 9309 * 11 * MiB),
        (MAX_OBJECT_SIZE, "multipart", 4769 * MiB, 9999, MAX_OBJECT_SIZE - 9998 * 4769 * MiB),
    ],
)
def test_examples(
    size: int, strategy: str, part_size: int, part_count: int, last_length: int
) -> None:
    p = plan(size)
    assert (p.strategy, p.size, p.part_size, p.part_count) == (
        strategy,
        size,
        part_size,
        part_count,
    )
    last = p.part(part_count)
    assert last == Part(part_count, (part_count - 1) * part_size, last_length)


def test_empty_object_is_one_empty_put() -> None:
    assert list(plan(0).parts()) == [Part(1, 0, 0)]


def test_threshold_equal_to_min_part_size() -> None:
    assert plan(5 * MiB - 1, threshold=5 * MiB).strategy == "single"
    assert plan(5 * MiB, threshold=5 * MiB).strategy == "multipart"


def test_threshold_below_min_part_size_gives_one_small_part() -> None:
    p = plan(1, threshold=1)
    assert (p.strategy, p.part_count) == ("multipart", 1)
    assert list(p.parts()) == [Part(1, 0, 1)]


@pytest.mark.parametrize("threshold", [5 * GiB + 1, 5 * GiB + 2, 6 * GiB, MAX_OBJECT_SIZE, 2**80])
def test_single_put_never_above_5_gib(threshold: int) -> None:
    assert plan(5 * GiB, threshold=threshold).strategy == "single"
    assert plan(5 * GiB + 1, threshold=threshold).strategy == "multipart"
    assert plan(MAX_OBJECT_SIZE, threshold=threshold).strategy == "multipart"


def test_threshold_of_5_gib_sends_5_gib_multipart() -> None:
    assert plan(5 * GiB - 1, threshold=5 * GiB).strategy == "single"
    assert plan(5 * GiB, threshold=5 * GiB).strategy == "multipart"


def test_requested_part_size_is_kept_when_it_fits() -> None:
    p = plan(100 * MiB, part_size=5 * MiB + 1)
    assert (p.part_size, p.part_count) == (5 * MiB + 1, 20)


def test_largest_part_size_is_kept() -> None:
    p = plan(MAX_OBJECT_SIZE, part_size=MAX_PART_SIZE)
    assert (p.part_size, p.part_count) == (MAX_PART_SIZE, ceil_div(MAX_OBJECT_SIZE, MAX_PART_SIZE))


def test_adjusted_part_size_is_a_whole_mib() -> None:
    p = plan(MAX_PARTS * (5 * MiB + 1), part_size=5 * MiB + 1)
    assert p.part_size == 5 * MiB + 1
    p = plan(MAX_PARTS * (5 * MiB + 1) + 1, part_size=5 * MiB + 1)
    assert p.part_size == 6 * MiB


def test_too_large() -> None:
    with pytest.raises(ObjectTooLargeError) as info:
        plan(MAX_OBJECT_SIZE + 1)
    message = str(info.value)
    assert "50,000,000,000,001 bytes" in message
    assert "50 TB" in message
    assert isinstance(info.value, InvalidUploadError)


@pytest.mark.parametrize(
    ("size", "threshold", "part_size", "message"),
    [
        (-1, THRESHOLD, PART_SIZE, "size must not be negative"),
        (1.5, THRESHOLD, PART_SIZE, "size must be a whole number of bytes"),
        (True, THRESHOLD, PART_SIZE, "size must be a whole number of bytes"),
        (1, THRESHOLD, 5 * MiB - 1, "part_size must be between 5 MiB and 5 GiB"),
        (1, THRESHOLD, 5 * GiB + 1, "part_size must be between 5 MiB and 5 GiB"),
        (1, THRESHOLD, 0, "part_size must be between 5 MiB and 5 GiB, got 0 B"),
        (1, THRESHOLD, 5.5 * MiB, "part_size must be a whole number of bytes"),
        (1, 0, PART_SIZE, "multipart_threshold must be at least 1 B, got 0 B"),
        (1, -1, PART_SIZE, "multipart_threshold must be at least 1 B"),
        (1, 8.0 * MiB, PART_SIZE, "multipart_threshold must be a whole number"),
    ],
)
def test_invalid_arguments(size: int, threshold: int, part_size: int, message: str) -> None:
    with pytest.raises(InvalidUploadError, match=message):
        plan(size, threshold=threshold, part_size=part_size)


def test_invalid_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match="part_size"):
        plan(1, part_size=1)


@pytest.mark.parametrize("number", [0, -1, 14])
def test_part_number_out_of_range(number: int) -> None:
    p = plan(100 * MiB + 3)
    with pytest.raises(ValueError, match="between 1 and 13"):
        p.part(number)


@pytest.mark.parametrize(
    "args",
    [
        ("single", 10, 5, 1),
        ("single", 10, 10, 2),
        ("single", 5 * GiB + 1, 5 * GiB + 1, 1),
        ("multipart", 0, MIN_PART_SIZE, 0),
        ("multipart", 10 * MiB, MIN_PART_SIZE, 3),
        ("multipart", 10 * MiB, MIN_PART_SIZE - 1, 3),
        ("multipart", MAX_OBJECT_SIZE + 1, MAX_PART_SIZE, 9314),
        ("multipart", MAX_PARTS * MIN_PART_SIZE + 1, MIN_PART_SIZE, MAX_PARTS + 1),
        ("parallel", 10, 10, 1),
    ],
)
def test_plan_rejects_inconsistent_fields(args: tuple[str, int, int, int]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        UploadPlan(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (5 * MiB, "5 MiB"),
        (5 * MiB - 1, "5 MiB"),
        (1536 * MiB, "1.5 GiB"),
        (1025 * MiB, "1025 MiB"),
        (GiB - 1, "1 GiB"),
        (5 * GiB, "5 GiB"),
        (5 * 10**9, "5 GB"),
        (2 * 10**6, "2 MB"),
        (MAX_OBJECT_SIZE, "50 TB"),
        (MAX_OBJECT_SIZE + 1, "45.47 TiB"),
        (3 * 1024**4, "3 TiB"),
        (-5 * MiB, "-5 MiB"),
    ],
)
def test_format_size(n: int, text: str) -> None:
    assert format_size(n) == text


def test_size_text_shows_bytes_when_rounded() -> None:
    assert size_text(5 * MiB) == "5 MiB"
    assert size_text(5 * MiB - 1) == "5,242,879 bytes (about 5 MiB)"


# Properties over the whole range 0..50 TB, biased towards the edges where rules change.

EDGES = [
    0,
    1,
    MIN_PART_SIZE,
    THRESHOLD,
    MAX_SINGLE_PUT_SIZE,
    MAX_PARTS * MIN_PART_SIZE,
    MAX_PARTS * PART_SIZE,
    MAX_PARTS * 64 * MiB,
    MAX_PARTS * 4768 * MiB,
    MAX_OBJECT_SIZE,
]
edge_sizes = st.sampled_from(EDGES).flatmap(
    lambda e: st.integers(max(0, e - 3), min(MAX_OBJECT_SIZE, e + 3))
)
mib_sizes = st.integers(0, MAX_OBJECT_SIZE // MiB).map(lambda m: m * MiB)
sizes = st.one_of(st.integers(0, MAX_OBJECT_SIZE), st.integers(0, 64 * MiB), edge_sizes, mib_sizes)
part_sizes = st.one_of(
    st.integers(MIN_PART_SIZE, MAX_PART_SIZE),
    st.integers(5, 5 * 1024).map(lambda m: m * MiB),
    st.sampled_from(
        [MIN_PART_SIZE, MIN_PART_SIZE + 1, PART_SIZE, MAX_PART_SIZE - 1, MAX_PART_SIZE]
    ),
)
thresholds = st.one_of(
    st.integers(1, 2 * MAX_OBJECT_SIZE),
    st.integers(1, 64 * MiB),
    st.sampled_from([1, MIN_PART_SIZE, THRESHOLD, 5 * GiB, 5 * GiB + 1, 5 * GiB + 2, 2**63]),
)


@settings(max_examples=1000, deadline=None)
@given(size=sizes, threshold=thresholds, part_size=part_sizes)
def test_plan_properties(size: int, threshold: int, part_size: int) -> None:
    p = plan_upload(size, multipart_threshold=threshold, part_size=part_size)
    assert p.size == size
    single = size < threshold and size <= MAX_SINGLE_PUT_SIZE
    assert p.strategy == ("single" if single else "multipart")
    if single:
        assert (p.part_size, p.part_count) == (size, 1)
        assert p.part(1) == Part(1, 0, size)
        return

    n = p.part_count
    assert 1 <= n <= MAX_PARTS
    assert MIN_PART_SIZE <= p.part_size <= MAX_PART_SIZE
    assert p.part_size >= part_size
    first, last = p.part(1), p.part(n)
    assert first.offset == 0
    if n > 1:
        assert first.length == p.part_size
        assert p.part(n - 1) == Part(n - 1, (n - 2) * p.part_size, p.part_size)
    assert last.offset == (n - 1) * p.part_size
    assert 1 <= last.length <= p.part_size
    assert last.offset + last.length == size

    if p.part_size != part_size:
        assert ceil_div(size, part_size) > MAX_PARTS
        assert p.part_size % MiB == 0
        if p.part_size != MIN_PART_SIZE:
            assert ceil_div(size, p.part_size - MiB) > MAX_PARTS


@settings(max_examples=40, deadline=None)
@given(size=sizes, part_size=part_sizes)
def test_parts_cover_the_object_exactly(size: int, part_size: int) -> None:
    p = plan_upload(size, multipart_threshold=1, part_size=part_size)
    position = 0
    count = 0
    for count, part in enumerate(p.parts(), start=1):
        assert part.number == count
        assert part.offset == position
        if count < p.part_count:
            assert part.length == p.part_size
        position += part.length
    assert count == p.part_count
    assert position == size


@settings(max_examples=300, deadline=None)
@given(size=sizes, part_size=part_sizes, data=st.data())
def test_part_matches_parts(size: int, part_size: int, data: st.DataObject) -> None:
    p = plan_upload(size, multipart_threshold=1, part_size=part_size)
    number = data.draw(st.integers(1, p.part_count))
    part = p.part(number)
    assert part.number == number
    assert part.offset == (number - 1) * p.part_size
    assert part.length == min(p.part_size, size - part.offset)


# Streams of unknown size.


@pytest.mark.parametrize(
    ("number", "base", "expected"),
    [
        (1, MIN_PART_SIZE, MIN_PART_SIZE),
        (1000, MIN_PART_SIZE, MIN_PART_SIZE),
        (1001, MIN_PART_SIZE, 2 * MIN_PART_SIZE),
        (2001, MIN_PART_SIZE, 4 * MIN_PART_SIZE),
        (MAX_PARTS, MIN_PART_SIZE, 512 * MIN_PART_SIZE),
        (MAX_PARTS, 16 * MiB, MAX_PART_SIZE),
        (1, MAX_PART_SIZE, MAX_PART_SIZE),
        (1001, 3 * GiB, MAX_PART_SIZE),
        (MAX_PARTS, MAX_PART_SIZE, MAX_PART_SIZE),
    ],
)
def test_stream_part_size_examples(number: int, base: int, expected: int) -> None:
    assert stream_part_size(number, base) == expected


def test_stream_schedule_for_smallest_base() -> None:
    sizes = [stream_part_size(n, MIN_PART_SIZE) for n in range(1, MAX_PARTS + 1)]
    assert all(MIN_PART_SIZE <= s <= MAX_PART_SIZE for s in sizes)
    assert sizes == sorted(sizes)
    assert sum(sizes) == stream_capacity(MIN_PART_SIZE) == 1_023_000 * MIN_PART_SIZE


@pytest.mark.parametrize("base", [MIN_PART_SIZE + 1, PART_SIZE, 100 * MiB + 7, MAX_PART_SIZE])
def test_stream_capacity_is_the_sum_of_the_parts(base: int) -> None:
    total = sum(stream_part_size(n, base) for n in range(1, MAX_PARTS + 1))
    assert stream_capacity(base) == total


def test_default_stream_capacity_is_terabytes() -> None:
    assert stream_capacity(8 * MiB) > 8 * 10**12


@settings(max_examples=300, deadline=None)
@given(base=part_sizes, number=st.integers(1, MAX_PARTS - 1))
def test_stream_parts_are_legal_and_never_shrink(base: int, number: int) -> None:
    size = stream_part_size(number, base)
    assert base <= size <= MAX_PART_SIZE
    assert size <= stream_part_size(number + 1, base)


@pytest.mark.parametrize("number", [0, -1, MAX_PARTS + 1])
def test_stream_part_number_out_of_range(number: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 10000"):
        stream_part_size(number, MIN_PART_SIZE)


@pytest.mark.parametrize("base", [MIN_PART_SIZE - 1, MAX_PART_SIZE + 1, 0])
def test_stream_base_out_of_range(base: int) -> None:
    with pytest.raises(InvalidUploadError, match="base_part_size must be between 5 MiB and 5 GiB"):
        stream_part_size(1, base)
    with pytest.raises(InvalidUploadError, match="base_part_size"):
        stream_capacity(base)
