"""ChaosProxy: an S3-aware reverse proxy that injects faults in front of a real S3 server.

Point any S3 client at ``proxy.endpoint_url``. Requests are relayed byte for byte (so SigV4
signatures stay valid) except the ``Expect: 100-continue`` header, which is not signed: the
proxy answers it itself, so that it can still refuse a request before its body is sent.

Over 500 lines because relaying and faulting are one loop over one connection's requests:
every fault acts at a different point of the same relay.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape as xml_escape

from ._faults import ERROR_ANSWERS, Fault, FaultKind, FaultPlan
from ._http import Head, Peer, ProtocolError
from ._operations import classify

DEFAULT_RESET_AFTER = 64 * 1024


@dataclass(frozen=True)
class ChaosStats:
    """Counters of a proxy since it started (or since ``reset_stats``)."""

    requests: Mapping[str, int] = field(default_factory=dict)
    """Requests seen, by S3 operation."""
    faults: Mapping[str, int] = field(default_factory=dict)
    """Faults injected, by kind."""
    faults_by_operation: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """Faults injected, by (operation, kind)."""
    statuses: Mapping[int, int] = field(default_factory=dict)
    """HTTP statuses answered to clients (injected ones included), by status."""
    forwarded: Mapping[str, int] = field(default_factory=dict)
    """Requests relayed to the upstream server in full, by operation."""
    bytes_up: int = 0
    """Request bytes relayed to the upstream server."""
    bytes_down: int = 0
    """Response bytes relayed to clients."""
    connections: int = 0

    @property
    def total_requests(self) -> int:
        """Requests the proxy received, all operations."""
        return sum(self.requests.values())

    @property
    def total_faults(self) -> int:
        """Faults it injected, all kinds."""
        return sum(self.faults.values())

    def as_dict(self) -> dict[str, object]:
        """The counters as plain data (JSON)."""
        return {
            "requests": dict(self.requests),
            "forwarded": dict(self.forwarded),
            "faults": dict(self.faults),
            "faults_by_operation": {
                f"{op}:{kind}": n for (op, kind), n in self.faults_by_operation.items()
            },
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "connections": self.connections,
        }


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.forwarded: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.faults_by_operation: Counter[tuple[str, str]] = Counter()
        self.statuses: Counter[int] = Counter()
        self.bytes_up = 0
        self.bytes_down = 0
        self.connections = 0

    def snapshot(self) -> ChaosStats:
        with self.lock:
            return ChaosStats(
                dict(self.requests),
                dict(self.faults),
                dict(self.faults_by_operation),
                dict(self.statuses),
                dict(self.forwarded),
                self.bytes_up,
                self.bytes_down,
                self.connections,
            )


class _Throttle:
    """A shared bandwidth limit: bytes pass at ``rate`` per second on average."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = 0.0

    async def __call__(self, n: int) -> None:
        now = time.monotonic()
        self._next = max(self._next, now) + n / self.rate
        if self._next > now:
            await asyncio.sleep(self._next - now)


class ChaosProxy:
    """Relay requests to ``upstream`` and inject faults on the way.

    The keyword probabilities are shorthands for :class:`Fault` rules applying to the
    operations in ``only`` (all operations if empty); ``faults`` adds any rule. ``latency``
    delays every request; ``bandwidth`` (bytes per second) limits request and response bodies.
    ``reset_after`` bytes of a request body reach the server before a reset (never the whole
    body). Keys registered with :meth:`expire_key` are answered ``400 ExpiredToken`` once their
    time has come. ``seed`` makes the fault draws reproducible for a given request order.
    """

    def __init__(
        self,
        upstream: str,
        *,
        slowdown: float = 0.0,
        too_many: float = 0.0,
        internal_error: float = 0.0,
        reset: float = 0.0,
        lose_response: float = 0.0,
        complete_error: float = 0.0,
        latency: float = 0.0,
        bandwidth: float | None = None,
        only: Iterable[str] = (),
        faults: Iterable[Fault] = (),
        reset_after: int = DEFAULT_RESET_AFTER,
        seed: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        target = urlsplit(upstream)
        if target.scheme != "http" or not target.hostname:
            raise ValueError(f"upstream must be an http:// URL, not {upstream!r}")
        self.upstream = upstream
        self._upstream_address = (target.hostname, target.port or 80)
        operations = frozenset(only)
        shorthand = [
            (FaultKind.DELAY, 1.0 if latency else 0.0),
            (FaultKind.SLOWDOWN, slowdown),
            (FaultKind.TOO_MANY, too_many),
            (FaultKind.INTERNAL_ERROR, internal_error),
            (FaultKind.RESET, reset),
            (FaultKind.LOSE_RESPONSE, lose_response),
        ]
        rules = [
            Fault(kind, p, operations, after_bytes=reset_after, seconds=latency)
            for kind, p in shorthand
            if p
        ]
        if complete_error:
            rules.append(Fault(FaultKind.COMPLETE_ERROR, complete_error))
        self.plan = FaultPlan([*rules, *faults], seed=seed)
        self._throttle = _Throttle(bandwidth) if bandwidth else None
        self._host, self._port = host, port
        self._clock = clock
        self._expiries: dict[str, float] = {}
        self._expiry_lock = threading.Lock()
        self._counters = _Counters()
        self._request_ids = iter(range(1, 1 << 62))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- public ---------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """The proxy's URL: point any S3 client here instead of at the server."""
        if self._listener is None:
            raise RuntimeError("the proxy is not running; call start() or use 'with'")
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def stats(self) -> ChaosStats:
        """A snapshot of the counters: requests, forwarded, faults, by operation."""
        return self._counters.snapshot()

    def reset_stats(self) -> None:
        """Start counting from zero."""
        with self._counters.lock:
            fresh = _Counters()
            for name in vars(fresh):
                if name != "lock":
                    setattr(self._counters, name, getattr(fresh, name))

    def add_fault(self, fault: Fault) -> None:
        """Inject ``fault`` from now on, besides the others."""
        self.plan.add(fault)

    def clear_faults(self) -> None:
        """Inject nothing from now on (registered key expiries stay)."""
        self.plan.clear()

    def expire_key(self, access_key: str, at: float) -> None:
        """Answer ``ExpiredToken`` to requests signed with ``access_key`` from time ``at`` on
        (seconds since the epoch, by this proxy's clock)."""
        with self._expiry_lock:
            self._expiries[access_key] = at

    def forget_key(self, access_key: str) -> None:
        """Stop answering ExpiredToken for ``access_key``."""
        with self._expiry_lock:
            self._expiries.pop(access_key, None)

    def load_expiries(self, path: str | os.PathLike[str]) -> None:
        """Read ``{"ACCESS_KEY": expiry, ...}`` from a JSON file; an expiry is seconds since
        the epoch or an ISO 8601 time."""
        from datetime import datetime

        data = json.loads(Path(path).read_text(encoding="utf-8"))
        for key, value in data.items():
            at = (
                float(value)
                if isinstance(value, int | float)
                else datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
            )
            self.expire_key(key, at)

    def start(self) -> ChaosProxy:
        """Start listening (``with`` does it); returns the proxy."""
        if self._thread is not None:
            raise RuntimeError("the proxy is already running")
        listener = socket.create_server((self._host, self._port), backlog=256)
        listener.setblocking(False)
        self._listener = listener
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            accepting = loop.create_task(self._accept(listener))
            ready.set()
            loop.run_forever()
            accepting.cancel()
            loop.run_until_complete(self._shutdown(accepting))
            loop.close()

        self._thread = threading.Thread(target=run, name="resilient-s3-chaos", daemon=True)
        self._thread.start()
        ready.wait()
        return self

    def stop(self) -> None:
        """Stop listening and close every connection (``with`` does it)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = self._loop = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> ChaosProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.endpoint_url if self._listener is not None else "stopped"
        return f"<ChaosProxy {where} -> {self.upstream}>"

    # -- relay ----------------------------------------------------------------------------

    async def _shutdown(self, accepting: asyncio.Task[None]) -> None:
        for task in [accepting, *self._tasks]:
            task.cancel()
        await asyncio.gather(accepting, *self._tasks, return_exceptions=True)

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            sock, _ = await loop.sock_accept(listener)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = loop.create_task(self._on_client(sock))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _on_client(self, sock: socket.socket) -> None:
        with self._counters.lock:
            self._counters.connections += 1
        client = Peer(sock)
        upstream: Peer | None = None
        try:
            while True:
                head = await client.read_head()
                if head is None:
                    return
                upstream, keep_going = await self._one_request(client, upstream, head)
                if not keep_going:
                    return
        except (ProtocolError, ConnectionError, OSError, asyncio.CancelledError):
            return
        finally:
            client.close()
            if upstream is not None:
                upstream.close()

    async def _one_request(
        self, client: Peer, upstream: Peer | None, head: Head
    ) -> tuple[Peer | None, bool]:
        """Relay (or fault) one request; returns the upstream peer and whether to go on."""
        holder = [upstream]
        try:
            return await self._relay(client, holder, head)
        except BaseException:
            if holder[0] is not None:  # possibly connected for this request: the caller
                holder[0].close()  # does not know it yet
            raise

    async def _relay(
        self, client: Peer, holder: list[Peer | None], head: Head
    ) -> tuple[Peer | None, bool]:
        upstream = holder[0]
        method, target, _ = head.start_line.split(" ", 2)
        operation = classify(method, target)
        self._count("requests", operation)
        chosen = self.plan.choose(operation)
        if self._is_expired(head, target):
            chosen = [f for f in chosen if f.kind is FaultKind.DELAY]
            chosen.append(Fault(FaultKind.EXPIRED_TOKEN))
        for fault in chosen:
            self._count_fault(operation, fault.kind)
            if fault.kind is FaultKind.DELAY:
                await asyncio.sleep(fault.seconds)
        terminal = next((f for f in chosen if f.kind is not FaultKind.DELAY), None)
        expects_continue = (head.header("Expect") or "").lower() == "100-continue"
        length = head.body_length()

        if terminal is not None and terminal.kind in ERROR_ANSWERS:
            token = head.header("X-Amz-Security-Token")
            if expects_continue:  # the client waits for us: refuse without reading the body
                await self._answer_error(client, terminal.kind, target, token, close=True)
                return upstream, False
            await self._discard_body(client, length)
            await self._answer_error(
                client, terminal.kind, target, token, close=not head.keep_alive
            )
            return upstream, head.keep_alive

        if upstream is None:
            try:
                upstream = holder[0] = await Peer.connect(*self._upstream_address)
            except OSError:
                await self._discard_body(client, length)
                await self._answer(client, 502, b"", close=True)
                return None, False
        if expects_continue:
            await client.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        await upstream.send(head.without("Expect"))
        self._add_bytes_up(len(head.raw))

        if terminal is not None and terminal.kind is FaultKind.RESET:
            cut = (
                terminal.after_bytes
                if length is None
                else min(terminal.after_bytes, max(length - 1, 0))
            )
            await client.relay(cut, upstream, self._on_up)
            client.reset()
            upstream.close()
            return None, False

        if length is None:
            await client.relay_chunked(upstream, self._on_up)
        else:
            corrupt_at = None
            if terminal is not None and terminal.kind is FaultKind.CORRUPT and length:
                corrupt_at = min(terminal.after_bytes, length - 1)
            await client.relay(length, upstream, self._on_up, corrupt_at=corrupt_at)
        self._count("forwarded", operation)

        response = await upstream.read_head()
        if response is None:
            raise ProtocolError("upstream closed before answering")
        lose = terminal is not None and terminal.kind is FaultKind.LOSE_RESPONSE
        if terminal is not None and terminal.kind is FaultKind.HOLD_ANSWER:
            await asyncio.sleep(terminal.seconds)
        status = int(response.start_line.split(" ", 2)[1])
        if not lose:
            self._count_status(status)
            await client.send(response.raw)
        to_client = None if lose else client
        no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
        response_length = None if no_body else response.body_length()
        upstream_open = response.keep_alive
        if no_body:
            pass
        elif response_length is not None and response.header("Content-Length") is not None:
            await upstream.relay(response_length, to_client, self._on_down)
        elif response_length is None:
            await upstream.relay_chunked(to_client, self._on_down)
        else:  # no length, not chunked: the body ends when the server closes
            if to_client is not None:
                await upstream.relay_until_closed(to_client)
            upstream_open = False
        if lose:
            upstream.close()
            return None, False  # the client's connection closes without an answer
        if not upstream_open:
            upstream.close()
            upstream = None
        return upstream, head.keep_alive

    # -- helpers --------------------------------------------------------------------------

    def _is_expired(self, head: Head, target: str) -> bool:
        with self._expiry_lock:
            if not self._expiries:
                return False
            expiries = dict(self._expiries)
        access_key = _access_key(head, target)
        at = expiries.get(access_key) if access_key else None
        return at is not None and self._clock() >= at

    async def _discard_body(self, client: Peer, length: int | None) -> None:
        if length is None:
            await client.relay_chunked(None)
        else:
            await client.relay(length, None)

    async def _answer_error(
        self, client: Peer, kind: FaultKind, target: str, token: str | None, *, close: bool
    ) -> None:
        status, code, message = ERROR_ANSWERS[kind]
        request_id = f"chaos-{next(self._request_ids)}"
        resource = urlsplit(target).path
        # AWS echoes the session token it refuses as expired (mountpoint-s3's fixtures).
        echoed = (
            f"<Token-0>{xml_escape(token)}</Token-0>"
            if kind is FaultKind.EXPIRED_TOKEN and token
            else ""
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>{echoed}"
            f"<Resource>{resource}</Resource><RequestId>{request_id}</RequestId></Error>"
        ).encode()
        await self._answer(client, status, body, close=close, request_id=request_id)

    async def _answer(
        self, client: Peer, status: int, body: bytes, *, close: bool, request_id: str = ""
    ) -> None:
        reason = {
            200: "OK",
            400: "Bad Request",
            429: "Too Many Requests",
            500: "Internal Server Error",
            502: "Bad Gateway",
            503: "Service Unavailable",
        }.get(status, "Error")
        lines = [
            f"HTTP/1.1 {status} {reason}",
            f"Date: {formatdate(usegmt=True)}",
            "Content-Type: application/xml",
            f"Content-Length: {len(body)}",
            "Server: resilient-s3-chaos",
        ]
        if request_id:
            lines.append(f"x-amz-request-id: {request_id}")
        if close:
            lines.append("Connection: close")
        self._count_status(status)
        await client.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    async def _on_up(self, n: int) -> None:
        self._add_bytes_up(n)
        if self._throttle is not None:
            await self._throttle(n)

    async def _on_down(self, n: int) -> None:
        with self._counters.lock:
            self._counters.bytes_down += n
        if self._throttle is not None:
            await self._throttle(n)

    def _add_bytes_up(self, n: int) -> None:
        with self._counters.lock:
            self._counters.bytes_up += n

    def _count(self, what: str, operation: str) -> None:
        with self._counters.lock:
            getattr(self._counters, what)[operation] += 1

    def _count_fault(self, operation: str, kind: FaultKind) -> None:
        with self._counters.lock:
            self._counters.faults[kind.value] += 1
            self._counters.faults_by_operation[(operation, kind.value)] += 1

    def _count_status(self, status: int) -> None:
        with self._counters.lock:
            self._counters.statuses[status] += 1


def _access_key(head: Head, target: str) -> str | None:
    """The access key a request is signed with (Authorization header or presigned query)."""
    authorization = head.header("Authorization") or ""
    if "Credential=" in authorization:
        return authorization.split("Credential=", 1)[1].split("/", 1)[0]
    credential = parse_qs(urlsplit(target).query).get("X-Amz-Credential")
    if credential:
        return credential[0].split("/", 1)[0]
    return None
