"""Reading one part of a source and checksumming it, and reading it again after a BadDigest."""

from __future__ import annotations

from functools import partial

import anyio

from .._exceptions import SourceChangedError
from .body import Body, FileBody, MemoryBody
from .buffers import BufferPool
from .checksums import ChecksumKind, PartDigest, digest_body, digest_file_range
from .planner import Part
from .source import FileSource, Source

INLINE_BYTES = 128 * 1024
"""Files up to this size are read and digested on the event loop: a worker-thread hop costs
more than reading and hashing that much from the page cache (about 100 us)."""


class PartReader:
    """Bodies and digests for parts: files by range, streams into pooled buffers."""

    def __init__(self, kind: ChecksumKind, sign_payload: bool, buffers: int) -> None:
        self._kind = kind
        self._sign = sign_payload
        self._pool = BufferPool(buffers)

    async def prepare(
        self, source: Source, part: Part, kind: ChecksumKind | None = None
    ) -> tuple[Body, PartDigest]:
        """The part's body and digest (in ``kind``, else the reader's): small files and
        streams in memory, files by range."""
        kind, sign = kind or self._kind, self._sign
        if isinstance(source, FileSource):
            if part.length <= INLINE_BYTES:  # cheaper than a worker-thread hop
                view = memoryview(source.read_bytes(part.offset, part.length))
                return MemoryBody(view), digest_body(view, kind, sign)
            digest = await anyio.to_thread.run_sync(
                digest_file_range, source.read_into, part.offset, part.length, kind, sign
            )
            return FileBody(source, part.offset, part.length), digest
        buffer = await self._pool.acquire(part.length)
        release = partial(self._pool.release, buffer)
        try:
            view = memoryview(buffer)[: part.length]
            view = view[: await anyio.to_thread.run_sync(source.read_into, view, part.offset)]
            digest = await anyio.to_thread.run_sync(digest_body, view, kind, sign)
        except BaseException:
            release()
            raise
        return MemoryBody(view, release), digest

    async def reread(self, source: Source, body: Body, digest: PartDigest) -> None:
        """After a BadDigest: S3 hashed other bytes than were sent. A file part is read and
        hashed again: if the file changed, the upload must not go on; if not, the bytes were
        damaged in transit and are sent again (a buffered stream part is resent as it is)."""
        if not isinstance(body, FileBody):
            return
        kind = digest.kind or self._kind
        fresh = await anyio.to_thread.run_sync(
            digest_file_range, source.read_into, body.offset, body.length, kind, self._sign
        )
        if fresh.checksum != digest.checksum:
            raise SourceChangedError(
                f"{body.source.path} changed while it was uploaded (S3 answered BadDigest "
                "and the part reads differently now)"
            )
