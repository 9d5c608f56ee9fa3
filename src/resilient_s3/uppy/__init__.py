"""An ASGI backend for browser uploads with Uppy (``@uppy/aws-s3`` 4, 5 and 6, unmodified).

It serves the Companion-compatible routes the plugin calls (the protocol, with its sources, is
in docs/presigned.md), presigning with a :class:`~resilient_s3.Presigner` (TTLs clamped to the
signing credentials, the server's clock). The browser sends the bytes straight to S3. Mount it
in any ASGI application (FastAPI: ``app.mount("/", uppy_app(...))``) and point Uppy at its URL
(v6: ``companionEndpoint``, v4/v5: ``endpoint``)::

    from resilient_s3 import Presigner
    from resilient_s3.uppy import uppy_app

    app = uppy_app(Presigner(), bucket="uploads", prefix="incoming/")

It faces the Internet (docs/deploying-uppy.md has the threat model): the client never chooses
a key (``choose_key`` does, below the prefix); with ``authorize``, every key of a user lies in
that user's own folder (``user_folder``), so every route refuses another user's keys and
uploads; nothing a browser sends reaches S3 unchecked (media types, metadata, part numbers,
sizes); and each request does bounded work. It also serves ``POST /s3/sign`` for
:class:`~resilient_s3.PresignedUploader` (:func:`signer`), whose keys ``sign_key`` places.
Needs the ``uppy`` extra (Starlette).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import posixpath
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import _fields as fields
from .._api.presigner import AsyncPresigner, Presigner
from .._exceptions import InvalidUploadError, UploadError
from .._limits import validate_key
from .._presigned import CompletedUpload, SignAnswer, SignRequest, answer_from_json, answer_to_json
from ._http import ERROR_ANSWERS, cors
from ._input import (
    Refused,
    allowed_types,
    completed_parts,
    matches,
    media_type,
    query_metadata,
    read_json,
    stored_metadata,
    upload_id_of,
)

__all__ = ["signer", "uppy_app"]

Authorize = Callable[[Request], Any]
"""Called with each request; returns who asks (a user id: str, int or UUID, unless
``user_folder`` takes other identities), or raises ``PermissionError`` / returns False (403).
Sync or async."""
ChooseKey = Callable[[str, str | None, Mapping[str, str], Any], str]
"""``choose_key(filename, content_type, metadata, identity)`` -> the object's key, which must
lie in the identity's folder."""
SignKey = Callable[[str, Any], str]
"""``sign_key(requested_key, identity)`` -> the object's key, for ``POST /s3/sign``, in the
identity's folder. It must give the same key every time for the same arguments: a
:class:`~resilient_s3.PresignedUploader` names its upload by the key it asked for, on every
request and when it resumes."""
UserFolder = Callable[[Any], str]
"""``user_folder(identity)`` -> the one path segment below ``prefix`` that holds every key of
that identity."""

BATCH_LIMIT = 100
"""Part URLs one ``batch`` request may ask for (stock Uppy asks for one at a time)."""
_SAFE_NAME = re.compile(r"[^\w.\- ]+")
"""What a file name loses in the default key: separators, control characters, punctuation
(letters of every script stay)."""


def uppy_app(
    presigner: AsyncPresigner | Presigner,
    *,
    bucket: str,
    prefix: str = "",
    part_expires_in: int = 3600,
    put_expires_in: int = 900,
    authorize: Authorize | None = None,
    user_folder: UserFolder | None = None,
    choose_key: ChooseKey | None = None,
    sign_key: SignKey | None = None,
    max_size: int | None = None,
    content_types: Iterable[str] | None = None,
    cors_origins: Sequence[str] = (),
) -> Starlette:
    """The backend for Uppy: Companion's ``/s3`` routes over ``presigner``.

    ``prefix``: every key lies below it. ``authorize``: who asks (see :data:`Authorize`);
    without it the backend serves anyone and every client shares the prefix. With it, each
    identity's keys lie below ``prefix + user_folder(identity) + "/"`` (by default a hash of
    the identity): a user can list, sign, complete or abort only their own uploads, and
    ``POST /s3/sign`` reaches only their own objects. ``part_expires_in``: seconds a part URL
    lives (Uppy 4/5 also use it as the part's request timeout: never make it short).
    ``max_size``: bytes an upload may have (a form upload's policy and a single PUT's signed
    Content-Length say so; a multipart upload that declares more is refused, and one that
    grows past it is aborted before completion or deleted after it). ``content_types``:
    allowed media types, ``"image/"`` allowing every image type but the ``+xml`` ones (SVG
    can carry scripts: list ``"image/svg+xml"`` to allow it). ``cors_origins``: the page
    origins (``https://host[:port]``) allowed to call this backend when it is on another
    origin than the page, with cookies; ``["*"]`` allows every origin, without cookies.
    ``choose_key`` / ``sign_key`` place the keys of Uppy's uploads and of
    :class:`~resilient_s3.PresignedUploader`'s (defaults: a random folder and the file's
    cleaned name; the requested key), inside the identity's folder.
    """
    backend = _Backend(
        presigner,
        bucket=bucket,
        prefix=prefix,
        part_expires_in=part_expires_in,
        put_expires_in=put_expires_in,
        authorize=authorize,
        user_folder=user_folder or hashed_folder,
        choose_key=choose_key,
        sign_key=sign_key,
        max_size=max_size,
        content_types=allowed_types(content_types),
    )
    routes = [
        Route("/s3/params", backend.params, methods=["GET"]),
        Route("/s3/sign", backend.sign, methods=["POST"]),
        Route("/s3/multipart", backend.create, methods=["POST"]),
        Route("/s3/multipart/{upload_id}/batch", backend.batch, methods=["GET"]),
        Route("/s3/multipart/{upload_id}/complete", backend.complete, methods=["POST"]),
        Route("/s3/multipart/{upload_id}/{part_number}", backend.part, methods=["GET"]),
        Route("/s3/multipart/{upload_id}", backend.list_parts, methods=["GET"]),
        Route("/s3/multipart/{upload_id}", backend.abort, methods=["DELETE"]),
    ]
    return Starlette(
        routes=routes,
        middleware=cors(cors_origins),
        exception_handlers=ERROR_ANSWERS,
    )


def hashed_folder(identity: Any) -> str:
    """The default ``user_folder``: 32 hex digits of the identity's SHA-256 (stable across
    processes and restarts; no identity shows in a key)."""
    if isinstance(identity, bool) or not isinstance(identity, str | int | uuid.UUID):
        raise Refused(
            500,
            f"authorize returned {type(identity).__name__!r}: return the user's id (str, int "
            "or UUID), or give uppy_app(user_folder=...) to name folders by your identities",
        )
    return hashlib.sha256(str(identity).encode()).hexdigest()[:32]


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
        user_folder: UserFolder,
        choose_key: ChooseKey | None,
        sign_key: SignKey | None,
        max_size: int | None,
        content_types: tuple[str, ...] | None,
    ) -> None:
        self._presigner = presigner
        self._bucket = bucket
        self._prefix = prefix
        self._part_expires = part_expires_in
        self._put_expires = put_expires_in
        self._authorize = authorize
        self._user_folder = user_folder
        self._choose_key = choose_key
        self._sign_key = sign_key
        self._max_size = max_size
        self._content_types = content_types
        self._bucket_seen = False

    # -- routes ------------------------------------------------------------------------------

    async def params(self, request: Request) -> Response:
        who = await self._who(request)
        query = request.query_params
        content_type = media_type(query.get("type"), "type")
        self._check_type(content_type)
        metadata = stored_metadata(query_metadata(query.multi_items()))
        key = self._new_key(query.get("filename") or "file", content_type, metadata, who)
        if not self._bucket_seen:  # a form is signed without S3: no other call would tell
            await self._call("check_bucket", self._bucket)
            self._bucket_seen = True
        post = await self._call(
            "presign_post",
            self._bucket,
            key,
            content_type=content_type,
            size_range=(0, self._max_size) if self._max_size is not None else None,
            fields={f"x-amz-meta-{k}": v for k, v in metadata.items()},
            expires_in=self._put_expires,
        )
        return JSONResponse(
            {
                "method": "POST",
                "url": post.url,
                "fields": dict(post.fields),
                "expires": post.expires_in,
            }
        )

    async def create(self, request: Request) -> Response:
        who = await self._who(request)
        body = await read_json(request)
        content_type = media_type(fields.text(body, "type"), "type")
        self._check_type(content_type)
        self._check_size("create", fields.whole(body, "size"))
        metadata = stored_metadata(fields.string_map(body, "metadata"))
        filename = fields.text(body, "filename") or "file"
        key = self._new_key(filename, content_type, metadata, who)
        created = await self._call(
            "create_multipart",
            self._bucket,
            key,
            content_type=content_type,
            extra_args={"Metadata": metadata},
        )
        return JSONResponse(
            {"uploadId": created.upload_id, "key": created.key, "bucket": self._bucket}
        )

    async def part(self, request: Request) -> Response:
        who = await self._who(request)
        key = self._client_key(request, who)
        number = fields.part_number(request.path_params["part_number"], "the part number")
        url = await self._call(
            "presign_part",
            self._bucket,
            key,
            upload_id_of(request),
            number,
            expires_in=self._part_expires,
        )
        return JSONResponse(
            {"url": url.url, "expires": url.expires_in, "method": "PUT", "headers": {}}
        )

    async def batch(self, request: Request) -> Response:
        who = await self._who(request)
        key = self._client_key(request, who)
        listed = [n for n in request.query_params.get("partNumbers", "").split(",") if n]
        if not listed:
            raise Refused(400, "partNumbers is missing: partNumbers=1,2,3")
        if len(listed) > BATCH_LIMIT:
            raise Refused(
                400,
                f"partNumbers names {len(listed):,} parts; ask for {BATCH_LIMIT} at most at once",
            )
        numbers = sorted({fields.part_number(n, "partNumbers") for n in listed})
        upload_id = upload_id_of(request)
        urls = {}
        for number in numbers:
            url = await self._call(
                "presign_part", self._bucket, key, upload_id, number, expires_in=self._part_expires
            )
            urls[str(number)] = url.url
        return JSONResponse({"presignedUrls": urls})

    async def list_parts(self, request: Request) -> Response:
        who = await self._who(request)
        key = self._client_key(request, who)
        parts = await self._call("list_parts", self._bucket, key, upload_id_of(request))
        return JSONResponse(
            [{"PartNumber": p.part_number, "ETag": p.etag, "Size": p.size} for p in parts]
        )

    async def complete(self, request: Request) -> Response:
        who = await self._who(request)
        key = self._client_key(request, who)
        upload_id = upload_id_of(request)
        parts = completed_parts(await read_json(request))
        await self._check_uploaded_size(key, upload_id)
        done = await self._call("complete_multipart", self._bucket, key, upload_id, parts)
        await self._check_stored_size(done)
        return JSONResponse({"location": done.location, "key": done.key, "bucket": done.bucket})

    async def abort(self, request: Request) -> Response:
        who = await self._who(request)
        key = self._client_key(request, who)
        await self._call("abort_multipart", self._bucket, key, upload_id_of(request))
        return JSONResponse({})

    async def sign(self, request: Request) -> Response:
        """:class:`PresignedUploader`'s protocol: a SignRequest in, its answer out. The key is
        ``sign_key``'s (the same every time, so that an upload resumes) in the identity's
        folder; the size limit, the media types and the metadata rules are this backend's."""
        who = await self._who(request)
        asked = SignRequest.from_json(await read_json(request))
        key = self._placed(asked.key, who)
        content_type = media_type(asked.content_type, "content_type")
        if asked.action in ("put", "create"):
            self._check_type(content_type)
            self._check_size(asked.action, asked.size)
        if asked.action == "complete" and asked.upload_id:
            await self._check_uploaded_size(key, asked.upload_id)
        placed = dataclasses.replace(
            asked,
            key=key,
            bucket=self._bucket,
            content_type=content_type,
            metadata=stored_metadata(asked.metadata),
        )
        answered: SignAnswer = await self._call(
            "answer",
            placed,
            bucket=self._bucket,
            put_expires_in=self._put_expires,
            part_expires_in=self._part_expires,
        )
        if isinstance(answered, CompletedUpload) and asked.action == "complete":
            await self._check_stored_size(answered)
        return JSONResponse(answer_to_json(answered))

    # -- who asks, and where their keys lie ---------------------------------------------------

    async def _who(self, request: Request) -> Any:
        if self._authorize is None:
            return None
        try:
            who = self._authorize(request)
            if inspect.isawaitable(who):
                who = await who
        except PermissionError as exc:
            raise Refused(403, str(exc) or "not allowed") from exc
        if who is False:
            raise Refused(403, "not allowed")
        if who is None:
            raise Refused(
                500, "authorize returned None: return who asks (a user id), or False to refuse"
            )
        return who

    def _root(self, who: Any) -> str:
        """Where the keys of ``who`` lie: the prefix, and their own folder below it."""
        if self._authorize is None:
            return self._prefix
        folder = self._user_folder(who)
        if (
            not isinstance(folder, str)
            or not folder
            or len(folder) > 200
            or "/" in folder
            or folder in (".", "..")
            or not folder.isprintable()
        ):
            raise Refused(
                500, f"user_folder returned {fields.shown(folder)}: one path segment, please"
            )
        return f"{self._prefix}{folder}/"

    def _new_key(
        self, filename: str, content_type: str | None, metadata: Mapping[str, str], who: Any
    ) -> str:
        if self._choose_key is not None:
            return self._inside(self._choose_key(filename, content_type, metadata, who), who)
        name = _SAFE_NAME.sub("_", posixpath.basename(filename.replace("\\", "/"))).strip(" .")
        return self._inside(f"{self._root(who)}{uuid.uuid4().hex}/{name[:200] or 'file'}", who)

    def _placed(self, requested: str, who: Any) -> str:
        if self._sign_key is not None:
            return self._inside(self._sign_key(requested, who), who)
        root = self._root(who)
        return self._inside(requested if requested.startswith(root) else root + requested, who)

    def _client_key(self, request: Request, who: Any) -> str:
        key = request.query_params.get("key")
        if not key:
            raise Refused(400, "the key query parameter is missing")
        return self._inside(key, who)

    def _inside(self, key: str, who: Any) -> str:
        """A key in the caller's folder, with no way out of it."""
        root = self._root(who)
        segments = key.split("/")
        if not key.startswith(root) or key == root or "." in segments or ".." in segments:
            raise Refused(403, f"keys here lie below {root!r}, without '.' or '..' segments")
        try:
            validate_key(key)
        except InvalidUploadError as exc:
            raise Refused(400, exc.message) from exc
        return key

    # -- limits ------------------------------------------------------------------------------

    def _check_size(self, action: str, size: int | None) -> None:
        """A single PUT must say its size (its URL then accepts exactly that many bytes); an
        upload that says it is too large is refused before it starts."""
        limit = self._max_size
        if limit is None:
            return
        if size is None and action == "put":
            raise Refused(411, f"a single PUT must give its size here (at most {limit:,} bytes)")
        if size is not None and size > limit:
            raise Refused(413, f"the upload has {size:,} bytes, more than {limit:,}")

    async def _check_uploaded_size(self, key: str, upload_id: str) -> None:
        """Before completing: the parts S3 holds stay within the limit, or the upload goes."""
        if self._max_size is None:
            return
        listed = await self._call("list_parts", self._bucket, key, upload_id)
        size = sum(p.size for p in listed)
        if size > self._max_size:
            await self._call("abort_multipart", self._bucket, key, upload_id)
            raise Refused(413, f"the upload has {size:,} bytes, more than {self._max_size:,}")

    async def _check_stored_size(self, done: CompletedUpload) -> None:
        """After completing: a part replaced between the listing and the completion cannot
        slip past the limit; an object over it is deleted."""
        if self._max_size is None:
            return
        stored = await self._call("head", self._bucket, done.key)
        if stored is not None and stored.size is not None and stored.size > self._max_size:
            await self._call("delete_object", self._bucket, done.key, version_id=done.version_id)
            raise Refused(
                413,
                f"the object has {stored.size:,} bytes, more than {self._max_size:,}: deleted",
            )

    def _check_type(self, content_type: str | None) -> None:
        allowed = self._content_types
        if allowed is None:
            return
        if content_type is None:
            raise Refused(415, f"the file has no content type; accepted here: {', '.join(allowed)}")
        essence = content_type.split(";", 1)[0]
        if not any(matches(essence, pattern) for pattern in allowed):
            raise Refused(
                415, f"content type {essence} is not accepted here ({', '.join(allowed)})"
            )

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        presigner = self._presigner
        if isinstance(presigner, AsyncPresigner):
            return await getattr(presigner, method)(*args, **kwargs)
        # A blocking Presigner runs on its own loop thread: wait for it off this loop.
        return await anyio.to_thread.run_sync(lambda: getattr(presigner, method)(*args, **kwargs))


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
