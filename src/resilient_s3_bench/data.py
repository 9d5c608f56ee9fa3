"""The data set: random bytes written once, with the digests the parent verifies against."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .protocol import LARGE_KEY, MiB

_CHUNK = 4 * MiB


@dataclass(frozen=True)
class Expected:
    """One object a run should leave behind: its key below the run's prefix and content."""

    name: str
    size: int
    md5: str
    sha256: str


@dataclass(frozen=True)
class DataSet:
    root: Path
    large: Expected | None
    small: tuple[Expected, ...]

    @property
    def large_path(self) -> Path:
        return self.root / LARGE_KEY

    @property
    def small_dir(self) -> Path:
        return self.root / "small"

    def source(self, workload: str) -> Path:
        return self.large_path if workload == "large" else self.small_dir

    def expected(self, workload: str) -> tuple[Expected, ...]:
        if workload == "large":
            assert self.large is not None
            return (self.large,)
        return self.small

    def size(self, workload: str) -> int:
        return sum(e.size for e in self.expected(workload))


def _write(path: Path, size: int) -> Expected:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, _CHUNK))
            md5.update(chunk)
            sha.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return Expected(path.name, size, md5.hexdigest(), sha.hexdigest())


def make_data(root: Path, *, large_size: int | None, small_count: int, small_size: int) -> DataSet:
    """Write ``large.bin`` (if ``large_size`` is given) and ``small_count`` files into
    ``root/small`` (if ``small_count``)."""
    root.mkdir(parents=True, exist_ok=True)
    large = _write(root / LARGE_KEY, large_size) if large_size is not None else None
    small: list[Expected] = []
    if small_count:
        (root / "small").mkdir(exist_ok=True)
        width = max(5, len(str(small_count - 1)))
        small = [
            _write(root / "small" / f"{i:0{width}d}.bin", small_size) for i in range(small_count)
        ]
    return DataSet(root, large, tuple(small))
