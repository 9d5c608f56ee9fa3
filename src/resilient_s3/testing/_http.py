"""Just enough HTTP/1.1 to relay requests byte for byte: heads, framing, and buffered sockets.

The relay never re-encodes what it forwards (SigV4 signatures cover the request line and the
signed headers), and it copies bodies through one reused buffer per connection with
``sock_recv_into``/``sock_sendall``, so relaying costs two kernel copies and no allocations.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

BUFFER_SIZE = 256 * 1024
MAX_HEAD = 64 * 1024


class ProtocolError(Exception):
    """The peer sent something that is not HTTP/1.1 as we relay it."""


@dataclass(frozen=True, slots=True)
class Head:
    """A request or status line and its header lines, as received."""

    start_line: str
    lines: tuple[bytes, ...]  # header lines, raw, without CRLF

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode("ascii")
        for line in self.lines:
            field, _, value = line.partition(b":")
            if field.strip().lower() == wanted:
                return value.strip().decode("latin-1")
        return None

    def without(self, name: str) -> bytes:
        """The head re-serialised without header ``name`` (every other byte as received)."""
        unwanted = name.lower().encode("ascii")
        kept = [line for line in self.lines if line.partition(b":")[0].strip().lower() != unwanted]
        return b"\r\n".join([self.start_line.encode("latin-1"), *kept, b"", b""])

    @property
    def raw(self) -> bytes:
        return b"\r\n".join([self.start_line.encode("latin-1"), *self.lines, b"", b""])

    def body_length(self) -> int | None:
        """Content-Length, or None when the body is chunked."""
        if (self.header("Transfer-Encoding") or "").lower().endswith("chunked"):
            return None
        length = self.header("Content-Length")
        return int(length) if length is not None else 0

    @property
    def keep_alive(self) -> bool:
        return (self.header("Connection") or "").lower() != "close"


def parse_head(raw: bytes) -> Head:
    lines = raw.rstrip(b"\r\n").split(b"\r\n")
    if not lines or not lines[0]:
        raise ProtocolError("empty request")
    return Head(lines[0].decode("latin-1"), tuple(lines[1:]))


class Peer:
    """One side of a relayed connection: a non-blocking socket with a read buffer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray(BUFFER_SIZE)
        self._view = memoryview(self._buffer)
        self._start = 0
        self._end = 0

    @classmethod
    async def connect(cls, host: str, port: int) -> Peer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    async def send(self, data: bytes | memoryview) -> None:
        await self._loop.sock_sendall(self.sock, data)

    async def _fill(self) -> int:
        if self._start == self._end:
            self._start = self._end = 0
        elif self._end == len(self._buffer):
            pending = self._end - self._start
            self._buffer[:pending] = self._buffer[self._start : self._end]
            self._start, self._end = 0, pending
        n = await self._loop.sock_recv_into(self.sock, self._view[self._end :])
        self._end += n
        return n

    async def read_head(self) -> Head | None:
        """The next head, or None if the peer closed cleanly between messages."""
        scanned = 0  # bytes after _start known not to hold the end of the head
        while True:
            found = self._buffer.find(b"\r\n\r\n", self._start + max(scanned - 3, 0), self._end)
            if found >= 0:
                raw = bytes(self._view[self._start : found + 4])
                self._start = found + 4
                return parse_head(raw)
            scanned = self._end - self._start
            if self._end - self._start >= MAX_HEAD:
                raise ProtocolError("head too large")
            if await self._fill() == 0:
                if self._end == self._start:
                    return None
                raise ProtocolError("connection closed inside a head")

    async def read_line(self) -> bytes:
        while True:
            found = self._buffer.find(b"\r\n", self._start, self._end)
            if found >= 0:
                line = bytes(self._view[self._start : found + 2])
                self._start = found + 2
                return line
            if await self._fill() == 0:
                raise ProtocolError("connection closed inside a chunk header")

    async def relay(
        self,
        n: int,
        to: Peer | None,
        on_bytes: Callable[[int], Awaitable[None]] | None = None,
        *,
        corrupt_at: int | None = None,
    ) -> None:
        """Move exactly ``n`` bytes from this peer to ``to`` (or discard them), flipping the
        byte at offset ``corrupt_at`` if given."""
        while n > 0:
            if self._start == self._end and await self._fill() == 0:
                raise ProtocolError("connection closed inside a body")
            take = min(n, self._end - self._start)
            chunk = self._view[self._start : self._start + take]
            if corrupt_at is not None:
                if corrupt_at < take:
                    damaged = bytearray(chunk)
                    damaged[corrupt_at] ^= 0xFF
                    chunk, corrupt_at = memoryview(damaged), None
                else:
                    corrupt_at -= take
            if on_bytes is not None:  # first, so counters are current when the peer sees it
                await on_bytes(take)
            if to is not None:
                await to.send(chunk)
            self._start += take
            n -= take

    async def relay_until_closed(self, to: Peer) -> int:
        total = 0
        while True:
            if self._start == self._end and await self._fill() == 0:
                return total
            take = self._end - self._start
            await to.send(self._view[self._start : self._end])
            self._start = self._end
            total += take

    async def relay_chunked(
        self, to: Peer | None, on_bytes: Callable[[int], Awaitable[None]] | None = None
    ) -> None:
        """Relay a chunked body, trailers included, as received."""
        while True:
            line = await self.read_line()
            if to is not None:
                await to.send(line)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                break
            await self.relay(size + 2, to, on_bytes)
        while True:  # trailers, up to the empty line
            line = await self.read_line()
            if to is not None:
                await to.send(line)
            if line == b"\r\n":
                return

    def reset(self) -> None:
        """Close with RST instead of FIN: the peer sees 'connection reset'."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def close(self) -> None:
        self.sock.close()
