"""The lean HTTP/1.1 client against small real servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from resilient_s3._s3.http1 import Http1Client
from resilient_s3._upload.body import FileBody, MemoryBody
from resilient_s3._upload.source import FileSource

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[str]:
    """A server on a free port; every connection is closed when the block ends."""
    writers: list[asyncio.StreamWriter] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await handler(reader, writer)

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await asyncio.sleep(0.05)
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length)


def client() -> Http1Client:
    return Http1Client(connect_timeout=5, read_timeout=5, user_agent="test")


async def test_keep_alive_reuses_one_connection() -> None:
    connections = 0
    bodies: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                _, body = await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            bodies.append(body)
            writer.write(b'HTTP/1.1 200 OK\r\nETag: "e"\r\nContent-Length: 0\r\n\r\n')
            await writer.drain()
        writer.close()

    async with serve(handler) as url:
        http = client()
        for n in range(3):
            answer = await http.request(
                "PUT",
                f"{url}/b/k{n}",
                {"Content-Length": "5"},
                MemoryBody(memoryview(b"hello")),
                print,
            )
            assert (answer.status, answer.headers["etag"]) == (200, '"e"')
        http.close()
    assert connections == 1
    assert bodies == [b"hello"] * 3


async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        # Answers as if it kept the connection, then closes it (an idle timeout).
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async with serve(handler) as url:
        http = client()
        for _ in range(3):
            await asyncio.sleep(0.05)  # let the close arrive
            answer = await http.request(
                "PUT", f"{url}/b/k", {"Content-Length": "2"}, MemoryBody(memoryview(b"hi")), print
            )
            assert answer.status == 200
        http.close()
    assert connections == 3


async def test_an_early_error_answer_is_reported_not_the_broken_pipe(tmp_path: Path) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b"<Error><Code>AccessDenied</Code></Error>"
        writer.write(
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (len(body), body)
        )
        await writer.drain()
        writer.transport.abort()  # reset: the client is still sending

    path = tmp_path / "big"
    path.write_bytes(b"x" * (32 * 1024 * 1024))
    source = FileSource(path)
    async with serve(handler) as url:
        http = client()
        answer = await http.request(
            "PUT",
            f"{url}/b/k",
            {"Content-Length": str(32 * 1024 * 1024)},
            FileBody(source, 0, 32 * 1024 * 1024),
            lambda n: None,
        )
        http.close()
    source.close()
    assert answer.status == 403
    assert b"AccessDenied" in answer.body


async def test_chunked_and_close_delimited_answers() -> None:
    answers = [
        b"HTTP/1.1 500 Internal\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n",
        b"HTTP/1.0 503 Slow\r\n\r\nbody until close",
    ]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answers.pop(0))
        await writer.drain()
        writer.close()

    async with serve(handler) as url:
        http = client()
        first = await http.request(
            "PUT", f"{url}/b/k", {"Content-Length": "0"}, MemoryBody(memoryview(b"")), print
        )
        second = await http.request(
            "PUT", f"{url}/b/k", {"Content-Length": "0"}, MemoryBody(memoryview(b"")), print
        )
        http.close()
    assert (first.status, first.body) == (500, b"abcdef")
    assert (second.status, second.body) == (503, b"body until close")


@pytest.mark.parametrize("framing", ["content-length", "chunked", "close"])
async def test_answers_larger_than_the_buffer_are_read_whole(framing: str) -> None:
    """ListParts of a few hundred parts is larger than the 64 KiB answer buffer."""
    body = bytes(range(256)) * 1500  # 384,000 bytes
    head = {
        "content-length": f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode(),
        "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "close": b"HTTP/1.0 200 OK\r\n\r\n",
    }[framing]
    payload = (
        f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n" if framing == "chunked" else body
    )

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(head + payload)
        await writer.drain()
        writer.close()

    async with serve(handler) as url:
        http = client()
        answer = await http.request("GET", f"{url}/b?uploadId=u", {}, None, None)
        http.close()
    assert answer.body == body


async def test_a_silent_server_times_out() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with serve(handler) as url:
        http = Http1Client(connect_timeout=1, read_timeout=0.3, user_agent="test")
        with pytest.raises(TimeoutError):
            await http.request(
                "PUT", f"{url}/b/k", {"Content-Length": "1"}, MemoryBody(memoryview(b"x")), print
            )
        http.close()


async def test_a_server_that_stops_reading_the_body_times_out() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(5)  # never reads the body: the client's sends block

    body = bytes(32 * 1024 * 1024)  # more than the socket buffers on both sides hold
    async with serve(handler) as url:
        http = Http1Client(connect_timeout=1, read_timeout=0.3, user_agent="test")
        with pytest.raises(TimeoutError):
            await http.request(
                "PUT",
                f"{url}/b/k",
                {"Content-Length": str(len(body))},
                MemoryBody(memoryview(body)),
                print,
            )
        http.close()


async def test_the_deadline_bounds_an_answer_that_trickles() -> None:
    """Progress within every read timeout does not let a request outlive its deadline."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        try:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 20:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.04)
            writer.write(b"\r\nContent-Length: 0\r\n\r\n")
        except ConnectionError:
            pass  # the client gave up, as it should

    async with serve(handler) as url:
        http = Http1Client(connect_timeout=1, read_timeout=0.5, user_agent="test")
        with pytest.raises(TimeoutError):
            await http.request(
                "PUT",
                f"{url}/b/k",
                {"Content-Length": "1"},
                MemoryBody(memoryview(b"x")),
                print,
                time_limit=0.8,
            )
        # Without a deadline, the same slow answer completes.
        answer = await http.request(
            "PUT", f"{url}/b/k", {"Content-Length": "1"}, MemoryBody(memoryview(b"x")), print
        )
        assert answer.status == 200
        http.close()


async def test_a_refused_connection_raises_oserror() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http = client()
    with pytest.raises(OSError, match=r"refused|Connect call failed"):
        await http.request(
            "PUT", f"http://127.0.0.1:{port}/b/k", {}, MemoryBody(memoryview(b"")), print
        )


async def test_a_file_that_shrinks_while_sent_is_a_source_change(tmp_path: Path) -> None:
    from resilient_s3 import SourceChangedError

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 20)
        await asyncio.sleep(2)

    path = tmp_path / "f"
    path.write_bytes(b"x" * 4096)
    source = FileSource(path)
    try:
        body = FileBody(source, 0, 4096)
        path.write_bytes(b"x" * 100)  # truncated after it was planned
        async with serve(handler) as url:
            with pytest.raises(SourceChangedError, match="shrank"):
                await client().request(
                    "PUT", url + "/b/k", {"Content-Length": "4096"}, body, lambda n: None
                )
    finally:
        source.close()


async def test_a_dead_socket_fails_a_file_send_instead_of_reading_past_the_end(
    tmp_path: Path,
) -> None:
    """The first sendfile() on a reset socket fails; that must surface as the connection's
    error (retried), never as 0 bytes read because another part moved the shared file
    position to the end (which read as "the file shrank" and failed the upload)."""
    from resilient_s3._s3.http1 import _Connection

    path = tmp_path / "data"
    path.write_bytes(b"x" * 100_000)
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.close()
    with ours, path.open("rb", buffering=0) as shared:
        shared.seek(0, 2)  # where a concurrent part's send left the shared position
        connection = _Connection(ours, read_timeout=5)
        with pytest.raises(ConnectionError):
            await connection.send_file(shared, 0, 65536)
