"""botocore's ``before-send`` handlers on a user's session: what the uploader does with them,
with no server (the handlers answer; the endpoint is a closed loopback port, so a request
that was sent on would be refused)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError

from resilient_s3 import AsyncResilientUploader, S3RequestError, UploadConfig
from resilient_s3._s3.hooks import SendHooks

pytestmark = pytest.mark.anyio

NOWHERE = "http://127.0.0.1:9"  # discard: nothing listens in the tests' sandbox
ACCESS_DENIED = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
    b"<Message>Access Denied</Message><RequestId>R1</RequestId></Error>"
)


class Raw(io.BytesIO):
    """An answer's body as botocore reads it (``AWSResponse.content`` streams it)."""

    def stream(self, **_: Any) -> Any:
        yield self.read()


def answer(request: Any, status: int, headers: dict[str, str], body: bytes = b"") -> AWSResponse:
    return AWSResponse(request.url, status, headers, Raw(body))


def session_with(*handlers: Callable[..., Any]) -> Any:
    """A botocore session with keys, no built-in handlers (so no moto's) and ``handlers`` on
    ``before-send.s3``."""
    session = botocore.session.Session(include_builtin_handlers=False)
    session.set_credentials("AKIDEXAMPLE", "secret")
    session.set_config_variable("region", "us-east-1")
    for handler in handlers:
        session.register("before-send.s3", handler)
    return session


class Backends:
    def __init__(self) -> None:
        self.opened: list[Any] = []

    def __call__(self, backend: Any) -> Any:
        self.opened.append(backend)
        return backend

    @property
    def hooks(self) -> Any:
        return self.opened[0].transport.sender.hooks


def like_s3(seen: list[Any]) -> Callable[..., Any]:
    """A handler that answers a PutObject as S3 would: its ETag, its checksum echoed."""

    def handler(request: Any, **_: Any) -> AWSResponse:
        body = request.body.read()
        seen.append((request.method, request.url, dict(request.headers), body))
        headers = request.headers.items()
        echoed = {k: v for k, v in headers if k.lower().startswith("x-amz-checksum")}
        return answer(request, 200, {"ETag": '"e"', **echoed})

    return handler


def uploader(session: Any, backends: Backends | None = None, **config: Any) -> Any:
    async def no_sleep(_: float) -> None:
        pass

    return AsyncResilientUploader(
        session=session,
        endpoint_url=NOWHERE,
        config=UploadConfig(connect_timeout=1, read_timeout=1, **config),
        _sleep=no_sleep,
        _backend=backends,
    )


async def test_a_session_without_handlers_keeps_the_fast_path() -> None:
    backends = Backends()
    async with uploader(session_with(), backends) as up:
        await up.open()
    assert backends.hooks is None  # the data path checks nothing more per request


def test_no_emitter_and_switched_off_handlers() -> None:
    assert SendHooks.of_emitter(None, ["PutObject"]) is None

    class Stubber:  # like moto's: in every session after `import moto`, on in mock_aws()
        enabled = False

        def __call__(self, **_: Any) -> None:
            raise AssertionError("called while switched off")

    stubber = Stubber()
    session = session_with(stubber)
    hooks = SendHooks.of_emitter(session.get_component("event_emitter"), ["PutObject"])
    assert hooks is not None
    assert not hooks.wanted("PutObject")
    stubber.enabled = True
    assert hooks.wanted("PutObject")


async def test_an_answer_from_a_handler_is_the_answer() -> None:
    seen: list[Any] = []
    backends = Backends()
    async with uploader(session_with(like_s3(seen)), backends) as up:
        result = await up.upload_fileobj(io.BytesIO(b"answered"), "bucket", "a/key")
    assert result.etag == '"e"'
    [(method, url, headers, body)] = seen
    assert (method, url, body) == ("PUT", f"{NOWHERE}/bucket/a/key", b"answered")
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert backends.hooks.offered == backends.hooks.answered == 1


async def test_an_async_handler_is_awaited() -> None:
    seen: list[Any] = []
    answer_like_s3 = like_s3(seen)

    async def handler(**kwargs: Any) -> AWSResponse:  # as on an aiobotocore session
        return answer_like_s3(**kwargs)

    async with uploader(session_with(handler)) as up:
        await up.upload_fileobj(io.BytesIO(b"async"), "bucket", "k")
    assert [body for *_, body in seen] == [b"async"]


async def test_an_error_answer_is_diagnosed() -> None:
    def deny(request: Any, **_: Any) -> AWSResponse:
        return answer(request, 403, {"x-amz-request-id": "R1"}, ACCESS_DENIED)

    async with uploader(session_with(deny)) as up:
        with pytest.raises(S3RequestError) as caught:
            await up.upload_fileobj(io.BytesIO(b"x"), "bucket", "k")
    assert (caught.value.status, caught.value.code) == (403, "AccessDenied")
    assert caught.value.diagnosis is not None
    assert caught.value.diagnosis.cause == "permission-denied"


async def test_a_handler_that_raises_fails_the_request_once() -> None:
    calls: list[str] = []

    def broken(event_name: str, **_: Any) -> None:
        calls.append(event_name)
        raise RuntimeError("the mock cannot do this")

    async with uploader(session_with(broken), max_attempts=3) as up:
        with pytest.raises(S3RequestError) as caught:
            await up.upload_fileobj(io.BytesIO(b"x"), "bucket", "k")
    assert calls == ["before-send.s3.PutObject"]  # final: not retried
    error = caught.value
    assert isinstance(error.last_exception, RuntimeError)
    assert error.diagnosis is not None
    assert "before-send handler" in error.diagnosis.summary


async def test_a_connection_error_from_a_handler_is_retried() -> None:
    calls: list[str] = []
    answer_like_s3 = like_s3([])

    def flaky(request: Any, event_name: str, **kwargs: Any) -> AWSResponse:
        calls.append(event_name)
        if len(calls) == 1:
            raise EndpointConnectionError(endpoint_url=request.url)
        return answer_like_s3(request=request, **kwargs)

    async with uploader(session_with(flaky), max_attempts=3) as up:
        result = await up.upload_fileobj(io.BytesIO(b"x"), "bucket", "k")
    assert len(calls) == 2
    assert result.attempts == 2
