"""SigV4's canonical request, defined once: the signer signs it, and a diagnosis rebuilds a
client's to compare it, line by line, with the one S3 says it computed.

A canonical request is six parts joined by newlines: the method, the percent-encoded path,
the sorted query, one ``name:value`` line per signed header (then an empty line), the signed
header names, and the payload hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

UNSIGNED_HEADERS = frozenset({"expect", "user-agent", "x-amzn-trace-id", "transfer-encoding"})
"""Headers a proxy may change on the way, so the AWS SDKs never sign them."""


def trimmed(value: object) -> str:
    """A header value as SigV4 signs it: runs of spaces folded, ends stripped."""
    return " ".join(str(value).split())


def canonical_request(
    method: str,
    path: str,
    query_pairs: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    payload: str,
) -> tuple[str, str]:
    """(the canonical request, the signed header names) for ``headers`` already lower-cased
    and trimmed, and ``query_pairs`` already percent-encoded."""
    names = sorted(headers)
    signed = ";".join(names)
    query = "&".join(f"{k}={v}" for k, v in sorted(query_pairs))
    lines = "".join(f"{name}:{headers[name]}\n" for name in names)
    return "\n".join([method, path or "/", query, lines, signed, payload]), signed


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    """What SigV4 signs: the algorithm, the request time, the scope (date/region/service) and
    the canonical request's hash."""
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"AWS4-HMAC-SHA256\n{timestamp}\n{scope}\n{digest}"


@dataclass(frozen=True, slots=True)
class CanonicalRequest:
    """A canonical request taken apart (from S3's ``<CanonicalRequest>`` or rebuilt)."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    signed_headers: str
    payload: str

    @classmethod
    def parse(cls, text: str) -> CanonicalRequest | None:
        lines = text.replace("\r\n", "\n").split("\n")
        if len(lines) < 6:
            return None
        method, path, query, *rest = lines
        try:
            blank = rest.index("")
        except ValueError:
            return None
        header_lines, tail = rest[:blank], rest[blank + 1 :]
        if len(tail) < 2:
            return None
        headers = tuple(tuple(line.split(":", 1)) for line in header_lines if ":" in line)
        return cls(method, path, query, headers, tail[0], tail[1])  # type: ignore[arg-type]

    @property
    def text(self) -> str:
        lines = "".join(f"{name}:{value}\n" for name, value in self.headers)
        return "\n".join(
            [self.method, self.path, self.query, lines, self.signed_headers, self.payload]
        )
