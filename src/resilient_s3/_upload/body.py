"""Request bodies: a part held in memory, or a range of a file read again as it is sent.

A file's part is read twice: once in a worker thread to checksum it (through a small reused
buffer, so the data is hashed while it is in the CPU cache), and once, from the page cache,
as it is sent. That costs one more page-cache read (about 0.1 s of CPU per GiB) and saves
holding, and first touching, a part-sized buffer per request in flight: with 16 in flight and
8 MiB parts that was 144 MiB of fresh memory per uploader, which cost more CPU than the read.
Streams cannot be read twice; their parts stay in pooled buffers until S3 has them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .._s3.http1 import FileRange
from .source import FileSource


@dataclass(frozen=True, slots=True)
class MemoryBody:
    """Bytes in memory; ``release`` (if any) returns the buffer to its pool."""

    view: memoryview
    release: Callable[[], None] | None = None

    @property
    def length(self) -> int:
        return len(self.view)

    def chunks(self, size: int) -> Iterator[memoryview]:
        for start in range(0, len(self.view), size):
            yield self.view[start : start + size]

    def file_range(self) -> None:
        return None

    def done(self) -> None:
        if self.release is not None:
            self.release()


@dataclass(frozen=True, slots=True)
class FileBody:
    """``length`` bytes of a file from ``offset``, read chunk by chunk as they are sent.

    Each chunk is a new ``bytes``: the event loop's transport may still hold a reference to a
    chunk after it was handed over, so chunks are never reused.
    """

    source: FileSource
    offset: int
    length: int

    def chunks(self, size: int) -> Iterator[bytes]:
        end = self.offset + self.length
        for start in range(self.offset, end, size):
            yield self.source.read_bytes(start, min(size, end - start))

    def file_range(self) -> FileRange:
        """Sent from the page cache with ``sendfile`` over plain http."""
        return FileRange(
            self.source.sendfile_handle(), self.offset, self.length, str(self.source.path)
        )

    def done(self) -> None:
        """Nothing is held."""


Body = MemoryBody | FileBody
