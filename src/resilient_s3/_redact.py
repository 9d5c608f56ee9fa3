"""Keeping secrets out of text: presigned URLs, headers, log lines, error messages.

What counts as a secret: secret access keys, session tokens, ``Authorization`` headers, the
values of ``X-Amz-Signature``, ``X-Amz-Credential`` and ``X-Amz-Security-Token`` (in URLs,
headers or form fields), POST policies' signatures, and SSE-C keys. Access key ids are not
secret, but are shown by their first and last four characters only.
"""

from __future__ import annotations

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
        "x-amz-copy-source-server-side-encryption-customer-key",
        "policy",
    }
)

_IN_TEXT = [
    # Query parameters and form fields, in any case: X-Amz-Signature=..., x-amz-credential=...
    # ... and header lines (``x-amz-security-token:...`` in a canonical request), SSE-C keys.
    re.compile(
        r"(?i)\b(x-amz-(?:signature|credential|security-token"
        r"|(?:copy-source-)?server-side-encryption-customer-key))"
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
    re.compile(
        r"(?i)(['\"](?:x-amz-security-token|authorization"
        r"|x-amz-server-side-encryption-customer-key)['\"])(:\s*b?)['\"][^'\"]*['\"]"
    ),
    # What S3 echoes in error bodies: session tokens (<Token-0>), the key id, the signature.
    re.compile(r"(?i)(<(?:Token-\d+|AWSAccessKeyId|SignatureProvided)>)()[^<]*"),
]


_REMEMBERED: dict[str, None] = {}
_MAX_REMEMBERED = 64
_remembered_pattern: re.Pattern[str] | None = None


def remember_secrets(*values: str | None) -> None:
    """Mask these exact values wherever text is redacted from now on: the secret keys and
    session tokens this process signs with (the credential owner hands them here), which no
    pattern could recognise in a log line."""
    global _remembered_pattern
    added = False
    for value in values:
        if value and len(value) >= 8 and value not in _REMEMBERED:
            _REMEMBERED[value] = None
            added = True
    if not added:
        return
    while len(_REMEMBERED) > _MAX_REMEMBERED:
        del _REMEMBERED[next(iter(_REMEMBERED))]
    longest_first = sorted(_REMEMBERED, key=len, reverse=True)
    _remembered_pattern = re.compile("|".join(re.escape(value) for value in longest_first))


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
