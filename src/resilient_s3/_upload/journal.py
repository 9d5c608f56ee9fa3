"""Resumable multipart state on disk: one journal entry per multipart upload of a file.

An entry is a JSON-lines file: its first line describes the upload (where, which upload id,
which version of which file, how it is cut into parts), each further line one part S3 has
acknowledged, appended as it is. A line is written with one ``write``; a torn last line (a
crash mid-write) is ignored on reading, and ListParts is the final word on what S3 holds, so
no fsync is needed. The header is replaced atomically (temporary file and ``os.replace``).

Each entry has a lock file, held with ``flock`` while an upload uses the entry: two processes
uploading the same file to the same key never share an upload id; the second starts its own.
Aborts that failed are remembered in ``aborts/``, for the next run or ``resilient-s3 cleanup``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("resilient_s3")

VERSION = 1
ENV_DIR = "RESILIENT_S3_JOURNAL_DIR"


def default_directory() -> Path:
    """``$RESILIENT_S3_JOURNAL_DIR``, else the user cache directory's ``resilient-s3/journal``."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "resilient-s3" / "journal"


@dataclass(frozen=True, slots=True)
class Header:
    """What identifies an interrupted upload and the file version it was uploading."""

    endpoint: str
    bucket: str
    key: str
    path: str
    upload_id: str
    token: str  # in the object's metadata only with UploadConfig(completion_token=True)
    part_size: int
    algorithm: str
    args: str  # a digest of the extra_args: a resume must not change the object's attributes
    size: int
    mtime_ns: int
    inode: int
    sample: str  # SHA-256 of the file's first, middle and last 64 KiB
    created: float  # time.time() before CreateMultipartUpload: the object cannot be older
    extra_args: dict[str, Any]  # without secrets (SSE-C keys): what `resume` passes again
    needs_secrets: bool  # SSE-C was used: only the caller, who has the key, can resume
    version: int = VERSION


@dataclass(frozen=True, slots=True)
class JournalPart:
    number: int
    etag: str
    checksum: str  # base64, as sent
    length: int


@dataclass(frozen=True, slots=True)
class PendingAbort:
    endpoint: str
    bucket: str
    key: str
    upload_id: str
    since: float


class Entry:
    """One upload's journal file, locked for this process while open."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._lock_fd = lock_fd

    def read(self) -> tuple[Header, dict[int, JournalPart]] | None:
        """The header and acknowledged parts; None if there is no usable entry."""
        try:
            lines = self.path.read_bytes().split(b"\n")
        except FileNotFoundError:
            return None
        try:
            fields = json.loads(lines[0])
            header = Header(**fields)
        except (ValueError, TypeError):
            logger.warning("ignoring an unreadable journal entry %s", self.path)
            return None
        if header.version != VERSION:
            return None
        parts: dict[int, JournalPart] = {}
        for line in lines[1:]:
            try:
                part = JournalPart(**json.loads(line))
            except (ValueError, TypeError):
                continue  # a torn last line
            parts[part.number] = part
        return header, parts

    def start(self, header: Header) -> None:
        _write_atomically(self.path, json.dumps(asdict(header), default=str) + "\n")

    def add_part(self, part: JournalPart) -> None:
        line = (json.dumps(asdict(part)) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()

    def close(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = -1


def _lock(lock_path: Path) -> int | None:
    """An exclusive lock on ``lock_path`` (created if need be): its descriptor, or None while
    another process holds it. OSError when the file cannot be opened."""
    lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock_fd)
        return None
    return lock_fd


class Journal:
    """A directory of journal entries, shared safely by concurrent processes."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_directory()

    def open(self, endpoint: str, bucket: str, key: str, path: Path) -> Entry | None:
        """The entry for uploading ``path`` to ``bucket/key`` at ``endpoint``, locked; None if
        another process holds it (or the directory cannot be written: then no journal)."""
        name = hashlib.sha256(f"{endpoint}\0{bucket}\0{key}\0{path}".encode()).hexdigest()[:32]
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            lock_fd = _lock(self.directory / f"{name}.lock")
        except OSError as exc:
            logger.warning("no journal, so no resume after a crash: %s", exc)
            return None
        if lock_fd is None:
            logger.info("another process is uploading %s to s3://%s/%s", path, bucket, key)
            return None
        return Entry(self.directory / f"{name}.jsonl", lock_fd)

    def entries(self) -> Iterator[tuple[Entry, Header, dict[int, JournalPart]]]:
        """Every entry not in use by another process, locked while the caller holds it."""
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*.jsonl")):
            try:
                lock_fd = _lock(path.with_suffix(".lock"))
            except OSError:
                continue
            if lock_fd is None:
                continue
            entry = Entry(path, lock_fd)
            try:
                found = entry.read()
                if found is not None:
                    yield entry, *found
            finally:
                entry.close()

    def upload_ids_in_use(self) -> set[str]:
        """Upload ids of entries another process holds now: uploads in progress."""
        in_use: set[str] = set()
        if not self.directory.is_dir():
            return in_use
        for path in self.directory.glob("*.jsonl"):
            try:
                lock_fd = os.open(path.with_suffix(".lock"), os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                found = Entry(path, -1).read()
                if found is not None:
                    in_use.add(found[0].upload_id)
            finally:
                os.close(lock_fd)
        return in_use

    # -- aborts that failed ---------------------------------------------------------------

    def remember_abort(self, endpoint: str, bucket: str, key: str, upload_id: str) -> None:
        pending = PendingAbort(endpoint, bucket, key, upload_id, time.time())
        name = hashlib.sha256(upload_id.encode()).hexdigest()[:32]
        try:
            (self.directory / "aborts").mkdir(parents=True, exist_ok=True)
            _write_atomically(
                self.directory / "aborts" / f"{name}.json", json.dumps(asdict(pending))
            )
        except OSError as exc:
            logger.warning("could not remember the failed abort of %s: %s", upload_id, exc)

    def pending_aborts(self) -> list[tuple[Path, PendingAbort]]:
        found = []
        for path in sorted((self.directory / "aborts").glob("*.json")):
            try:
                found.append((path, PendingAbort(**json.loads(path.read_bytes()))))
            except (OSError, ValueError, TypeError):
                continue
        return found


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` at once; readable by its owner only (the journal names
    buckets, keys, paths and object metadata)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


SECRET_ARGS = frozenset({"SSECustomerKey", "SSECustomerKeyMD5", "CopySourceSSECustomerKey"})


def without_secrets(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k not in SECRET_ARGS}


def args_digest(args: dict[str, Any]) -> str:
    """A digest of the object's attributes. SSE-C keys count through their MD5 only (which S3
    sends in headers anyway); values JSON cannot hold count as their ``str``, as the journal
    stores them, so arguments read back from the journal give the same digest."""
    args = dict(args)
    for name in ("SSECustomerKey", "CopySourceSSECustomerKey"):
        key = args.get(name)
        if key is not None:
            raw = key.encode() if isinstance(key, str) else bytes(key)
            args[name] = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    return hashlib.sha256(json.dumps(args, sort_keys=True, default=str).encode()).hexdigest()
