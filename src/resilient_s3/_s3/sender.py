"""Sending a built request and reading its answer: the lean HTTP/1.1 client over plain http,
aiohttp over https, or botocore's ``before-send`` handlers (moto's ``mock_aws()``) when the
session has any (``hooks``). Network failures become S3RequestErrors here; what the answer
means is the caller's to decide. At DEBUG, each exchange is logged, its secrets masked."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import anyio
from yarl import URL

from .._headers import check_headers
from .._redact import redact_headers, redact_text, redact_url
from .._version import __version__
from .errors import Where, network_error
from .hooks import SendHooks
from .http1 import Answer, Body, Http1Client, Payload, body_length

SEND_CHUNK = 256 * 1024
"""Bytes handed to aiohttp at a time (https)."""
USER_AGENT = f"resilient-s3/{__version__}"

logger = logging.getLogger("resilient_s3")

PRESIGNED_OPERATIONS = ("PutObject", "UploadPart")
"""What a client without a session sends (to presigned URLs), for the hooks it honours."""


class _Builtins:
    """The default of ``Sender(hooks=)``: the ``before-send`` handlers every botocore session
    starts with, where moto puts its own (``SendHooks.of_builtins``)."""


BUILTIN_HOOKS = _Builtins()


class Sender:
    """Connections for one uploader (or presigned client), shared by its requests."""

    def __init__(
        self,
        *,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        verify: bool | str | None,
        min_speed: float = float("inf"),
        hooks: SendHooks | _Builtins | None = BUILTIN_HOOKS,
    ) -> None:
        if isinstance(hooks, _Builtins):
            hooks = SendHooks.of_builtins(PRESIGNED_OPERATIONS)
        self.hooks = hooks
        """botocore ``before-send`` handlers to offer each request to first; None: none."""
        self._fixed_timeout = connect_timeout + read_timeout
        self._min_speed = min_speed
        self._max_connections = max_connections
        self._timeouts = (connect_timeout, read_timeout)
        self._verify = verify
        self._http1 = Http1Client(
            connect_timeout=connect_timeout, read_timeout=read_timeout, user_agent=USER_AGENT
        )
        self._https: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        self._http1.close()
        if self._https is not None:
            await self._https.close()

    def attempt_timeout(self, length: int) -> float:
        """Seconds one attempt at sending ``length`` bytes may take: a 5 GiB part on a slow
        link is not a hung connection (stalls are caught sooner, by the read timeout)."""
        return self._fixed_timeout + length / self._min_speed

    async def exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body | None,
        on_sent: Callable[[int], None] | None,
        where: Where,
        operation: str,
        generation: int | None = None,
    ) -> Answer:
        """Send a signed request; its answer, whatever the status. Network failures become
        S3RequestErrors here."""
        timeout = self.attempt_timeout(body_length(body))
        # The hot path: with DEBUG off, this check is all the logging costs.
        started = time.perf_counter() if logger.isEnabledFor(logging.DEBUG) else None
        try:
            # botocore's before-send handlers (moto's mock_aws(), the user's; read at open) see
            # the request first. Measured (timeit, 2026-12): with none this check adds 5 ns per
            # request; with moto imported but outside mock_aws() (its handler switched off)
            # 0.3 us; reading the handlers at open 0.09 ms. A 1 KiB PUT costs 580-940 us of
            # client CPU here (2,000 sequential PUTs to SeaweedFS, with and without the check:
            # the runs' spread hid any difference).
            if self.hooks is not None and self.hooks.wanted(operation):
                check_headers(headers)  # what the wire would refuse, a mock refuses too
                offered = await self.hooks.offer(operation, method, url, headers, body, where)
                if offered.answer is not None:
                    if on_sent is not None:
                        on_sent(body_length(body))
                    if started is not None:
                        outcome = f"{offered.answer.status} (from a before-send handler)"
                        _log_exchange(operation, method, url, headers, outcome, started)
                    return offered.answer
                headers = offered.headers
            if self._lean(url):
                answer = await self._http1.request(
                    method, url, headers, body, on_sent, time_limit=timeout
                )
            else:
                answer = await self._send_https(method, url, headers, body, on_sent, timeout)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if started is not None:
                outcome = redact_text(f"no answer ({type(exc).__name__}: {exc})")
                _log_exchange(operation, method, url, headers, outcome, started)
            error = network_error(exc, where, operation, url)
            error.credential_generation = generation
            raise error from exc
        if started is not None:
            _log_exchange(operation, method, url, headers, str(answer.status), started)
        return answer

    @staticmethod
    def _lean(url: str) -> bool:
        """Whether the lean HTTP/1.1 client sends to ``url``: plain http; TLS goes by aiohttp."""
        return url.startswith("http://")

    async def _send_https(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body | None,
        on_sent: Callable[[int], None] | None,
        time_limit: float,
    ) -> Answer:
        if self._https is None:
            connect, read = self._timeouts
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                ssl=_ssl_context(self._verify),
                ttl_dns_cache=300,
                enable_cleanup_closed=False,
            )
            self._https = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read),
                auto_decompress=False,
                skip_auto_headers=("Content-Type",),
                headers={"User-Agent": USER_AGENT},
            )
        # aiohttp refuses control characters too, as a bare ValueError, and sends UTF-8 where the
        # lean client sends latin-1: one rule, and one error, for both.
        check_headers(headers)
        data: Any = body
        if body is not None and not isinstance(body, bytes):
            data = _chunks(body, on_sent)
        with anyio.fail_after(time_limit):
            async with self._https.request(
                method, URL(url, encoded=True), data=data, headers=headers
            ) as response:
                answer_body = await response.read()
                answer_headers = {k.lower(): v for k, v in response.headers.items()}
                return Answer(response.status, answer_headers, answer_body)


def _log_exchange(
    operation: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
    outcome: str,
    started: float,
) -> None:
    """One DEBUG record for an HTTP exchange, its URL's and headers' secrets masked."""
    logger.debug(
        "HTTP %s: %s %s -> %s in %.3f s; request headers %s",
        operation,
        method,
        redact_url(url),
        outcome,
        time.perf_counter() - started,
        redact_headers(headers),
    )


async def _chunks(
    body: Payload, on_sent: Callable[[int], None] | None
) -> AsyncIterator[bytes | memoryview]:
    for chunk in body.chunks(SEND_CHUNK):
        yield chunk
        if on_sent is not None:
            on_sent(len(chunk))


def _ssl_context(verify: bool | str | None) -> ssl.SSLContext | bool:
    if verify is False:
        return False
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    from botocore.httpsession import get_cert_path

    return ssl.create_default_context(cafile=get_cert_path(True))
