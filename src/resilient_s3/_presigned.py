"""What presigning produces, and what a credential-less client asks its backend for.

A server with credentials (:class:`resilient_s3.Presigner`) signs requests; a client without
them (:class:`resilient_s3.PresignedUploader`, a browser) sends them. Everything here converts
to and from JSON (``to_json`` / ``from_json``), so the two can talk over any HTTP API. Reprs
never show a URL's signature, credential or token, nor a POST policy's.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from . import _fields as fields
from ._exceptions import InvalidUploadError
from ._redact import redact_headers, redact_url

SignAction = Literal["put", "create", "part", "list", "complete", "abort", "head"]
SIGN_ACTIONS: tuple[SignAction, ...] = get_args(SignAction)


def _when(value: str | datetime.datetime) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True, repr=False)
class PresignedRequest:
    """One request a client may send without credentials: exactly this ``method`` to ``url``
    with exactly these ``headers`` (they were signed: Content-Type, checksums, SSE), before
    ``expires_at``."""

    method: str
    url: str
    headers: Mapping[str, str]
    expires_at: datetime.datetime
    """When the URL stops working (UTC, by the server's clock)."""
    expires_in: int = 0
    """Seconds it was signed for: a client should count them from when it got the URL."""
    bucket: str = ""
    key: str = ""
    clamped: str | None = None
    """Why the URL lives shorter than was asked (the signing credentials expire sooner, or
    AWS's 7-day limit), or None."""

    def __repr__(self) -> str:
        return (
            f"PresignedRequest(method={self.method!r}, url={redact_url(self.url)!r}, "
            f"headers={redact_headers(self.headers)!r}, expires_at={self.expires_at.isoformat()!r},"
            f" clamped={self.clamped!r})"
        )

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON: what a backend sends a client (``from_json`` reads it)."""
        return {
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "expires_at": self.expires_at.isoformat(),
            "expires_in": self.expires_in,
            "bucket": self.bucket,
            "key": self.key,
            "clamped": self.clamped,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PresignedRequest:
        """The object ``to_json`` described."""
        return cls(
            method=data["method"],
            url=data["url"],
            headers=dict(data.get("headers") or {}),
            expires_at=_when(data["expires_at"]),
            expires_in=int(data.get("expires_in") or 0),
            bucket=data.get("bucket") or "",
            key=data.get("key") or "",
            clamped=data.get("clamped"),
        )


@dataclass(frozen=True, slots=True, repr=False)
class PresignedPart:
    """One part's presigned UploadPart: bytes ``offset`` to ``offset + length`` of the file."""

    part_number: int
    url: str
    offset: int
    length: int
    expires_at: datetime.datetime
    headers: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"PresignedPart(part_number={self.part_number}, url={redact_url(self.url)!r}, "
            f"offset={self.offset}, length={self.length})"
        )

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON: what a backend sends a client (``from_json`` reads it)."""
        return {
            "part_number": self.part_number,
            "url": self.url,
            "offset": self.offset,
            "length": self.length,
            "expires_at": self.expires_at.isoformat(),
            "headers": dict(self.headers),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PresignedPart:
        """The object ``to_json`` described."""
        return cls(
            int(data["part_number"]),
            data["url"],
            int(data["offset"]),
            int(data["length"]),
            _when(data["expires_at"]),
            dict(data.get("headers") or {}),
        )


@dataclass(frozen=True, slots=True)
class PresignedMultipart:
    """A multipart upload created for a client, with every part's URL when the size was
    known (``parts`` is empty otherwise: ask for each with ``presign_part``)."""

    bucket: str
    key: str
    upload_id: str
    part_size: int
    size: int | None
    parts: tuple[PresignedPart, ...]
    expires_at: datetime.datetime
    """When the part URLs stop working."""
    expires_in: int = 0
    clamped: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON: what a backend sends a client (``from_json`` reads it)."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "upload_id": self.upload_id,
            "part_size": self.part_size,
            "size": self.size,
            "parts": [part.to_json() for part in self.parts],
            "expires_at": self.expires_at.isoformat(),
            "expires_in": self.expires_in,
            "clamped": self.clamped,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PresignedMultipart:
        """The object ``to_json`` described."""
        return cls(
            bucket=data.get("bucket") or "",
            key=data["key"],
            upload_id=data["upload_id"],
            part_size=int(data["part_size"]),
            size=data.get("size"),
            parts=tuple(PresignedPart.from_json(p) for p in data.get("parts") or ()),
            expires_at=_when(data["expires_at"]),
            expires_in=int(data.get("expires_in") or 0),
            clamped=data.get("clamped"),
        )


@dataclass(frozen=True, slots=True, repr=False)
class PresignedPost:
    """A browser form upload: POST ``fields`` (first) and the file (last) to ``url`` as
    ``multipart/form-data`` before ``expires_at``. The policy inside ``fields`` says what the
    form may carry: the key (or its prefix), the size range, the Content-Type. The fields
    named in ``client_fields`` hold a prefix the policy requires: the client completes them
    (``Content-Type``: the file's type, which must start with it)."""

    url: str
    fields: Mapping[str, str]
    expires_at: datetime.datetime
    expires_in: int = 0
    bucket: str = ""
    key: str = ""
    conditions: tuple[Any, ...] = ()
    """The policy's conditions, readable (the policy field is their base64)."""
    clamped: str | None = None
    client_fields: tuple[str, ...] = ()
    """Fields of ``fields`` filled in with the prefix the policy requires, for the client to
    complete (posted as they are, they meet the policy too)."""

    def __repr__(self) -> str:
        return (
            f"PresignedPost(url={self.url!r}, fields={redact_headers(self.fields)!r}, "
            f"expires_at={self.expires_at.isoformat()!r}, clamped={self.clamped!r})"
        )

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON: what a backend sends a client (``from_json`` reads it)."""
        return {
            "url": self.url,
            "fields": dict(self.fields),
            "expires_at": self.expires_at.isoformat(),
            "expires_in": self.expires_in,
            "bucket": self.bucket,
            "key": self.key,
            "conditions": list(self.conditions),
            "clamped": self.clamped,
            "client_fields": list(self.client_fields),
        }


@dataclass(frozen=True, slots=True)
class UploadedPart:
    """A part S3 holds for a multipart upload (``list_parts``)."""

    part_number: int
    etag: str
    size: int
    checksum: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON: what a backend sends a client (``from_json`` reads it)."""
        return {
            "part_number": self.part_number,
            "etag": self.etag,
            "size": self.size,
            "checksum": self.checksum,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UploadedPart:
        """The object ``to_json`` described."""
        return cls(int(data["part_number"]), data["etag"], int(data["size"]), data.get("checksum"))


@dataclass(frozen=True, slots=True)
class CompletedUpload:
    """What completing a multipart upload (or a client's HEAD of it) tells about the object."""

    bucket: str
    key: str
    etag: str
    version_id: str | None = None
    checksum: str | None = None
    location: str | None = None
    size: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON: what a backend sends a client (``from_json`` reads it)."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "etag": self.etag,
            "version_id": self.version_id,
            "checksum": self.checksum,
            "location": self.location,
            "size": self.size,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CompletedUpload:
        """The object ``to_json`` described."""
        return cls(
            bucket=data.get("bucket") or "",
            key=data["key"],
            etag=data.get("etag") or "",
            version_id=data.get("version_id"),
            checksum=data.get("checksum"),
            location=data.get("location"),
            size=data.get("size"),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass(frozen=True, slots=True)
class SignRequest:
    """What a :class:`~resilient_s3.PresignedUploader` asks its backend for.

    ``action`` and what it answers:

    - ``put``: a single PUT of ``size`` bytes -> :class:`PresignedRequest`;
    - ``create``: a multipart upload cut in ``part_size`` parts -> :class:`PresignedMultipart`;
    - ``part``: part ``part_number``'s URL, for a part of ``size`` bytes (its Content-Length
      signed when given) -> :class:`PresignedRequest`;
    - ``list``: the parts S3 holds -> a list of :class:`UploadedPart`;
    - ``complete``: complete with ``parts`` -> :class:`CompletedUpload`;
    - ``abort``: abort -> None;
    - ``head``: the object's size, checksum and metadata -> :class:`CompletedUpload`, or None.

    ``checksum_algorithm`` and ``checksum`` (base64) ask for URLs that carry the body's
    checksum, so S3 verifies what arrives; ``metadata`` is the object's user metadata.
    """

    action: SignAction
    key: str
    bucket: str | None = None
    size: int | None = None
    content_type: str | None = None
    part_size: int | None = None
    upload_id: str | None = None
    part_number: int | None = None
    parts: tuple[tuple[int, str, str | None], ...] = ()
    """For ``complete``: (part number, ETag, checksum or None)."""
    checksum_algorithm: str | None = None
    checksum: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON: what a backend sends a client (``from_json`` reads it)."""
        data: dict[str, Any] = {"action": self.action, "key": self.key}
        for name in (
            "bucket",
            "size",
            "content_type",
            "part_size",
            "upload_id",
            "part_number",
            "checksum_algorithm",
            "checksum",
        ):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.parts:
            data["parts"] = [list(part) for part in self.parts]
        if self.metadata:
            data["metadata"] = dict(self.metadata)
        return data

    @classmethod
    def from_json(cls, data: Any) -> SignRequest:
        """The object ``to_json`` described; anything else (a wrong type, a number out of
        range, an unknown action) raises :class:`~resilient_s3.InvalidUploadError` naming the
        field."""
        data = fields.json_object(data, "a sign request")
        action = data.get("action")
        if action not in SIGN_ACTIONS:
            raise InvalidUploadError(
                f"'action' must be one of {', '.join(SIGN_ACTIONS)}, not {fields.shown(action)}"
            )
        parts = []
        for part in fields.array(data, "parts", most=fields.MAX_PART_NUMBER):
            if not isinstance(part, list) or not 2 <= len(part) <= 3:
                raise InvalidUploadError(
                    f"each of 'parts' must be [part number, ETag, checksum or null], "
                    f"not {fields.shown(part)}"
                )
            number = fields.part_number(part[0], "a part's number")
            etag = part[1]
            checksum = part[2] if len(part) > 2 else None
            if not isinstance(etag, str) or not etag or not isinstance(checksum, str | None):
                raise InvalidUploadError(
                    f"part {number}'s ETag and checksum must be strings, not {fields.shown(part)}"
                )
            parts.append((number, etag, checksum))
        key = fields.text(data, "key", required=True)
        assert key is not None
        return cls(
            action=action,
            key=key,
            bucket=fields.text(data, "bucket"),
            size=fields.whole(data, "size"),
            content_type=fields.text(data, "content_type"),
            part_size=fields.whole(data, "part_size", low=1),
            upload_id=fields.text(data, "upload_id"),
            part_number=fields.whole(data, "part_number", low=1, high=fields.MAX_PART_NUMBER),
            parts=tuple(parts),
            checksum_algorithm=fields.text(data, "checksum_algorithm"),
            checksum=fields.text(data, "checksum"),
            metadata=fields.string_map(data, "metadata"),
        )


SignAnswer = PresignedRequest | PresignedMultipart | list[UploadedPart] | CompletedUpload | None
"""What the backend answers a :class:`SignRequest` with."""


def answer_to_json(answer: SignAnswer) -> Any:
    """A sign answer as JSON (for the backend's HTTP route)."""
    if answer is None:
        return None
    if isinstance(answer, list):
        return [part.to_json() for part in answer]
    return answer.to_json()


def answer_from_json(request: SignRequest, data: Any) -> SignAnswer:
    """A sign answer from JSON (for a client's callable that asks over HTTP)."""
    if request.action in ("put", "part"):
        return PresignedRequest.from_json(data)
    if request.action == "create":
        return PresignedMultipart.from_json(data)
    if request.action == "list":
        return [UploadedPart.from_json(part) for part in data]
    if request.action in ("complete", "head"):
        return None if data is None else CompletedUpload.from_json(data)
    return None
