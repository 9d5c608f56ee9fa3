"""Keeping secrets out of text: presigned URLs, headers, log lines, error messages.

What counts as a secret: secret access keys, session tokens, ``Authorization`` headers, the
values of ``X-Amz-Signature``, ``X-Amz-Credential`` and ``X-Amz-Security-Token`` (in URLs,
headers or form fields), POST policies' signatures, and SSE-C keys. Access key ids are not
secret, but are shown by their first and last four characters only.
"""

from __future__ import annotations

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
    # A SigV4 signature wherever it appears (an Authorization header cut up differently).
    re.compile(r"(?i)\b(signature)(=)[0-9a-f]{64}"),
    # What S3 echoes in error bodies: session tokens (<Token-0>), the key id, the signature.
    re.compile(r"(?i)(<(?:Token-\d+|AWSAccessKeyId|SignatureProvided)>)()[^<]*"),
]


def redact_url(url: str) -> str:
    """``url`` with the values of its signature, credential and token parameters masked."""
    return redact_text(url)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with secret values masked (names kept)."""
    return {k: MASK if k.lower() in _SECRET_HEADERS else v for k, v in headers.items()}


def redact_text(text: str) -> str:
    """Any text (a log line, an error message, an XML body) with the secrets it may quote
    masked."""
    for pattern in _IN_TEXT:
        text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return text


def mask_key(access_key: str) -> str:
    """An access key id as ``AKIA****WXYZ``: enough to tell keys apart, not to use one."""
    if len(access_key) <= 8:
        return access_key[:2] + MASK
    return f"{access_key[:4]}****{access_key[-4:]}"
