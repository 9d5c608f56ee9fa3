"""What a browser sends the Uppy backend, read as it must be before anything reaches S3: JSON
bodies bounded while they stream, media types, metadata, part numbers and part lists. Each
reader answers a bad value with :class:`Refused` (status and message), never a traceback."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request

from .. import _fields as fields
from .._exceptions import InvalidUploadError
from .._headers import TCHARS

BODY_LIMIT = 1024 * 1024
"""Bytes of JSON a request may carry (Companion's limit for complete: 10,000 parts fit)."""
TOKEN = f"[{TCHARS}]+"
_MEDIA_TYPE = re.compile(
    rf"({TOKEN})/({TOKEN})((?:[ \t]*;[ \t]*{TOKEN}=(?:{TOKEN}|\"[^\"\\\x00-\x1f\x7f]*\"))*)"
)
_META_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,127}")
_META_LIMIT = 2048


class Refused(Exception):
    """A request refused with ``status`` and ``message`` (the backend answers JSON)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_json(request: Request) -> Mapping[str, Any]:
    """The request's JSON object, read with a running count: never more than BODY_LIMIT bytes
    in memory, whatever Content-Length says or omits. It must say it is JSON (stock Uppy,
    Companion's client and :func:`signer` do): a page on another site can send a cookie-laden
    form or text/plain POST without asking CORS first, never an application/json one."""
    declared = request.headers.get("content-length")
    if declared is not None and not (declared.isascii() and declared.isdigit()):
        raise Refused(400, "Content-Length is not a number")
    if declared is not None and int(declared) > BODY_LIMIT:
        raise Refused(413, f"the request body is over {BODY_LIMIT:,} bytes")
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/json":
        raise Refused(415, "send the body as JSON, with Content-Type: application/json")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_LIMIT:
            raise Refused(413, f"the request body is over {BODY_LIMIT:,} bytes")
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError) as exc:
        raise Refused(400, "the request body is not JSON (or nests too deep)") from exc
    return fields.json_object(data, "the request body")


def upload_id_of(request: Request) -> str:
    upload_id: str = request.path_params["upload_id"]
    if len(upload_id) > 1024 or not upload_id.isprintable():
        raise Refused(400, "that is not an upload id")
    return upload_id


def completed_parts(body: Mapping[str, Any]) -> list[tuple[int, str]]:
    parts = []
    for entry in fields.array(body, "parts", most=fields.MAX_PART_NUMBER):
        entry = fields.json_object(entry, "each of 'parts'")
        number = fields.part_number(entry.get("PartNumber"), "PartNumber")
        etag = fields.text(entry, "ETag")
        if not etag:
            raise Refused(
                400, f"part {number} has no ETag (is ETag in the bucket's CORS ExposeHeaders?)"
            )
        parts.append((number, etag))
    if not parts:
        raise Refused(400, "complete needs parts: [{PartNumber, ETag}, ...]")
    if len({number for number, _ in parts}) != len(parts):
        raise Refused(400, "parts names a part number twice")
    return parts


def media_type(value: str | None, name: str) -> str | None:
    """A media type as S3 will store it (type and subtype in lower case), or None for none;
    anything that is not ``type/subtype[; name=value]`` is refused."""
    if not value:
        return None
    match = _MEDIA_TYPE.fullmatch(value.strip()) if len(value) <= 255 else None
    if match is None:
        raise Refused(400, f"{name} {fields.shown(value)} is not a media type such as image/png")
    return f"{match[1].lower()}/{match[2].lower()}{match[3]}"


def allowed_types(content_types: Iterable[str] | None) -> tuple[str, ...] | None:
    if content_types is None:
        return None
    if isinstance(content_types, str):
        raise InvalidUploadError('content_types is a list: ["image/png", "video/"]')
    allowed = tuple(t.lower() for t in content_types)
    for pattern in allowed:
        kind, slash, subtype = pattern.partition("/")
        if (
            not slash
            or not re.fullmatch(TOKEN, kind)
            or (subtype and not re.fullmatch(TOKEN, subtype))
        ):
            raise InvalidUploadError(
                f'content_types: {pattern!r} is neither a media type ("image/png") nor a '
                'type followed by a slash ("image/")'
            )
    return allowed


def matches(essence: str, pattern: str) -> bool:
    """``image/`` takes every image type but the XML ones (``image/svg+xml`` runs scripts
    when opened from the bucket's origin): those must be listed in full."""
    if pattern.endswith("/"):
        return essence.startswith(pattern) and not essence.endswith("+xml")
    return essence == pattern


def query_metadata(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Uppy sends ``metadata[name]=value`` query parameters."""
    found = {}
    for name, value in items:
        if name.startswith("metadata[") and name.endswith("]"):
            found[name[9:-1]] = value
    return found


def stored_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
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
        raise Refused(400, f"the file's metadata is over {_META_LIMIT} bytes, S3's limit")
    return stored
