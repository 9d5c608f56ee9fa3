"""botocore's ``before-send`` hook, honoured: where moto's ``mock_aws()``, and any handler a user
registered on their session, answer a request in place of the network.

botocore's client emits ``before-send.s3.<Operation>`` with the signed request, ready to go,
just before it sends it, and uses the first answer a handler returns instead of sending
(``Endpoint._do_get_response``). resilient-s3 sends on its own path, so it does the same: when
the user's session has a ``before-send`` handler for S3, each request is first handed to the
handlers as a botocore ``AWSPreparedRequest``; an answer (an ``AWSResponse``: status, headers,
content) is used as S3's, and only when none answers is the request sent, with the headers as
the handlers left them.

The handlers are read once, when the connection opens, from the session's event emitter (as a
botocore client copies them when it is created); a session with none costs the data path one
attribute check per request. moto registers its handler in every botocore session made after
``import moto`` and switches it on only inside ``mock_aws()`` (its ``enabled`` flag): a handler
whose ``enabled`` is False is skipped without building a request, so a test process that merely
imported moto keeps the fast path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, HeadersDict

from .._exceptions import UploadError
from .errors import Where, handler_error
from .http1 import Answer, Body, Payload

EVENT = "before-send.s3."
"""The event's name before the operation's (botocore: ``before-send.{service id}.{operation}``,
and S3's service id, hyphenized, is ``s3``)."""

READ_SLICE = 1024 * 1024

Handler = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Offered:
    """What the handlers did with a request: their answer (None: send it), and its headers as
    they left them."""

    answer: Answer | None
    headers: Mapping[str, str]


class SendHooks:
    """The ``before-send`` handlers for S3 of one session, by operation."""

    def __init__(self, search: Callable[[str], Iterable[Handler]]) -> None:
        self._search = search
        self._by_operation: dict[str, tuple[Handler, ...]] = {}
        self.offered = 0
        """Requests handed to the handlers (tests: 0 when nothing is hooked)."""
        self.answered = 0
        """Requests the handlers answered, which never went to the network."""

    @classmethod
    def of_emitter(cls, emitter: Any, operations: Iterable[str]) -> SendHooks | None:
        """The hooks registered on a botocore event emitter (a session's), or None if no
        handler listens to ``before-send`` for any of ``operations``."""
        search = _search_of(emitter)
        if search is None:
            return None
        hooks = cls(search)
        return hooks if any(hooks._handlers(name) for name in operations) else None

    @classmethod
    def of_builtins(cls, operations: Iterable[str]) -> SendHooks | None:
        """The hooks every botocore session starts with (``botocore.handlers.BUILTIN_HANDLERS``,
        where moto puts its own): for a client that has no session (presigned uploads)."""
        from botocore.handlers import BUILTIN_HANDLERS
        from botocore.hooks import HierarchicalEmitter

        specs = [spec for spec in BUILTIN_HANDLERS if str(spec[0]).startswith("before-send")]
        if not specs:
            return None
        emitter = HierarchicalEmitter()
        for spec in specs:
            emitter.register(spec[0], spec[1])
        return cls.of_emitter(emitter, operations)

    def _handlers(self, operation: str) -> tuple[Handler, ...]:
        handlers = self._by_operation.get(operation)
        if handlers is None:
            handlers = self._by_operation[operation] = tuple(self._search(EVENT + operation))
        return handlers

    def wanted(self, operation: str) -> bool:
        """Whether a handler would see this request: one is registered and not switched off."""
        # moto's handler sits in every session made after `import moto`; outside mock_aws()
        # its `enabled` is False and it would answer nothing.
        return any(getattr(h, "enabled", True) is not False for h in self._handlers(operation))

    async def offer(
        self,
        operation: str,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body | None,
        where: Where,
    ) -> Offered:
        """Hand a signed request to the handlers, as botocore does: every handler is called in
        botocore's order, and the first answer that is not None is the answer."""
        self.offered += 1
        request = AWSPreparedRequest(
            method=method,
            url=url,
            headers=HeadersDict(headers),
            body=body if body is None or isinstance(body, bytes) else _Reader(body),
            stream_output=False,
        )
        request.context = {}  # botocore's has one; set after, as older botocores take no argument
        response: Any = None
        for handler in self._handlers(operation):
            if getattr(handler, "enabled", True) is False:
                continue
            try:
                result = handler(event_name=EVENT + operation, request=request)
                if inspect.isawaitable(result):  # an aiobotocore session's async handler
                    result = await result
            except UploadError:  # the source changed while a handler read the body
                raise
            except Exception as exc:
                raise handler_error(exc, handler, where, operation) from exc
            if response is None:
                response = result
        if response is None:
            return Offered(None, {str(k): str(v) for k, v in request.headers.items()})
        self.answered += 1
        answer_headers = {str(k).lower(): str(v) for k, v in response.headers.items()}
        content = b"" if method == "HEAD" else bytes(response.content or b"")
        return Offered(Answer(int(response.status_code), answer_headers, content), headers)


def _search_of(emitter: Any) -> Callable[[str], Iterable[Handler]] | None:
    """The handler lookup of a botocore ``HierarchicalEmitter`` (a session's is wrapped in an
    ``EventAliaser``; aiobotocore's is a subclass): the handlers an event would call, in the
    order it would call them. None for an emitter of another kind."""
    inner = getattr(emitter, "_emitter", emitter)
    search = getattr(getattr(inner, "_handlers", None), "prefix_search", None)
    return search if callable(search) else None


def emitter_of(session: Any) -> Any:
    """A botocore (or aiobotocore) session's event emitter, or None."""
    get_component = getattr(session, "get_component", None)
    if get_component is None:
        return None
    try:
        return get_component("event_emitter")
    except Exception:  # not a botocore session after all: no hooks
        return None


class _Reader:
    """A payload as the file-like body of a prepared request, read only if a handler reads it
    (moto does; a handler that only looks at the headers costs no read)."""

    def __init__(self, body: Payload) -> None:
        self._body = body
        self._chunks: Iterator[bytes | memoryview] | None = None
        self._pending = b""

    def __len__(self) -> int:
        return self._body.length

    def __bool__(self) -> bool:
        return True  # a body, even an empty one (werkzeug reads only a truthy one)

    def read(self, size: int = -1) -> bytes:
        if self._chunks is None:
            self._chunks = iter(self._body.chunks(READ_SLICE))
        parts = [self._pending]
        have = len(self._pending)
        while size < 0 or have < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            parts.append(bytes(chunk))
            have += len(chunk)
        data = b"".join(parts)
        if size < 0:
            self._pending = b""
            return data
        self._pending = data[size:]
        return data[:size]
