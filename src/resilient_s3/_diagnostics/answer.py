"""What S3 answered, as evidence: the status, the error code, message and every other element
of the XML body, and the headers that say something (the server's Date, the bucket's region).

Secrets S3 echoes back never get this far: a session token (``<Token-0>``) and the signature
provided are masked when the answer is read.
"""

from __future__ import annotations

import datetime
import email.utils
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._redact import MASK, mask_key, redact_headers, redact_text

_MAX_BODY = 64 * 1024
_DROPPED = frozenset({"StringToSignBytes", "CanonicalRequestBytes", "HostId"})
"""Hex dumps of other elements, and S3's internal host id: noise in a diagnosis."""
_MASKED = frozenset({"SignatureProvided"})


@dataclass(frozen=True, slots=True)
class Answer:
    """An S3 error answer, read once, secrets masked."""

    status: int | None = None
    code: str | None = None
    message: str = ""
    elements: Mapping[str, str] = field(default_factory=dict)
    """Every other element of the error body (``Region``, ``ServerTime``, ``ProposedSize``…)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Lower-case names."""

    @classmethod
    def from_http(
        cls, status: int | None, headers: Mapping[str, str] | None, body: bytes | str | None
    ) -> Answer:
        """The parts of a raw HTTP answer (any header case; the body as sent)."""
        code, message, elements = _parse_body(body)
        return cls(status, code, message, elements, _lower(headers or {}))

    @classmethod
    def from_botocore(cls, response: Mapping[str, Any]) -> Answer:
        """A botocore ``ClientError.response``: its ``Error`` holds every element of the
        body, its ``ResponseMetadata`` the status and headers."""
        error = dict(response.get("Error") or {})
        meta = response.get("ResponseMetadata") or {}
        code = error.pop("Code", None)
        message = error.pop("Message", "") or ""
        elements = _cleaned({k: str(v) for k, v in error.items() if v is not None})
        headers = _lower(meta.get("HTTPHeaders") or {})
        status = meta.get("HTTPStatusCode")
        if code is not None and code == str(status):
            code, message = None, ""  # no body (a HEAD): botocore names the status as the code
        return cls(status, code, message, elements, headers)

    @property
    def server_time(self) -> datetime.datetime | None:
        """The server's clock when it answered (naive UTC): ``ServerTime``, else ``Date``."""
        return parse_time(self.elements.get("ServerTime")) or parse_time(self.headers.get("date"))

    @property
    def bucket_region(self) -> str | None:
        return self.headers.get("x-amz-bucket-region") or None

    @property
    def request_id(self) -> str | None:
        return (
            self.elements.get("RequestId")
            or self.headers.get("x-amz-request-id")
            or self.headers.get("x-amz-id-2")
        )


def parse_time(value: str | None) -> datetime.datetime | None:
    """An HTTP date, an ISO 8601 time or SigV4's ``20260101T000000Z``, as naive UTC."""
    if not value:
        return None
    value = value.strip()
    parsed: datetime.datetime | None = None
    for parse in (_sigv4_time, _iso_time, email.utils.parsedate_to_datetime):
        try:
            parsed = parse(value)
            break
        except (TypeError, ValueError, IndexError):
            continue
    if parsed is None:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(datetime.UTC).replace(tzinfo=None)
    return parsed


def _sigv4_time(value: str) -> datetime.datetime:
    return datetime.datetime.strptime(value, "%Y%m%dT%H%M%SZ")


def _iso_time(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _parse_body(body: bytes | str | None) -> tuple[str | None, str, dict[str, str]]:
    if not body:
        return None, "", {}
    raw = body.encode() if isinstance(body, str) else bytes(body)
    raw = raw[:_MAX_BODY]
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        return None, _excerpt(raw), {}
    if root.tag != "Error":
        found = root.find("Error")  # <ErrorResponse><Error>… (some S3-compatible servers)
        if found is None:
            return None, _excerpt(raw), {}  # a proxy's XHTML page: its words are the evidence
        root = found
    code = message = None
    elements: dict[str, str] = {}
    for child in root:
        text = (child.text or "").strip()
        if child.tag == "Code":
            code = text or None
        elif child.tag == "Message":
            message = text
        else:
            elements[child.tag] = text
    return code, message or "", _cleaned(elements)


def _excerpt(raw: bytes) -> str:
    return redact_text(raw[:300].decode("utf-8", "replace").strip())


def _cleaned(elements: Mapping[str, str]) -> dict[str, str]:
    cleaned = {}
    for name, value in elements.items():
        if name in _DROPPED:
            continue
        if name in _MASKED or name.startswith("Token-"):
            value = MASK
        elif name == "AWSAccessKeyId":
            value = mask_key(value)
        cleaned[name] = redact_text(value)
    return cleaned


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): str(v) for k, v in redact_headers(headers).items()}
