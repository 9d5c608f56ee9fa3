"""A lean HTTP/1.1 client for S3 requests over plain http.

aiohttp costs about 0.4 ms of CPU per request here, half of a small-file upload; this client
writes the head with one ``sock_sendall``, a file body with ``sock_sendfile`` (page cache to
socket) and reads the answer into one reused buffer per connection. It speaks only what S3
requests need: one request at a time per connection, keep-alive, a Content-Length or chunked
answer (none to HEAD). TLS goes through aiohttp. A head that a line break or a control character
in a header would turn into something else is refused before a byte is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Protocol, TypeVar
from urllib.parse import urlsplit

import anyio

from .._exceptions import InvalidUploadError, SourceChangedError
from .._headers import HEAD_BYTES, all_tokens, check_request

_T = TypeVar("_T")

SEND_SLICE = 1024 * 1024
_BUFFER = 64 * 1024
_MAX_HEAD = 64 * 1024
_METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE"})


class ProtocolError(OSError):
    """The server answered something this client does not understand."""


@dataclass(frozen=True, slots=True)
class FileRange:
    """``length`` bytes of an open file from ``offset``: sent with ``sendfile``."""

    file: IO[bytes]
    offset: int
    length: int
    name: str
    """What to call the file when it turns out shorter than that."""


class Payload(Protocol):
    """A request body: in memory, or a range of a file that can be sent without a copy."""

    @property
    def length(self) -> int: ...

    def chunks(self, size: int) -> Iterable[bytes | memoryview]:
        """The body in order, at most ``size`` bytes at a time."""
        ...

    def file_range(self) -> FileRange | None:
        """The file range the body is, if it is one."""
        ...


Body = Payload | bytes
"""What a request sends: a payload, or bytes (control calls)."""


def body_length(body: Body | None) -> int:
    if body is None:
        return 0
    return len(body) if isinstance(body, bytes) else body.length


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


class _Connection:
    """One socket, its answer buffer, and the watchdog that bounds the request on it.

    The watchdog is one timer per request: it shuts the socket down when the request passes
    its deadline, or when no wait has completed for the read timeout. A cancel scope per wait
    cost 10-14 us, three per small-file request (benchmarks/request_overhead.py); the timer
    costs 2 us.
    """

    def __init__(self, sock: socket.socket, read_timeout: float) -> None:
        self.sock = sock
        self._loop = asyncio.get_running_loop()
        self._read_timeout = read_timeout
        self._deadline = float("inf")
        self._last_progress = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self._timed_out = False
        self._buffer = bytearray(_BUFFER)
        self._view = memoryview(self._buffer)
        self._start = 0
        self._end = 0

    def start_request(self, deadline: float) -> None:
        """Bound what follows: all of it by ``deadline`` (loop time), each wait by the read
        timeout."""
        self._deadline = deadline
        self._last_progress = self._loop.time()
        self._arm()

    def end_request(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _due(self) -> float:
        return min(self._deadline, self._last_progress + self._read_timeout)

    def _arm(self) -> None:
        self._watchdog = self._loop.call_at(self._due(), self._expire_if_idle)

    def _expire_if_idle(self) -> None:
        if self._loop.time() < self._due():  # progress since the timer was set
            self._arm()
            return
        self._watchdog = None
        self._timed_out = True
        # Wakes the pending recv (end of stream) or send (broken pipe) at once.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    async def _wait(self, operation: Awaitable[_T]) -> _T:
        """Await one socket operation; a TimeoutError if the watchdog is what ended it."""
        try:
            result = await operation
        except OSError:
            self._check_watchdog()
            raise
        self._check_watchdog()
        self._last_progress = self._loop.time()
        return result

    def _check_watchdog(self) -> None:
        if self._timed_out:
            raise TimeoutError(
                "no progress within the read timeout, or the request passed its deadline"
            )

    async def send_all(self, data: bytes | memoryview) -> None:
        await self._wait(self._loop.sock_sendall(self.sock, data))

    async def send_file(self, file: IO[bytes], offset: int, count: int) -> int:
        """Up to ``count`` bytes of ``file`` at ``offset``; 0 only at the end of the file."""
        try:
            return await self._wait(
                self._loop.sock_sendfile(self.sock, file, offset, count, fallback=False)
            )
        except asyncio.SendfileNotAvailableError:
            # asyncio reports any failure of the first os.sendfile() this way, a reset socket
            # included. Its own fallback reads through the file position, which the parts of
            # one file share, so a concurrent part could make it read at the end of the file
            # and report 0 bytes ("shrank"). Read by offset instead: a dead socket then fails
            # the send with its real error, which the retrier knows.
            data = os.pread(file.fileno(), count, offset)
            if data:
                await self.send_all(data)
            return len(data)

    def is_stale(self) -> bool:
        """An idle connection the server has closed (or sent something on) is not reused."""
        try:
            self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False  # nothing to read: the connection is open and quiet
        except OSError:
            pass
        return True

    async def _fill(self) -> int:
        if self._start == self._end:
            self._start = self._end = 0
        elif self._end == len(self._buffer):
            pending = self._end - self._start
            self._buffer[:pending] = self._buffer[self._start : self._end]
            self._start, self._end = 0, pending
        n = await self._wait(self._loop.sock_recv_into(self.sock, self._view[self._end :]))
        self._end += n
        return n

    async def read_answer(self, *, head: bool = False) -> tuple[Answer, bool]:
        """The answer and whether the connection may be reused; ``head``: the answer to a HEAD
        request, which has no body whatever its Content-Length says."""
        while True:
            found = self._buffer.find(b"\r\n\r\n", self._start, self._end)
            if found >= 0:
                break
            if self._end - self._start >= _MAX_HEAD:
                raise ProtocolError("answer head too large")
            if await self._fill() == 0:
                raise ConnectionResetError("the server closed the connection without answering")
        lines = bytes(self._view[self._start : found]).decode("latin-1").split("\r\n")
        self._start = found + 4
        version, _, rest = lines[0].partition(" ")
        try:
            status = int(rest[:3])
        except ValueError:
            raise ProtocolError(f"not an HTTP status line: {lines[0][:80]!r}") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        reusable = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if head or status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked()
        elif "content-length" in headers:
            body = await self._read_exactly(int(headers["content-length"]))
        else:
            body = await self._read_to_close()
            reusable = False
        return Answer(status, headers, body), reusable

    async def _read_exactly(self, n: int) -> bytes:
        while self._end - self._start < n:
            if self._end == len(self._buffer) and self._start == 0:
                self._grow()  # a large answer: ListParts of a few hundred parts
            if await self._fill() == 0:
                raise ConnectionResetError("the connection closed inside an answer")
        data = bytes(self._view[self._start : self._start + n])
        self._start += n
        return data

    def _grow(self) -> None:
        self._view.release()  # a bytearray with an exported view cannot be resized
        self._buffer.extend(bytes(len(self._buffer)))
        self._view = memoryview(self._buffer)

    async def _read_line(self) -> bytes:
        while (found := self._buffer.find(b"\r\n", self._start, self._end)) < 0:
            if await self._fill() == 0:
                raise ConnectionResetError("the connection closed inside an answer")
        line = bytes(self._view[self._start : found])
        self._start = found + 2
        return line

    async def _read_chunked(self) -> bytes:
        parts = []
        while size := int((await self._read_line()).split(b";")[0] or b"0", 16):
            parts.append(await self._read_exactly(size))
            await self._read_line()
        while await self._read_line():  # trailers
            pass
        return b"".join(parts)

    async def _read_to_close(self) -> bytes:
        while await self._fill():
            if self._end == len(self._buffer):
                self._grow()
        data = bytes(self._view[self._start : self._end])
        self._start = self._end
        return data

    def close(self) -> None:
        self.end_request()
        self.sock.close()


def _encode_head(
    method: str, target: str, host: str, user_agent: str, headers: Mapping[str, str]
) -> bytes:
    """The request head, refused (InvalidUploadError) before anything is sent unless every
    line is what it says: a CR/LF in a value would smuggle a request onto the connection."""
    head = [f"{method} {target} HTTP/1.1", f"Host: {host}", f"User-Agent: {user_agent}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    try:
        raw_head = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:  # a character beyond U+00FF: named below
        raw_head = b""
    # One pass over the encoded head (a translate and a set look-up) instead of regexes per
    # header: 1.1 us more per signed PUT than building the head unchecked, against 6 us for
    # check_request's regexes, of the ~0.4 ms of CPU a small file's request costs
    # (benchmarks/header_check.py: time.perf_counter over 10^5 heads of 650 bytes).
    clean = raw_head.translate(None, HEAD_BYTES) == b"\r\n" * (len(head) + 1)
    if (
        not clean
        or " " in target
        or "\t" in target
        or " " in host
        or "\t" in host
        or method not in _METHODS
        or not all_tokens(headers.keys())
    ):
        check_request(method, target, host, headers)  # raises, naming the culprit
        if not clean:  # what check_request does not read: the User-Agent
            raise InvalidUploadError(
                "the request head holds a line break or a control character; nothing was sent"
            )
    return raw_head


class Http1Client:
    """Keep-alive connections per host; one request per connection at a time."""

    def __init__(self, *, connect_timeout: float, read_timeout: float, user_agent: str) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._user_agent = user_agent
        self._idle: dict[tuple[str, int], deque[_Connection]] = {}

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body | None = None,
        on_sent: Callable[[int], None] | None = None,
        *,
        time_limit: float = float("inf"),
    ) -> Answer:
        """Send one request and read its answer; ``time_limit`` seconds bound the whole request
        (each wait is bounded by the read timeout too)."""
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or 80
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = host if port == 80 else f"{host}:{port}"
        raw_head = _encode_head(method, target, host_header, self._user_agent, headers)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + time_limit
        connection, reused = await self._connection(host, port)
        connection.start_request(deadline)
        try:
            try:
                await connection.send_all(raw_head)
            except TimeoutError:
                raise
            except OSError:
                if not reused:
                    raise
                # The server closed an idle connection just now: nothing was processed, so the
                # request goes out again on a fresh one.
                connection.close()
                connection, reused = await self._connection(host, port, fresh=True)
                connection.start_request(deadline)
                await connection.send_all(raw_head)
            try:
                await self._send_body(connection, body, on_sent)
            except TimeoutError:
                raise
            except OSError:
                # The server may have answered early (an error) and closed: report its answer.
                with anyio.move_on_after(1):
                    answer, _ = await connection.read_answer(head=method == "HEAD")
                    connection.close()
                    return answer
                raise
            answer, reusable = await connection.read_answer(head=method == "HEAD")
        except BaseException:
            connection.close()
            raise
        connection.end_request()
        if reusable:
            self._idle.setdefault((host, port), deque()).append(connection)
        else:
            connection.close()
        return answer

    async def _connection(
        self, host: str, port: int, *, fresh: bool = False
    ) -> tuple[_Connection, bool]:
        idle = self._idle.get((host, port))
        while idle and not fresh:
            connection = idle.pop()
            if not connection.is_stale():
                return connection, True
            connection.close()
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            with anyio.fail_after(self._connect_timeout):
                await loop.sock_connect(sock, address)
        except BaseException:
            sock.close()
            raise
        return _Connection(sock, self._read_timeout), False

    async def _send_body(
        self,
        connection: _Connection,
        body: Body | None,
        on_sent: Callable[[int], None] | None,
    ) -> None:
        if body is None:
            return
        if isinstance(body, bytes):
            await connection.send_all(body)
            return
        file_range = body.file_range()
        if file_range is not None:
            offset, remaining = file_range.offset, file_range.length
            while remaining > 0:
                chunk = min(remaining, SEND_SLICE)
                sent = await connection.send_file(file_range.file, offset, chunk)
                if sent == 0:  # end of file before the end of the part
                    raise SourceChangedError(
                        f"{file_range.name} shrank while it was being uploaded"
                    )
                if on_sent is not None:
                    on_sent(sent)
                offset += sent
                remaining -= sent
            return
        for piece in body.chunks(SEND_SLICE):
            await connection.send_all(piece)
            if on_sent is not None:
                on_sent(len(piece))

    def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
