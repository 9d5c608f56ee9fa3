"""What was sent, as evidence: how a request was signed (SigV4 or SigV2, in its headers or in a
presigned URL's query), when, by which access key, for which region and headers; and, when
known, the header values the signature covers and the values that were actually sent.

Nothing secret is kept: signatures, credentials and tokens are masked as they are read, and an
access key id is shown by its first and last four characters only, as the AWS console does.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from .._redact import MASK, mask_key, redact_headers, redact_url
from .answer import parse_time
from .canonical import CanonicalRequest, canonical_request, trimmed

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_SIGV4 = "AWS4-HMAC-SHA256"
_AUTH_V4 = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=\S+"
)
_AUTH_V2 = re.compile(r"AWS\s+(?P<key>[^:\s]+):\S+")
_MASKED_QUERY = frozenset({"x-amz-credential", "x-amz-security-token"})
"""Masked here as in S3's ``<CanonicalRequest>`` once read (see :mod:`.answer`), so the two
still compare equal."""


@dataclass(frozen=True, slots=True)
class Signing:
    """How a request was signed, as its URL or headers say."""

    version: str
    """``"sigv4"`` or ``"sigv2"``."""
    presigned: bool
    access_key: str | None = None
    """Masked: its first and last four characters."""
    signed_at: datetime.datetime | None = None
    """Naive UTC."""
    expires_in: int | None = None
    """A presigned URL's lifetime in seconds (SigV4's ``X-Amz-Expires``)."""
    expires_at: datetime.datetime | None = None
    region: str | None = None
    service: str | None = None
    scope: str | None = None
    """``date/region/service/aws4_request``."""
    timestamp: str | None = None
    """SigV4's ``X-Amz-Date`` as sent."""
    signed_headers: tuple[str, ...] = ()
    temporary: bool = False
    """Signed with temporary credentials (a session token was sent)."""


@dataclass(frozen=True, slots=True)
class SentRequest:
    """A request as far as it is known, secrets masked."""

    method: str | None = None
    url: str | None = None
    """Masked (:func:`resilient_s3._redact.redact_url`)."""
    sent: Mapping[str, str] = field(default_factory=dict)
    """The headers sent, lower-case names, secrets masked."""
    signed_values: Mapping[str, str] = field(default_factory=dict)
    """The header values the signature covers, when the signer said (a presigned request's
    headers), lower-case names."""
    signing: Signing | None = None
    _path: str = ""
    _query: tuple[tuple[str, str], ...] = ()
    _host: str = ""

    @classmethod
    def read(
        cls,
        method: str | None = None,
        url: str | None = None,
        sent: Mapping[str, str] | None = None,
        signed_values: Mapping[str, str] | None = None,
    ) -> SentRequest | None:
        if method is None and url is None and not sent and not signed_values:
            return None
        headers = {k.lower(): trimmed(v) for k, v in (sent or {}).items()}
        parts = urlsplit(url or "")
        query = []
        for pair in parts.query.split("&") if parts.query else ():
            name, _, value = pair.partition("=")
            if name.lower() in ("x-amz-signature", "signature"):
                continue
            query.append((name, MASK if name.lower() in _MASKED_QUERY else value))
        signing = _signing_of(url or "", headers)
        host = headers.get("host") or parts.netloc
        return cls(
            method=method.upper() if method else None,
            url=redact_url(url) if url else None,
            sent=redact_headers(headers),
            signed_values=redact_headers(
                {k.lower(): trimmed(v) for k, v in (signed_values or {}).items()}
            ),
            signing=signing,
            _path=parts.path,
            _query=tuple(query),
            _host=host,
        )

    @property
    def operation(self) -> str | None:
        """The S3 operation a URL's query points at, where it can tell."""
        names = {k for k, _ in self._query}
        if "uploadId" in names and "partNumber" in names:
            return "UploadPart"
        if "uploads" in names:
            return "CreateMultipartUpload"
        if "uploadId" in names:
            return "a multipart upload's ListParts, CompleteMultipartUpload or AbortMultipartUpload"
        return None

    def canonical(
        self, values: Mapping[str, str], method: str | None = None
    ) -> CanonicalRequest | None:
        """The canonical request this request's signature covers, with the signed headers'
        ``values`` (and ``method`` when the request's own is unknown, as for a URL alone);
        None when the method or the signed header names are unknown. A signed header whose
        value is not in ``values`` is left blank: :meth:`unknown_values` names them, and
        their lines say nothing of what was signed."""
        signing = self.signing
        method = self.method or method
        if method is None or signing is None or not signing.signed_headers:
            return None
        lookup = {"host": self._host, **values}
        headers = {name: lookup.get(name, "") for name in signing.signed_headers}
        if signing.presigned:
            payload = UNSIGNED_PAYLOAD
        else:
            payload = self.sent.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
        text, _ = canonical_request(method, self._path, self._query, headers, payload)
        return CanonicalRequest.parse(text)

    def unknown_values(self, values: Mapping[str, str]) -> tuple[str, ...]:
        """The signed headers whose values are not in ``values``: a presigned URL names the
        headers its signature covers, never their values (the ``Content-Type`` given when
        presigning, for one), so a URL alone leaves them unknown."""
        signing = self.signing
        if signing is None:
            return ()
        return tuple(n for n in signing.signed_headers if n != "host" and n not in values)


def _signing_of(url: str, headers: Mapping[str, str]) -> Signing | None:
    query = {k.lower(): v for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    if query.get("x-amz-algorithm") == _SIGV4 or "x-amz-credential" in query:
        return _sigv4(
            credential=query.get("x-amz-credential", ""),
            timestamp=query.get("x-amz-date"),
            signed=query.get("x-amz-signedheaders", ""),
            expires=query.get("x-amz-expires"),
            presigned=True,
            temporary="x-amz-security-token" in query,
        )
    if "awsaccesskeyid" in query and "signature" in query:
        expires = query.get("expires", "")
        expires_at = (
            datetime.datetime.fromtimestamp(int(expires), datetime.UTC).replace(tzinfo=None)
            if expires.isdigit()
            else None
        )
        return Signing(
            "sigv2",
            presigned=True,
            access_key=mask_key(query["awsaccesskeyid"]),
            expires_at=expires_at,
            temporary="x-amz-security-token" in query,
        )
    authorization = headers.get("authorization", "")
    matched = _AUTH_V4.search(authorization)
    if matched:
        return _sigv4(
            credential=unquote(matched["credential"]),
            timestamp=headers.get("x-amz-date"),
            signed=matched["signed"],
            expires=None,
            presigned=False,
            temporary="x-amz-security-token" in headers,
            fallback_time=headers.get("date"),
        )
    matched = _AUTH_V2.match(authorization)
    if matched:
        return Signing(
            "sigv2",
            presigned=False,
            access_key=mask_key(matched["key"]),
            signed_at=parse_time(headers.get("x-amz-date") or headers.get("date")),
            temporary="x-amz-security-token" in headers,
        )
    return None


def _sigv4(
    *,
    credential: str,
    timestamp: str | None,
    signed: str,
    expires: str | None,
    presigned: bool,
    temporary: bool,
    fallback_time: str | None = None,
) -> Signing:
    key, _, scope = credential.partition("/")
    scope_parts = scope.split("/")
    region = scope_parts[1] if len(scope_parts) > 1 else None
    service = scope_parts[2] if len(scope_parts) > 2 else None
    signed_at = parse_time(timestamp) or parse_time(fallback_time)
    expires_in = int(expires) if expires and expires.isdigit() else None
    expires_at = (
        signed_at + datetime.timedelta(seconds=expires_in)
        if signed_at is not None and expires_in is not None
        else None
    )
    return Signing(
        "sigv4",
        presigned=presigned,
        access_key=mask_key(key) if key else None,
        signed_at=signed_at,
        expires_in=expires_in,
        expires_at=expires_at,
        region=region,
        service=service,
        scope=scope or None,
        timestamp=timestamp,
        signed_headers=tuple(name for name in signed.lower().split(";") if name),
        temporary=temporary,
    )
