"""An ASGI backend for browser uploads with Uppy (``@uppy/aws-s3`` 4, 5 and 6, unmodified).

It serves the Companion-compatible routes the plugin calls (the protocol, with its sources, is
in docs/presigned.md), presigning with a :class:`~resilient_s3.Presigner` (TTLs clamped to the
signing credentials, the server's clock). The browser sends the bytes straight to S3. Mount it
in any ASGI application (FastAPI: ``app.mount("/", uppy_app(...))``) and point Uppy at its URL
(v6: ``companionEndpoint``, v4/v5: ``endpoint``)::

    from resilient_s3 import Presigner
    from resilient_s3.uppy import uppy_app

    app = uppy_app(Presigner(), bucket="uploads", prefix="incoming/")

The client never chooses the key: ``choose_key`` does (by default the prefix, a random folder
and the file's cleaned name), and every key a client sends back must lie below the prefix. It
also serves ``POST /s3/sign`` for :class:`~resilient_s3.PresignedUploader` (:func:`signer`),
whose keys ``sign_key`` places. Needs the ``uppy`` extra (Starlette).
"""

from __future__ import annotations

import base64
import inspect
import json
import posixpath
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._api.presigner import AsyncPresigner, Presigner
from ._exceptions import InvalidUploadError, S3RequestError, UploadError
from ._limits import validate_key
from ._presigned import SignAnswer, SignRequest, answer_from_json, answer_to_json

__all__ = ["signer", "uppy_app"]

Authorize = Callable[[Request], Any]
"""Called with each request; returns who asks (anything, passed to ``choose_key``) or raises
``PermissionError`` (403), or returns False (403). Sync or async."""
ChooseKey = Callable[[str, str | None, Mapping[str, str], Any], str]
"""``choose_key(filename, content_type, metadata, identity)`` -> the object's key."""
SignKey = Callable[[str, Any], str]
"""``sign_key(requested_key, identity)`` -> the object's key, for ``POST /s3/sign``. It must
give the same key every time for the same arguments: a :class:`~resilient_s3.PresignedUploader`
names its upload by the key it asked for, on every request and when it resumes."""

_BODY_LIMIT = 1024 * 1024
"""Bytes of JSON a request may carry (Companion's limit for complete)."""
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_META_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,127}")
_META_LIMIT = 2048


def uppy_app(
    presigner: AsyncPresigner | Presigner,
    *,
    bucket: str,
    prefix: str = "",
    part_expires_in: int = 3600,
    put_expires_in: int = 900,
    authorize: Authorize | None = None,
    choose_key: ChooseKey | None = None,
    sign_key: SignKey | None = None,
    max_size: int | None = None,
    content_types: Iterable[str] | None = None,
    cors_origins: Sequence[str] = (),
) -> Starlette:
    """The backend for Uppy: Companion's ``/s3`` routes over ``presigner``.

    ``prefix``: every key lies below it. ``part_expires_in``: seconds a part URL lives (Uppy
    4/5 also use it as the part's request timeout: never make it short). ``max_size``: bytes
    an upload may have (a form upload's policy and a single PUT's signed Content-Length say
    so; a multipart upload above it is refused at creation when its size is given, and aborted
    at completion). ``content_types``: allowed types, ``"image/"`` allowing every image type.
    ``cors_origins``: the page origins allowed to call this backend (when it is on another
    origin than the page; stock Uppy 6 then sends no cookies). Upload keys are never taken
    from a browser: see ``choose_key``. ``sign_key`` places the keys a
    :class:`~resilient_s3.PresignedUploader` asks for (default: below ``prefix``, shared by
    every client; give each user their own folder with the identity ``authorize`` returned).
    """
    backend = _Backend(
        presigner,
        bucket=bucket,
        prefix=prefix,
        part_expires_in=part_expires_in,
        put_expires_in=put_expires_in,
        authorize=authorize,
        choose_key=choose_key or default_key(prefix),
        sign_key=sign_key or below(prefix),
        max_size=max_size,
        content_types=tuple(content_types) if content_types is not None else None,
    )
    routes = [
        Route("/s3/params", backend.params, methods=["GET"]),
        Route("/s3/sign", backend.sign, methods=["POST"]),
        Route("/s3/multipart", backend.create, methods=["POST"]),
        Route("/s3/multipart/{upload_id}/batch", backend.batch, methods=["GET"]),
        Route("/s3/multipart/{upload_id}/complete", backend.complete, methods=["POST"]),
        Route("/s3/multipart/{upload_id}/{part_number:int}", backend.part, methods=["GET"]),
        Route("/s3/multipart/{upload_id}", backend.list_parts, methods=["GET"]),
        Route("/s3/multipart/{upload_id}", backend.abort, methods=["DELETE"]),
    ]
    middleware = []
    if cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allow_headers=[
                    "authorization",
                    "content-type",
                    "accept",
                    "uppy-auth-token",
                    "uppy-credentials-params",
                ],
                allow_credentials=True,
            )
        )
    return Starlette(routes=routes, middleware=middleware)


def default_key(prefix: str) -> ChooseKey:
    """``prefix`` + a random folder + the file's name, cleaned: unguessable, never a path."""

    def choose(
        filename: str, content_type: str | None, metadata: Mapping[str, str], who: Any
    ) -> str:
        name = _SAFE_NAME.sub("_", posixpath.basename(filename.replace("\\", "/"))).strip(" .")
        return f"{prefix}{uuid.uuid4().hex}/{name[:200] or 'file'}"

    return choose


def below(prefix: str) -> SignKey:
    """The requested key below ``prefix`` (unchanged if it already is): the same every time."""

    def place(key: str, who: Any) -> str:
        return key if key.startswith(prefix) else prefix + key

    return place


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Backend:
    def __init__(
        self,
        presigner: AsyncPresigner | Presigner,
        *,
        bucket: str,
        prefix: str,
        part_expires_in: int,
        put_expires_in: int,
        authorize: Authorize | None,
        choose_key: ChooseKey,
        sign_key: SignKey,
        max_size: int | None,
        content_types: tuple[str, ...] | None,
    ) -> None:
        self._presigner = presigner
        self._bucket = bucket
        self._prefix = prefix
        self._part_expires = part_expires_in
        self._put_expires = put_expires_in
        self._authorize = authorize
        self._choose_key = choose_key
        self._sign_key = sign_key
        self._max_size = max_size
        self._content_types = content_types

    # -- routes ------------------------------------------------------------------------------

    async def params(self, request: Request) -> Response:
        async def answer() -> Any:
            who = await self._who(request)
            query = request.query_params
            content_type = query.get("type") or None
            self._check_type(content_type)
            metadata = _metadata(query.multi_items())
            key = self._key(query.get("filename") or "file", content_type, metadata, who)
            post = await self._call(
                "presign_post",
                self._bucket,
                key,
                content_type=content_type,
                size_range=(0, self._max_size) if self._max_size is not None else None,
                fields={f"x-amz-meta-{k}": v for k, v in _stored(metadata).items()},
                expires_in=self._put_expires,
            )
            return {
                "method": "POST",
                "url": post.url,
                "fields": dict(post.fields),
                "expires": post.expires_in,
            }

        return await _respond(answer)

    async def create(self, request: Request) -> Response:
        async def answer() -> Any:
            who = await self._who(request)
            body = await _json(request)
            content_type = body.get("type") or None
            self._check_type(content_type)
            sent = body.get("metadata") or {}
            metadata = {str(k): str(v) for k, v in sent.items() if v is not None}
            key = self._key(body.get("filename") or "file", content_type, metadata, who)
            created = await self._call(
                "create_multipart",
                self._bucket,
                key,
                content_type=content_type,
                extra_args={"Metadata": _stored(metadata)},
            )
            return {"uploadId": created.upload_id, "key": created.key, "bucket": self._bucket}

        return await _respond(answer)

    async def part(self, request: Request) -> Response:
        async def answer() -> Any:
            await self._who(request)
            key = self._client_key(request)
            url = await self._call(
                "presign_part",
                self._bucket,
                key,
                request.path_params["upload_id"],
                request.path_params["part_number"],
                expires_in=self._part_expires,
            )
            return {"url": url.url, "expires": url.expires_in, "method": "PUT", "headers": {}}

        return await _respond(answer)

    async def batch(self, request: Request) -> Response:
        async def answer() -> Any:
            await self._who(request)
            key = self._client_key(request)
            numbers = [int(n) for n in request.query_params.get("partNumbers", "").split(",") if n]
            urls = {}
            for number in numbers:
                url = await self._call(
                    "presign_part",
                    self._bucket,
                    key,
                    request.path_params["upload_id"],
                    number,
                    expires_in=self._part_expires,
                )
                urls[str(number)] = url.url
            return {"presignedUrls": urls}

        return await _respond(answer)

    async def list_parts(self, request: Request) -> Response:
        async def answer() -> Any:
            await self._who(request)
            key = self._client_key(request)
            parts = await self._call(
                "list_parts", self._bucket, key, request.path_params["upload_id"]
            )
            return [{"PartNumber": p.part_number, "ETag": p.etag, "Size": p.size} for p in parts]

        return await _respond(answer)

    async def complete(self, request: Request) -> Response:
        async def answer() -> Any:
            await self._who(request)
            key = self._client_key(request)
            upload_id = request.path_params["upload_id"]
            body = await _json(request)
            parts = [(int(p["PartNumber"]), str(p["ETag"])) for p in body.get("parts") or ()]
            if not parts:
                raise _Refused(400, "complete needs parts: [{PartNumber, ETag}, ...]")
            await self._check_uploaded_size(key, upload_id)
            done = await self._call("complete_multipart", self._bucket, key, upload_id, parts)
            return {"location": done.location, "key": done.key, "bucket": done.bucket}

        return await _respond(answer)

    async def abort(self, request: Request) -> Response:
        async def answer() -> Any:
            await self._who(request)
            key = self._client_key(request)
            await self._call("abort_multipart", self._bucket, key, request.path_params["upload_id"])
            return {}

        return await _respond(answer)

    async def sign(self, request: Request) -> Response:
        """:class:`PresignedUploader`'s protocol: a SignRequest in, its answer out. The key is
        ``sign_key``'s (the same every time, so that an upload resumes), the size limit and
        the content types are this backend's."""

        async def answer() -> Any:
            who = await self._who(request)
            asked = SignRequest.from_json(await _json(request))
            self._check_type(asked.content_type)
            key = self._inside(self._sign_key(asked.key, who))
            if asked.action in ("put", "create"):
                self._check_size(asked.action, asked.size)
            if asked.action == "complete" and asked.upload_id:
                await self._check_uploaded_size(key, asked.upload_id)
            placed = SignRequest(**{**_fields(asked), "key": key, "bucket": self._bucket})
            answered = await self._call(
                "answer",
                placed,
                bucket=self._bucket,
                put_expires_in=self._put_expires,
                part_expires_in=self._part_expires,
            )
            return answer_to_json(answered)

        return await _respond(answer)

    # -- checks ------------------------------------------------------------------------------

    async def _who(self, request: Request) -> Any:
        if self._authorize is None:
            return None
        try:
            who = self._authorize(request)
            if inspect.isawaitable(who):
                who = await who
        except PermissionError as exc:
            raise _Refused(403, str(exc) or "not allowed") from exc
        if who is False:
            raise _Refused(403, "not allowed")
        return who

    def _key(
        self, filename: str, content_type: str | None, metadata: Mapping[str, str], who: Any
    ) -> str:
        return self._inside(self._choose_key(filename, content_type, metadata, who))

    def _client_key(self, request: Request) -> str:
        key = request.query_params.get("key")
        if not key:
            raise _Refused(400, "the key query parameter is missing")
        return self._inside(key)

    def _inside(self, key: str) -> str:
        """A key below the prefix, with no way out of it."""
        segments = key.split("/")
        if key.startswith("/") or ".." in segments or not key.startswith(self._prefix):
            raise _Refused(403, f"keys must lie below {self._prefix!r}, without '..'")
        try:
            validate_key(key)
        except InvalidUploadError as exc:
            raise _Refused(400, exc.message) from exc
        return key

    def _check_size(self, action: str, size: int | None) -> None:
        """A single PUT must say its size (its URL then accepts exactly that many bytes); a
        multipart upload that says it is too large is refused before it starts."""
        limit = self._max_size
        if limit is None:
            return
        if size is None and action == "put":
            raise _Refused(411, f"a single PUT must give its size here (at most {limit} bytes)")
        if size is not None and size > limit:
            raise _Refused(413, f"the upload has {size} bytes, more than {limit}")

    async def _check_uploaded_size(self, key: str, upload_id: str) -> None:
        """Before completing: the parts S3 holds stay within the limit, or the upload goes."""
        if self._max_size is None:
            return
        listed = await self._call("list_parts", self._bucket, key, upload_id)
        size = sum(p.size for p in listed)
        if size > self._max_size:
            await self._call("abort_multipart", self._bucket, key, upload_id)
            raise _Refused(413, f"the upload has {size} bytes, more than {self._max_size}")

    def _check_type(self, content_type: str | None) -> None:
        allowed = self._content_types
        if allowed is None:
            return
        if content_type is None or not any(
            content_type == a or (a.endswith("/") and content_type.startswith(a)) for a in allowed
        ):
            raise _Refused(415, f"content type {content_type!r} is not accepted here")

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        presigner = self._presigner
        if isinstance(presigner, AsyncPresigner):
            return await getattr(presigner, method)(*args, **kwargs)
        # A blocking Presigner runs on its own loop thread: wait for it off this loop.
        return await anyio.to_thread.run_sync(lambda: getattr(presigner, method)(*args, **kwargs))


async def _respond(answer: Callable[[], Awaitable[Any]]) -> Response:
    try:
        return JSONResponse(await answer())
    except _Refused as exc:
        return JSONResponse({"message": exc.message}, status_code=exc.status)
    except InvalidUploadError as exc:
        return JSONResponse({"message": exc.message}, status_code=400)
    except S3RequestError as exc:
        status = exc.status if exc.status in (403, 404) else 502
        cause = str(exc.diagnosis.cause) if exc.diagnosis else None
        return JSONResponse({"message": exc.message, "cause": cause}, status_code=status)
    except UploadError as exc:
        return JSONResponse({"message": exc.message}, status_code=502)


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > _BODY_LIMIT:
        raise _Refused(413, f"the request body is over {_BODY_LIMIT} bytes")
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise _Refused(400, "the request body is not JSON") from exc
    if not isinstance(data, dict):
        raise _Refused(400, "the request body must be a JSON object")
    return data


def _metadata(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Uppy sends ``metadata[name]=value`` query parameters."""
    found = {}
    for name, value in items:
        if name.startswith("metadata[") and name.endswith("]"):
            found[name[9:-1]] = value
    return found


def _stored(metadata: Mapping[str, str]) -> dict[str, str]:
    """Uppy's metadata as the object's user metadata, as Companion stores it: names S3 takes,
    values outside printable ASCII encoded as RFC 2047 says (S3's advice), 2 KB at most."""
    stored = {}
    for name, value in metadata.items():
        name = name.lower()
        if not _META_NAME.fullmatch(name):
            continue
        if not (value.isascii() and value.isprintable()):
            value = "=?UTF-8?B?" + base64.b64encode(value.encode()).decode() + "?="
        stored[name] = value
    if sum(len(n) + len(v) for n, v in stored.items()) > _META_LIMIT:
        raise _Refused(400, f"the file's metadata is over {_META_LIMIT} bytes, S3's limit")
    return stored


def _fields(request: SignRequest) -> dict[str, Any]:
    return {name: getattr(request, name) for name in request.__dataclass_fields__}


def signer(
    base_url: str, *, headers: Mapping[str, str] | None = None
) -> Callable[[SignRequest], Awaitable[SignAnswer]]:
    """A ``sign`` callable for :class:`~resilient_s3.PresignedUploader` that asks the backend
    at ``base_url`` (where :func:`uppy_app` is mounted) over HTTP, with ``headers`` (your
    session cookie or token) on every request."""
    import aiohttp

    url = base_url.rstrip("/") + "/s3/sign"

    async def sign(request: SignRequest) -> SignAnswer:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=request.to_json(), headers=dict(headers or {})) as response,
        ):
            data = await response.json(content_type=None)
            if response.status != 200:
                message = data.get("message") if isinstance(data, dict) else data
                raise UploadError(
                    f"the backend refused a {request.action!r} sign request "
                    f"(HTTP {response.status}): {message}",
                    key=request.key,
                )
            return answer_from_json(request, data)

    return sign
