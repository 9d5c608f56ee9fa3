"""Whether a bucket's CORS rules let a browser upload, and what to add if they do not.

A browser upload fails in ways its page can hardly tell: a preflight refused (the origin, the
method or a header is not allowed), or an answer whose ETag the page may not read (without
``ExposeHeaders: ETag``, Uppy never finishes a multipart upload: uppy#5565, #5516). Pure: the
rules come from ``GetBucketCors`` (read by :meth:`Presigner.check_cors`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

UploadMode = Literal["put", "multipart", "post"]

_METHOD = {"put": "PUT", "multipart": "PUT", "post": "POST"}
# Headers a browser's uploader sends to S3 besides the signed ones (none for Uppy's parts;
# content-type for a single PUT of a typed file).
_SENT = {"put": ("content-type",), "multipart": (), "post": ()}
_EXPOSED = {"put": ("etag",), "multipart": ("etag",), "post": ("etag", "location")}
_REQUIRED_EXPOSED = {"put": (), "multipart": ("etag",), "post": ()}
_NAMES = {"etag": "ETag", "location": "Location"}


@dataclass(frozen=True, slots=True)
class CorsFinding:
    """One thing a browser at the origin would hit, with its fix; ``blocking`` when it stops
    the upload."""

    problem: str
    fix: str
    blocking: bool = True
    """False for what only some uploaders need (Uppy 4/5 read the ETag and Location of a POST)."""


@dataclass(frozen=True, slots=True)
class CorsReport:
    """What a browser at ``origin`` needs from the bucket's CORS rules for ``mode``."""

    origin: str
    mode: UploadMode
    findings: tuple[CorsFinding, ...]
    suggested_rules: list[dict[str, Any]] = field(default_factory=list)
    """Rules that would allow it: the bucket's own, with one for ``origin`` added or fixed
    (``put-bucket-cors`` them as ``{"CORSRules": suggested_rules}``)."""

    @property
    def ok(self) -> bool:
        """True when nothing would stop the browser's upload (warnings allowed)."""
        return not any(finding.blocking for finding in self.findings)


def check_cors_rules(
    rules: Sequence[Mapping[str, Any]] | None,
    *,
    origin: str,
    mode: UploadMode = "multipart",
    headers: Iterable[str] = (),
) -> CorsReport:
    """Check ``rules`` (``GetBucketCors``'s ``CORSRules``; None when the bucket has no CORS
    configuration) for a browser at ``origin`` uploading in ``mode`` and sending ``headers``
    (the signed ones, e.g. ``x-amz-checksum-crc32``, ``x-amz-meta-*``)."""
    method = _METHOD[mode]
    sent = [h.lower() for h in (*_SENT[mode], *headers) if h.lower() not in ("host",)]
    findings: list[CorsFinding] = []
    if rules is None:
        findings.append(
            CorsFinding(
                "the bucket has no CORS configuration: every browser preflight is refused",
                "add a CORS rule for the page's origin (see suggested_rules)",
            )
        )
        return CorsReport(origin, mode, tuple(findings), [_rule_for(origin, mode, sent)])
    for_origin = [r for r in rules if _matches_origin(r, origin)]
    if not for_origin:
        findings.append(
            CorsFinding(
                f"no CORS rule allows the origin {origin}",
                f"add {origin} to AllowedOrigins of a rule (or a rule for it)",
            )
        )
    usable = [r for r in for_origin if method in _upper(r.get("AllowedMethods"))]
    if for_origin and not usable:
        findings.append(
            CorsFinding(
                f"the rules for {origin} do not allow the {method} method",
                f"add {method} to AllowedMethods",
            )
        )
    rule = usable[0] if usable else None
    if rule is not None:
        allowed = [h.lower() for h in rule.get("AllowedHeaders") or ()]
        refused = [h for h in sent if not any(fnmatch.fnmatchcase(h, a) for a in allowed)]
        if refused:
            findings.append(
                CorsFinding(
                    f"the preflight would be refused: headers {', '.join(refused)} are not "
                    "in AllowedHeaders",
                    "add them to AllowedHeaders, or allow '*'",
                )
            )
        exposed = {h.lower() for h in rule.get("ExposeHeaders") or ()}
        for header in _EXPOSED[mode]:
            if header not in exposed:
                needed = header in _REQUIRED_EXPOSED[mode]
                findings.append(
                    CorsFinding(
                        f"the page cannot read the {_NAMES[header]} header of S3's answers"
                        + (
                            ": a multipart upload cannot be completed without each part's "
                            "ETag (Uppy 6 fails 'Missing ETag', Uppy 4/5 hang at 100%)"
                            if needed
                            else " (Uppy 4/5 read it after an upload)"
                        ),
                        f"add {_NAMES[header]} to ExposeHeaders",
                        blocking=needed,
                    )
                )
    suggested = [dict(r) for r in rules if r is not rule] + [_fixed(rule, origin, mode, sent)]
    return CorsReport(
        origin, mode, tuple(findings), suggested if findings else [dict(r) for r in rules]
    )


def _rule_for(origin: str, mode: UploadMode, headers: Sequence[str]) -> dict[str, Any]:
    return {
        "AllowedOrigins": [origin],
        "AllowedMethods": ["GET", "HEAD", "PUT", "POST"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag", "Location"],
        "MaxAgeSeconds": 3000,
    }


def _fixed(
    rule: Mapping[str, Any] | None, origin: str, mode: UploadMode, headers: Sequence[str]
) -> dict[str, Any]:
    if rule is None:
        return _rule_for(origin, mode, headers)
    fixed = dict(rule)
    fixed["AllowedMethods"] = sorted({*_upper(rule.get("AllowedMethods")), _METHOD[mode]})
    if "*" not in (rule.get("AllowedHeaders") or ()):
        fixed["AllowedHeaders"] = sorted({*(rule.get("AllowedHeaders") or ()), *headers})
    fixed["ExposeHeaders"] = sorted(
        {*(rule.get("ExposeHeaders") or ()), *(_NAMES[h] for h in _EXPOSED[mode])}
    )
    return fixed


def _upper(values: Iterable[str] | None) -> list[str]:
    return [v.upper() for v in values or ()]


def _matches_origin(rule: Mapping[str, Any], origin: str) -> bool:
    return any(
        pattern == "*" or fnmatch.fnmatchcase(origin, pattern)
        for pattern in rule.get("AllowedOrigins") or ()
    )
