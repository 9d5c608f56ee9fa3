"""Uploading every regular file below a directory, through one pipeline and its one bound.

The tree is walked lazily, a batch at a time in a worker thread, and each file's outcome goes
to ``on_file`` as soon as it is known: nothing is kept per file, so memory stays flat for any
number of files (only the totals are counted). The walk goes depth first in the order the file
system lists each directory: sorting a directory would hold all its names at once, and a
directory can hold millions.
"""

from __future__ import annotations

import fnmatch
import mimetypes
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from .._exceptions import InvalidUploadError, SourceError, UploadError
from .._limits import validate_key
from .._outcomes import DirectoryReport, FileOutcome
from .._resilience.retry import Counters
from .._s3.errors import Where
from .._types import ProgressCallback
from .pipeline import Pipeline, UploadRequest
from .source import FileSource
from .unchanged import holds_file

FileCallback = Callable[[FileOutcome], None]

BATCH = 256
"""Files taken from the walk per trip to the worker thread."""
KEPT_FAILURES = 100


@dataclass(frozen=True, slots=True)
class Selection:
    """Which files below the directory are uploaded: those matching any ``include`` pattern
    (all when there is none) and no ``exclude`` pattern. Patterns are shell globs matched
    against the path relative to the directory, with ``/`` separators (``*`` crosses them)."""

    include: Sequence[str] = ()
    exclude: Sequence[str] = ()

    def __call__(self, relative: str) -> bool:
        if self.include and not any(fnmatch.fnmatchcase(relative, p) for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(relative, p) for p in self.exclude)


def walk(root: Path, selected: Selection) -> Iterator[tuple[Path, str, int]]:
    """(path, relative posix path, size) of every selected regular file below ``root``;
    symlinks are not followed."""
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            scan = os.scandir(directory)
        except OSError:
            continue  # unreadable or vanished since it was listed: nothing to upload in it
        with scan:
            for entry in scan:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    path = Path(entry.path)
                    relative = path.relative_to(root).as_posix()
                    if selected(relative):
                        yield path, relative, entry.stat(follow_symlinks=False).st_size


class _Lazy:
    """The walk, advanced a batch at a time in a worker thread, shared by the workers."""

    def __init__(self, files: Iterator[tuple[Path, str, int]]) -> None:
        self._files = files
        self._ready: deque[tuple[Path, str, int]] = deque()
        self._lock = anyio.Lock()
        self._done = False

    async def next(self) -> tuple[Path, str, int] | None:
        if self._ready:  # no await between the check and the pop: no other worker can interleave
            return self._ready.popleft()
        async with self._lock:
            if not self._ready and not self._done:
                batch = await anyio.to_thread.run_sync(self._take)
                self._ready.extend(batch)
                self._done = len(batch) < BATCH
            return self._ready.popleft() if self._ready else None

    def _take(self) -> list[tuple[Path, str, int]]:
        batch = []
        for item in self._files:
            batch.append(item)
            if len(batch) == BATCH:
                break
        return batch


@dataclass
class _Totals:
    files: int = 0
    uploaded: int = 0
    skipped: int = 0
    failed: int = 0
    bytes_uploaded: int = 0


async def upload_tree(
    pipeline: Pipeline,
    directory: str | os.PathLike[str],
    bucket: str,
    prefix: str,
    args: Mapping[str, Any],
    *,
    workers: int,
    on_file: FileCallback | None = None,
    on_progress: ProgressCallback | None = None,
    selection: Selection = Selection(),
    skip_unchanged: bool = False,
    guess_content_type: bool = False,
) -> DirectoryReport:
    """Every selected file below ``directory`` to ``prefix`` + its relative path. Every file
    with a valid key is attempted; each outcome goes to ``on_file`` when it is known."""
    root = Path(directory)
    if not await anyio.Path(root).is_dir():
        raise SourceError(f"{root} is not a directory")
    started = time.monotonic()
    total: int | None = None
    if on_progress is not None:  # a first walk for the total, counting numbers only
        total = await anyio.to_thread.run_sync(
            lambda: sum(size for _, _, size in walk(root, selection))
        )
    files = _Lazy(walk(root, selection))
    totals = _Totals()
    first_failures: list[FileOutcome] = []
    sent = 0
    in_flight: dict[str, int] = {}

    def file_progress(key: str) -> ProgressCallback | None:
        if on_progress is None:
            return None

        def update(done: int, _total: int | None) -> None:
            in_flight[key] = done
            on_progress(sent + sum(in_flight.values()), total)

        return update

    def finish(outcome: FileOutcome) -> None:
        nonlocal sent
        totals.files += 1
        if outcome.status == "uploaded":
            totals.uploaded += 1
            totals.bytes_uploaded += outcome.size
        elif outcome.status == "skipped":
            totals.skipped += 1
        else:
            totals.failed += 1
            if len(first_failures) < KEPT_FAILURES:
                first_failures.append(outcome)
        if on_progress is not None:
            reported = in_flight.pop(outcome.key, None)
            sent += outcome.size
            if reported != outcome.size:  # skipped or failed: its bytes count as done now
                on_progress(sent, total)
        if on_file is not None:
            on_file(outcome)

    async def one(path: Path, relative: str, size: int) -> FileOutcome:
        key = prefix + relative
        try:
            validate_key(key)
        except InvalidUploadError as exc:
            exc.bucket, exc.key = bucket, key
            return FileOutcome(str(path), key, "failed", size, error=exc)
        source = None
        try:
            source = FileSource(path)
            where = Where(bucket, key)
            if skip_unchanged and await holds_file(
                pipeline.commit, pipeline.kind_for(args), where, args, source, Counters()
            ):
                return FileOutcome(str(path), key, "skipped", size)
            file_args = _with_content_type(args, relative) if guess_content_type else args
            request = UploadRequest(source, bucket, key, file_args, file_progress(key))
            result = await pipeline.upload(request)
            return FileOutcome(str(path), key, "uploaded", result.size, result=result)
        except UploadError as exc:
            return FileOutcome(str(path), key, "failed", size, error=exc)
        finally:
            if source is not None:
                source.close()

    async def worker() -> None:
        # The workers share the walk: cheaper than a task and a limiter per file (about
        # 45 us of a 500 us small-file upload, measured).
        while (item := await files.next()) is not None:
            finish(await one(*item))

    async with anyio.create_task_group() as tg:
        for _ in range(max(1, workers)):
            tg.start_soon(worker)
    return DirectoryReport(
        files=totals.files,
        uploaded=totals.uploaded,
        skipped=totals.skipped,
        failed=totals.failed,
        bytes_uploaded=totals.bytes_uploaded,
        elapsed=time.monotonic() - started,
        first_failures=tuple(first_failures),
    )


def _with_content_type(args: Mapping[str, Any], relative: str) -> Mapping[str, Any]:
    if "ContentType" in args:
        return args
    guessed, _ = mimetypes.guess_type(relative, strict=False)
    return {**args, "ContentType": guessed} if guessed else args
