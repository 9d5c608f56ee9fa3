"""The progress display: rich's bars on stderr, overall and per file, with percentage, rate
and time left, and a line above them for each retry, credential refresh and clock correction.

Shown only when standard output and standard error are both terminals and neither ``--quiet``
nor ``--json`` is given. Callbacks arrive on the uploader's loop thread; rich's progress is
thread-safe.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from .._diagnostics.words import human_bytes
from .._events import EventKind, UploadEvent

PER_FILE_BARS = 8
"""Bars for the files in flight, at most; the overall bar counts them all."""


def wanted(args: Any) -> bool:
    if getattr(args, "quiet", False) or getattr(args, "json", False):
        return False
    return sys.stdout.isatty() and sys.stderr.isatty()


class Display:
    """A context manager; every method is a no-op when the display is off."""

    def __init__(self, enabled: bool, description: str, *, per_file_from: int | None = None):
        self.enabled = enabled
        self._description = description
        self._per_file_from = per_file_from
        """Files of at least this many bytes get their own bar (put-dir); None: no file bars."""
        self._files: dict[str, TaskID] = {}
        self._progress: Progress | None = None
        self._overall: TaskID | None = None

    def __enter__(self) -> Display:
        if self.enabled:
            self._progress = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                TaskProgressColumn(),
                DownloadColumn(binary_units=True),
                _Rate(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._progress.start()
            self._overall = self._progress.add_task(self._description, total=None)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop drawing (before a summary is printed); again is a no-op."""
        progress, self._progress = self._progress, None
        if progress is not None:
            progress.stop()

    def on_progress(self, done: int, total: int | None) -> None:
        """Bytes done overall (an uploader's ``on_progress``)."""
        if self._progress is not None and self._overall is not None:
            self._progress.update(self._overall, completed=done, total=total)

    def describe(self, text: str) -> None:
        if self._progress is not None and self._overall is not None:
            self._progress.update(self._overall, description=text)

    def on_event(self, event: UploadEvent) -> None:
        """An uploader's ``on_event``: notes above the bars, and the per-file bars."""
        progress = self._progress
        if progress is None:
            return
        kind = event.kind
        if kind in (EventKind.RETRY, EventKind.CREDENTIALS_REFRESHED, EventKind.CLOCK_CORRECTED):
            progress.console.print(_note(event), markup=False, highlight=False)
        elif self._per_file_from is None:
            return
        elif kind is EventKind.STARTED:
            big = event.size is not None and event.size >= self._per_file_from
            if big and len(self._files) < PER_FILE_BARS:
                self._files[event.key] = progress.add_task(f"  {event.key}", total=event.size)
        elif kind is EventKind.PART_DONE and event.key in self._files:
            progress.advance(self._files[event.key], event.size or 0)
        elif kind in (EventKind.COMPLETED, EventKind.FAILED) and event.key in self._files:
            progress.remove_task(self._files.pop(event.key))


class _Rate(ProgressColumn):
    """The transfer rate in binary units, as the sizes are (rich's own column is decimal)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{human_bytes(int(speed))}/s" if speed else "", style="progress.data.speed")


def _note(event: UploadEvent) -> str:
    if event.kind is EventKind.RETRY:
        what = f"part {event.part_number}" if event.part_number is not None else event.key
        return f"{what} {event.cause}, retrying in {event.seconds or 0:.1f} s"
    return event.describe()
