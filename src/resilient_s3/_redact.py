"""Keeping secrets out of text: presigned URLs, headers, log lines, error messages.

What counts as a secret: secret access keys, session tokens, ``Authorization`` headers, the
values of ``X-Amz-Signature``, ``X-Amz-Credential`` and ``X-Amz-Security-Token`` (in URLs,
headers or form fields), POST policies' signatures, and SSE-C keys (and their MD5s). Access
key ids are not secret, but are shown by their first and last four characters only.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Mapping

MASK = "***"

_SECRET_HEADERS = frozenset(
    {
        "authorization",
        "x-amz-security-token",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-server-side-encryption-customer-key",
        "x-amz-server-side-encryption-customer-key-md5",
        "x-amz-copy-source-server-side-encryption-customer-key",
        "x-amz-copy-source-server-side-encryption-customer-key-md5",
        "policy",
    }
)

_IN_TEXT = [
    # SSE-C keys and their MD5s by header name, in any form: a header line
    # (``x-amz-server-side-encryption-customer-key:...`` in a canonical request), a field
    # (``=...``), JSON, or the repr of a dict, bytes or not ('x-amz-...-customer-key': b'MDEy…',
    # as botocore prints a request's headers at DEBUG).
    re.compile(
        r"(?i)((?<![\w-])x-amz-(?:copy-source-)?server-side-encryption-customer-key(?:-md5)?"
        r"['\"]?)(\s*[:=]\s*(?:b?['\"])?)[^&\s\"',<]+"
    ),
    # ... and by botocore's parameter name, quoted as in a dict's repr or JSON
    # ('SSECustomerKey': 'MDEy…', as botocore prints a call's parameters at DEBUG) or as an
    # argument (SSECustomerKey=...); not in prose ("SSECustomerKey: the 32-byte key").
    re.compile(
        r"(?i)((?<![\w-])(?:CopySource)?SSECustomerKey(?:MD5)?)"
        r"(=(?:b?['\"])?|['\"]\s*:\s*(?:b?['\"])?)[^&\s\"',<)]+"
    ),
    # Query parameters and form fields, in any case: X-Amz-Signature=..., x-amz-credential=...
    # ... and header lines (``x-amz-security-token:...`` in a canonical request).
    re.compile(
        r"(?i)\b(x-amz-(?:signature|credential|security-token))"
        r"(=|\":\s*\"|': '|:\s*)[^&\s\"',]+"
    ),
    # SigV2's query parameters.
    re.compile(r"(?i)([?&](?:Signature|AWSAccessKeyId))(=)[^&\s\"']+"),
    # Authorization headers: everything after the scheme.
    re.compile(r"(?i)\b(authorization)(:\s*|=|\":\s*\"|': ')[^\n\"']*"),
    # A SigV4 signature wherever it appears (an Authorization header cut up differently, or
    # botocore's "Signature:" debug line).
    re.compile(r"(?i)\b(signature)(=|:\s*)[0-9a-f]{64}"),
    # Header values in the repr of a headers dict, bytes or not ('X-Amz-Security-Token': b'…').
    re.compile(r"(?i)(['\"](?:x-amz-security-token|authorization)['\"])(:\s*b?['\"])[^'\"]*"),
    # What S3 echoes in error bodies: session tokens (<Token-0>), the key id, the signature.
    re.compile(r"(?i)(<(?:Token-\d+|AWSAccessKeyId|SignatureProvided)>)()[^<]*"),
]


_MAX_REMEMBERED = 64
"""Values kept per kind (the newest): rotating credentials and many SSE-C keys never grow the
pattern without bound, and SSE-C keys never push out the credentials signed with."""
_REMEMBERED: dict[str, dict[str, None]] = {"credentials": {}, "sse-c": {}}
_remembered_pattern: re.Pattern[str] | None = None


def remember_secrets(*values: str | None, kind: str = "credentials") -> None:
    """Mask these exact values wherever text is redacted from now on: the secret keys and
    session tokens this process signs with (the credential owner hands them here), which no
    pattern could recognise in a log line."""
    global _remembered_pattern
    kept = _REMEMBERED[kind]
    added = False
    for value in values:
        if value and len(value) >= 8:
            added = added or value not in kept
            kept.pop(value, None)
            kept[value] = None  # the newest last
    if not added:
        return
    while len(kept) > _MAX_REMEMBERED:
        del kept[next(iter(kept))]
    every = {value for group in _REMEMBERED.values() for value in group}
    longest_first = sorted(every, key=len, reverse=True)
    _remembered_pattern = re.compile("|".join(re.escape(value) for value in longest_first))


def remember_sse_c_key(key: bytes | str) -> None:
    """Mask an SSE-C key wherever text is redacted from now on, in every form it travels in:
    as given, base64 (its header and botocore's parameters) and its MD5 (base64)."""
    raw = key.encode() if isinstance(key, str) else key
    forms = [
        base64.b64encode(raw).decode(),
        base64.b64encode(hashlib.md5(raw).digest()).decode(),
    ]
    if isinstance(key, str):
        forms.append(key)
    else:
        forms.append(repr(key)[2:-1])  # bytes as their repr prints them
    remember_secrets(*forms, kind="sse-c")


def redact_url(url: str) -> str:
    """``url`` with the values of its signature, credential and token parameters masked."""
    return redact_text(url)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with secret values masked (names kept)."""
    return {k: MASK if k.lower() in _SECRET_HEADERS else v for k, v in headers.items()}


def redact_text(text: str) -> str:
    """Any text (a log line, an error message, an XML body) with the secrets it may quote
    masked."""
    remembered = _remembered_pattern
    if remembered is not None:
        text = remembered.sub(MASK, text)
    for pattern in _IN_TEXT:
        text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return text


def mask_key(access_key: str) -> str:
    """An access key id as ``AKIA****WXYZ``: enough to tell keys apart, not to use one."""
    if len(access_key) <= 8:
        return access_key[:2] + MASK
    return f"{access_key[:4]}****{access_key[-4:]}"


class RedactingFormatter(logging.Formatter):
    """A logging formatter that masks secrets in every line it formats, the traceback
    included: see :func:`redact_text`. The command line installs it for every logger
    (botocore's too, whose DEBUG output prints Authorization headers); use it on your own
    handlers: ``handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s"))``."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))
