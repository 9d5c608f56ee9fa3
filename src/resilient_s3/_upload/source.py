"""Where upload bytes come from: a file on disk or a binary stream.

Reads go straight into caller-owned buffers (``os.preadv`` / ``readinto``) so no part is copied
on its way from the source to the socket. A file is watched for changes: its size and mtime are
checked after every read, and a change aborts the upload instead of storing a mix of versions.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from .._exceptions import InvalidUploadError, SourceChangedError, SourceError


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Identifies one version of a file: if any field changes, so did the file."""

    size: int
    mtime_ns: int
    inode: int
    device: int


class Source(Protocol):
    size: int | None
    """Bytes to upload, or None for a stream of unknown length."""

    def read_into(self, buffer: memoryview, offset: int) -> int:
        """Fill ``buffer`` with the bytes at ``offset``; return how many (less only at EOF).

        Blocking: call it in a worker thread. Offsets only ever increase for streams.
        """
        ...

    def close(self) -> None: ...


class FileSource:
    """A regular file, read with ``os.preadv`` at any offset (parts may be read out of order)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below);
            # it changes nothing for regular files.
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError as exc:
            raise SourceError(f"no such file: {self.path}", last_exception=exc) from exc
        except IsADirectoryError as exc:
            raise SourceError(
                f"{self.path} is a directory; use upload_directory", last_exception=exc
            ) from exc
        except PermissionError as exc:
            raise SourceError(f"permission denied reading {self.path}", last_exception=exc) from exc
        except OSError as exc:
            raise SourceError(
                f"cannot open {self.path}: {exc.strerror}", last_exception=exc
            ) from exc
        self._fd = fd
        self._sendfile: IO[bytes] | None = None
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise SourceError(f"{self.path} is a directory; use upload_directory")
            if not stat.S_ISREG(st.st_mode):
                raise SourceError(
                    f"{self.path} is not a regular file; pass an open stream to upload_fileobj"
                )
            self.fingerprint = _fingerprint(st)
            self.size: int | None = st.st_size
        except BaseException:
            os.close(fd)
            raise

    def read_into(self, buffer: memoryview, offset: int) -> int:
        done = 0
        want = len(buffer)
        while done < want:
            n = os.preadv(self._fd, [buffer[done:]], offset + done)
            if n == 0:
                break
            done += n
        self.check_unchanged()
        if done < want:
            raise SourceChangedError(
                f"{self.path} shrank while it was being uploaded "
                f"(expected {self.fingerprint.size} bytes)"
            )
        return done

    def read_bytes(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` as new bytes (page-cache reads, on the event loop)."""
        data = os.pread(self._fd, length, offset)
        if len(data) < length:
            more = os.pread(self._fd, length - len(data), offset + len(data))
            data += more
            if len(data) < length:
                raise SourceChangedError(f"{self.path} shrank while it was being uploaded")
        return data

    def sendfile_handle(self) -> IO[bytes]:
        """A file object on the same open file for ``loop.sendfile`` (which reads by offset)."""
        if self._sendfile is None:
            self._sendfile = os.fdopen(os.dup(self._fd), "rb", buffering=0)
        return self._sendfile

    def check_unchanged(self) -> None:
        now = _fingerprint(os.fstat(self._fd))
        if now != self.fingerprint:
            raise SourceChangedError(f"{self.path} changed while it was being uploaded")

    def close(self) -> None:
        if self._sendfile is not None:
            self._sendfile.close()
            self._sendfile = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class StreamSource:
    """A binary file object, read strictly in order; seekable ones report their size."""

    def __init__(self, fileobj: IO[bytes] | Any) -> None:
        if not callable(getattr(fileobj, "read", None)):
            raise InvalidUploadError(
                f"upload_fileobj needs a binary file-like object with read(), "
                f"not {type(fileobj).__name__}"
            )
        if isinstance(fileobj, io.TextIOBase):
            raise InvalidUploadError(
                "the file object is in text mode; open it in binary mode ('rb')"
            )
        self._fileobj = fileobj
        self._position = 0
        self.size: int | None = _remaining_size(fileobj)
        self._readinto = getattr(fileobj, "readinto", None)

    def read_into(self, buffer: memoryview, offset: int) -> int:
        if offset != self._position:
            raise RuntimeError("streams are read in order")  # an engine bug, never user input
        done = 0
        want = len(buffer)
        while done < want:
            n = self._read_some(buffer[done:])
            if n == 0:
                break
            done += n
        self._position += done
        if self.size is not None and done < want:
            raise SourceChangedError(
                f"the stream ended after {self._position} bytes, before the "
                f"{self.size} bytes it had when the upload started"
            )
        return done

    def _read_some(self, view: memoryview) -> int:
        if self._readinto is not None:
            n = self._readinto(view)
            return 0 if n is None else int(n)
        chunk = self._fileobj.read(len(view))
        if isinstance(chunk, str):
            raise InvalidUploadError("the file object returned str; open it in binary mode ('rb')")
        if not chunk:
            return 0
        view[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        """The caller owns the stream; it is left open."""


def _fingerprint(st: os.stat_result) -> Fingerprint:
    return Fingerprint(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def _remaining_size(fileobj: Any) -> int | None:
    try:
        if not fileobj.seekable():
            return None
        position = fileobj.tell()
        end = fileobj.seek(0, os.SEEK_END)
        fileobj.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return max(0, int(end) - int(position))
