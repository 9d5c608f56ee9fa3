"""Whether a bucket's CORS rules let a browser upload, and what to add if they do not.

A browser upload fails in ways its page can hardly tell: a preflight refused (the origin, the
method or a header is not allowed), or an answer whose ETag the page may not read (without
``ExposeHeaders: ETag``, Uppy never finishes a multipart upload: uppy#5565, #5516). Pure: the
rules come from ``GetBucketCors`` (read by :meth:`Presigner.check_cors`).

The rules are read as S3 reads them, in their order. A preflight is allowed by the first rule
that matches its origin, its ``Access-Control-Request-Method`` and every header of its
``Access-Control-Request-Headers``; a rule that lacks one header is skipped, and a later one
may allow the request. The upload itself carries no requested headers: S3 answers it with the
first rule that matches its origin and method, and the headers the page may read are that
rule's ``ExposeHeaders``, whichever rule allowed the preflight.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

UploadMode = Literal["put", "multipart", "post", "uppy"]


@dataclass(frozen=True, slots=True)
class _Request:
    """A kind of request a browser's uploader sends S3 in a mode."""

    method: str
    sends: tuple[str, ...]
    """Headers it sends besides the signed ones (lowercase)."""
    reads: tuple[tuple[str, bool], ...]
    """Headers of S3's answer it reads (lowercase), and whether the upload fails without."""
    used_for: str = ""
    """Which uploads, when a mode sends several kinds of request."""


_PART = _Request("PUT", (), (("etag", True),))
_FORM = _Request("POST", (), (("etag", False), ("location", False)))
_REQUESTS: dict[str, tuple[_Request, ...]] = {
    # content-type for a single PUT of a typed file; none for Uppy's parts (a Blob slice has
    # no type) nor for a form (multipart/form-data needs no preflight entry).
    "put": (_Request("PUT", ("content-type",), (("etag", False),)),),
    "multipart": (_PART,),
    "post": (_FORM,),
    # Stock Uppy 6 (@uppy/aws-s3 6.x with a Companion-compatible backend such as
    # resilient_s3.uppy): files over 100 MiB in parts, each a PUT whose ETag it must read;
    # the others as POST forms, whose ETag it reads if it can (Uppy 4/5 read Location too).
    "uppy": (
        _Request("PUT", (), (("etag", True),), "Uppy sends the parts of files over 100 MiB by PUT"),
        _Request(
            "POST",
            (),
            (("etag", False), ("location", False)),
            "Uppy sends files of 100 MiB or less as POST forms",
        ),
    ),
}
_NAMES = {"etag": "ETag", "location": "Location"}
# Set by the browser itself, never in Access-Control-Request-Headers (a presigned PUT may sign
# Content-Length, a URL signs Host).
_NOT_PREFLIGHTED = frozenset({"host", "content-length"})


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
    """Rules that would allow it: the bucket's own, in their order, with the rule that S3
    would use for ``origin`` widened, or one for ``origin`` added (``put-bucket-cors`` them
    as ``{"CORSRules": suggested_rules}``)."""

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
    (the signed ones, e.g. ``x-amz-checksum-crc32``, ``x-amz-meta-owner``).

    ``mode`` is ``"put"`` (one PUT), ``"multipart"`` (a PUT per part, whose ETag the page
    reads), ``"post"`` (a form) or ``"uppy"`` (what the stock Uppy 6 plugin sends: PUT parts
    for files over 100 MiB, POST forms for the others). The rules are evaluated in order, as
    S3 does (see the module's description)."""
    requests = _REQUESTS.get(mode)
    if requests is None:
        raise ValueError(f"mode must be one of {', '.join(_REQUESTS)}, not {mode!r}")
    signed = [h.lower() for h in headers]
    if rules is None:
        finding = CorsFinding(
            "the bucket has no CORS configuration: every browser preflight is refused",
            f"add a CORS rule for {origin}: `resilient-s3 cors check s3://BUCKET --origin "
            f"{origin} --print-rules` prints the rules to apply",
        )
        return CorsReport(origin, mode, (finding,), [_rule_for(origin)])
    if not any(_matches_origin(rule, origin) for rule in rules):
        finding = CorsFinding(
            f"no CORS rule allows the origin {origin}",
            f"add {origin} to AllowedOrigins of a rule (or a rule for it)",
        )
        return CorsReport(
            origin, mode, (finding,), [*(dict(rule) for rule in rules), _rule_for(origin)]
        )
    findings: list[CorsFinding] = []
    suggested = [dict(rule) for rule in rules]
    for request in requests:
        sent = _preflighted((*request.sends, *signed))
        found = _check(rules, origin, request, sent)
        if found:
            findings += found
            _fix(suggested, origin, request, sent)
    return CorsReport(
        origin, mode, tuple(findings), suggested if findings else [dict(r) for r in rules]
    )


def _check(
    rules: Sequence[Mapping[str, Any]], origin: str, request: _Request, sent: Sequence[str]
) -> list[CorsFinding]:
    method = request.method
    why = f" ({request.used_for})" if request.used_for else ""
    candidates = [
        (number, rule)
        for number, rule in enumerate(rules, 1)
        if _matches_origin(rule, origin) and _allows_method(rule, method)
    ]
    if not candidates:
        return [
            CorsFinding(
                f"the rules for {origin} do not allow the {method} method{why}",
                f"add {method} to AllowedMethods of a rule for {origin}",
            )
        ]
    findings: list[CorsFinding] = []
    # The upload's answer: the first rule for the origin and the method.
    answer_number, answer = candidates[0]
    # The preflight's: the first of them that also allows every requested header.
    preflight = next(
        ((n, rule) for n, rule in candidates if all(_allows_header(rule, h) for h in sent)),
        None,
    )
    answer_name = _name(answer_number, answer, len(rules))
    of_rule = f" of {answer_name}" if answer_name else ""
    if preflight is None:
        refused = [h for h in sent if not _allows_header(answer, h)]
        others = (
            f"; no later rule for {origin} and {method} allows all of {', '.join(sent)}"
            if len(candidates) > 1
            else ""
        )
        findings.append(
            CorsFinding(
                f"the preflight{why} would be refused: headers {', '.join(refused)} are not in "
                f"AllowedHeaders{of_rule}{others}",
                f"add them to AllowedHeaders{of_rule}, or allow '*'",
            )
        )
    exposed = _exposed(answer)
    for header, needed in request.reads:
        if header in exposed:
            continue
        problem = (
            f"the page cannot read the {_NAMES[header]} header of S3's answers to its "
            f"{method}s{why}"
        )
        if needed:
            problem += (
                ": a multipart upload cannot be completed without each part's ETag "
                "(Uppy 6 fails 'Missing ETag', Uppy 4/5 hang at 100%)"
            )
        else:
            problem += " (Uppy reads it after an upload; nothing fails without it)"
        if preflight is not None and preflight[0] != answer_number:
            problem += (
                f": S3 answers the {method} with {_name(answer_number, answer, 2)}, the first "
                f"rule for {origin} and {method}, not with "
                f"{_name(preflight[0], preflight[1], 2)} that allowed the preflight"
            )
        findings.append(
            CorsFinding(
                problem,
                f"add {_NAMES[header]} to ExposeHeaders{of_rule}",
                blocking=needed,
            )
        )
    return findings


def _fix(rules: list[dict[str, Any]], origin: str, request: _Request, sent: Sequence[str]) -> None:
    """Widen, in place, the rule S3 would use for ``request`` so that it allows it: the first
    rule for the origin and the method (then the preflight and the answer both use it). When
    no rule allows the method, the first rule for this origin alone gets it (a rule for other
    origins too is left as it is), else a rule for the origin is added; no rule before either
    matches the origin and the method."""
    method = request.method
    index = next(
        (
            i
            for i, rule in enumerate(rules)
            if _matches_origin(rule, origin) and _allows_method(rule, method)
        ),
        None,
    )
    if index is None:
        index = next(
            (
                i
                for i, rule in enumerate(rules)
                if list(rule.get("AllowedOrigins") or ()) == [origin]
            ),
            None,
        )
        if index is None:
            rules.append(_rule_for(origin))
            return
        methods = list(rules[index].get("AllowedMethods") or ())
        rules[index] = {**rules[index], "AllowedMethods": [*methods, method]}
    rule = rules[index]
    fixed = dict(rule)
    missing = [h for h in sent if not _allows_header(rule, h)]
    if missing:
        fixed["AllowedHeaders"] = [*(rule.get("AllowedHeaders") or ()), *missing]
    exposed = _exposed(rule)
    hidden = [_NAMES[h] for h, _ in request.reads if h not in exposed]
    if hidden:
        fixed["ExposeHeaders"] = [*(rule.get("ExposeHeaders") or ()), *hidden]
    rules[index] = fixed


def _rule_for(origin: str) -> dict[str, Any]:
    return {
        "AllowedOrigins": [origin],
        "AllowedMethods": ["GET", "HEAD", "PUT", "POST"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag", "Location"],
        "MaxAgeSeconds": 3000,
    }


def _name(number: int, rule: Mapping[str, Any], count: int) -> str:
    """How a finding names a rule: "rule 2 ("uploads")"; nothing when it is the only one."""
    if count < 2:
        return ""
    return f'rule {number} ("{rule["ID"]}")' if rule.get("ID") else f"rule {number}"


def _preflighted(headers: Iterable[str]) -> list[str]:
    """The Access-Control-Request-Headers of a request sending ``headers``: lowercase, once
    each, without those the browser sets itself."""
    names = (h.strip().lower() for h in headers)
    return list(dict.fromkeys(h for h in names if h and h not in _NOT_PREFLIGHTED))


def _wildcard(pattern: str, value: str) -> bool:
    """S3's match: ``*`` stands for any characters, everything else for itself (no ``?`` or
    ``[...]`` as in shell patterns)."""
    regex = ".*".join(re.escape(piece) for piece in pattern.split("*"))
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _matches_origin(rule: Mapping[str, Any], origin: str) -> bool:
    return any(_wildcard(pattern, origin) for pattern in rule.get("AllowedOrigins") or ())


def _allows_method(rule: Mapping[str, Any], method: str) -> bool:
    return method in (m.upper() for m in rule.get("AllowedMethods") or ())


def _allows_header(rule: Mapping[str, Any], header: str) -> bool:
    return any(_wildcard(a.lower(), header) for a in rule.get("AllowedHeaders") or ())


def _exposed(rule: Mapping[str, Any]) -> set[str]:
    return {h.lower() for h in rule.get("ExposeHeaders") or ()}
