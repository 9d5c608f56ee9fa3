"""What a directory upload reports: each file's outcome as it finishes, and the totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ._exceptions import UploadError
from ._result import UploadResult


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What became of one file of a directory upload, as soon as it is known."""

    path: str
    key: str
    status: Literal["uploaded", "skipped", "failed"]
    """``skipped``: the object at the key already holds this file (see ``skip_unchanged``)."""
    size: int
    result: UploadResult | None = None
    error: UploadError | None = None
    """For a failed file: the error, with its ``diagnosis``."""


@dataclass(frozen=True, slots=True)
class DirectoryReport:
    """A directory upload's totals, kept as numbers: the same few bytes for ten files or ten
    million. Each file's outcome went to ``on_file`` as it finished."""

    files: int
    uploaded: int
    skipped: int
    failed: int
    bytes_uploaded: int
    elapsed: float
    first_failures: tuple[FileOutcome, ...] = ()
    """The first failures (at most 100), for a summary; every one went to ``on_file``."""

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return self.failed == 0
