"""A bounded pool of reusable part buffers: the reason memory does not grow with file size."""

from __future__ import annotations

import anyio


class BufferPool:
    """At most ``slots`` buffers exist; each is reused for later parts of any upload.

    A buffer is fresh memory the first time (page faults cost about as much as a copy), so
    reusing them is what keeps large uploads cheap.
    """

    def __init__(self, slots: int) -> None:
        self._slots = anyio.Semaphore(slots)
        self._free: list[bytearray] = []

    async def acquire(self, size: int) -> bytearray:
        await self._slots.acquire()
        for i, buffer in enumerate(self._free):
            if len(buffer) >= size:
                return self._free.pop(i)
        if self._free:
            self._free.pop()  # too small for this part: let it go rather than exceed the bound
        return bytearray(size)

    def release(self, buffer: bytearray) -> None:
        self._free.append(buffer)
        self._slots.release()
