"""SignatureDoesNotMatch, taken apart: the canonical request S3 computed against the one the
client signed, line by line, then the string to sign, then the secret key; or, without S3's,
the header values signed against those sent. A presigned URL's fixes come in the order its
causes are likely: the headers it signs, the body's length, then its signer's secret key."""

from __future__ import annotations

from typing import Literal

from .canonical import CanonicalRequest, string_to_sign
from .case import Case, Notes
from .request import SentRequest
from .words import human_bytes, shown, title

_Outcome = Literal["differs", "open", "equal"]
"""What comparing told: a difference named; values that cannot be compared; everything that
was signed matching what was sent."""


def signature_mismatch(case: Case, notes: Notes) -> None:
    """The canonical request S3 computed (``CanonicalRequest``) against the one the client
    signed, line by line: a header that differs is named with both values; a path or query
    that differs means encoding; the payload line means the payload-hash mode; when all are
    equal, the string to sign (time, scope); when that is equal too, the secret key. A signed
    header whose value is unknown (a presigned URL names its signed headers, not their values)
    is shown as S3 received it, the other lines still compared. Without S3's canonical
    request, the header values that were signed against those sent. On a presigned URL the
    fixes name each header it signs (``X-Amz-SignedHeaders``) and the body's exact length when
    it signs ``Content-Length``; the secret key comes last, and is the signer's (the backend
    that presigned the URL), not the client's: when what was sent matches what was signed, it
    is the cause."""
    request, elements = case.request, case.answer.elements
    signing = case.signing
    presigned = request is not None and signing is not None and signing.presigned
    if presigned:
        # The table's fixes start with the secret key, the usual mistake of a client that
        # signs; a URL's client signs nothing, and the headers it sends are the usual cause.
        notes.fixes = []
    server = CanonicalRequest.parse(elements.get("CanonicalRequest", ""))
    if request is not None and request.signing is not None and request.signing.version == "sigv2":
        notes.evidence.append("the request was signed with SigV2")
    outcome, compared = _compare(case, notes, server)
    if presigned and request is not None:
        _presigned(case, request, notes, outcome, compared=compared)


def _compare(case: Case, notes: Notes, server: CanonicalRequest | None) -> tuple[_Outcome, bool]:
    """What comparing told, and whether it compared with S3's canonical request (every line)
    or only the header values."""
    request = case.request
    if request is not None and server is not None:
        values = {**request.sent, **request.signed_values}
        client = request.canonical(values, server.method)
        if client is not None:
            unknown = request.unknown_values(values)
            return _diff_canonical(client, server, case, notes, unknown), True
    return _compare_values(request, notes, server), False


def _compare_values(
    request: SentRequest | None, notes: Notes, server: CanonicalRequest | None
) -> _Outcome:
    """Without S3's canonical request: the header values signed against those sent; for a
    presigned URL, the headers it signs, and whether every one was sent as signed."""
    # Both must be known: nothing sent is not the same as a header "absent".
    if (
        request is not None
        and request.sent
        and request.signed_values
        and _diff_sent(request, notes)
    ):
        return "differs"
    signing = request.signing if request is not None else None
    if request is not None and signing is not None and signing.presigned:
        # Signed by one party, sent by another: the values sent are the usual suspects.
        signed = [n for n in signing.signed_headers if n != "host"]
        sent = [f"{n}: {request.sent[n]!r}" for n in signed if n in request.sent]
        if signed:
            notes.evidence.append(f"the signature covers the values of: {', '.join(signed)}")
        if sent:
            notes.evidence.append(f"the request sent {'; '.join(sent)}")
        known = all(n in request.sent and n in request.signed_values for n in signed)
        if request.sent and known:
            return "equal"
        notes.summary = (
            "the request is not the one the URL signs, or its signer's secret key is wrong: "
            + (
                f"a header sent otherwise than signed ({', '.join(map(title, signed))}) is the "
                "usual cause"
                if signed
                else "the URL signs no header but Host, so a method, path or query changed "
                "on the way is the usual cause"
            )
        )
        return "open"
    if server is not None:
        notes.evidence.append(
            "S3 computed this canonical request: " + server.text.replace("\n", "\\n")
        )
        notes.fixes.append(
            "compare it with the client's canonical request (boto3 logs it at DEBUG); or "
            "pass the request's url and headers to diagnose()"
        )
    return "open"


def _diff_canonical(
    client: CanonicalRequest,
    server: CanonicalRequest,
    case: Case,
    notes: Notes,
    unknown: tuple[str, ...] = (),
) -> _Outcome:
    """``unknown``: the signed headers whose values the client's side does not know (their
    lines in ``client`` are blank, so they are not compared)."""
    findings: list[tuple[str, str, str]] = []  # (evidence, summary, fix)
    unknowns: list[tuple[str, str | None]] = []  # (header, the value S3 received)
    if client.method != server.method:
        findings.append(
            (
                f"method: signed {client.method}, received {server.method}",
                f"the request was signed for {client.method} but sent as {server.method}",
                f"send it as {client.method}, or sign it for {server.method}",
            )
        )
    signed, received = dict(client.headers), dict(server.headers)
    for name in sorted(set(signed) | set(received)):
        mine, theirs = signed.get(name), received.get(name)
        if name in unknown:
            unknowns.append((name, theirs))
        elif mine != theirs:
            findings.append(
                (
                    f"header {name}: signed {shown(mine)}, S3 received {shown(theirs)}",
                    f"the {title(name)} header differs from the one signed",
                    f"send {title(name)}: {mine} exactly as signed"
                    if mine
                    else f"do not send {title(name)}, or sign it",
                )
            )
    if client.signed_headers != server.signed_headers:
        findings.append(
            (
                f"signed headers: signed {client.signed_headers}, S3 used {server.signed_headers}",
                "the list of signed headers differs from the one S3 used",
                "send the signed header list (X-Amz-SignedHeaders, or SignedHeaders in the "
                "Authorization header) unchanged, and every header it names",
            )
        )
    if client.path != server.path:
        findings.append(
            (
                f"path: signed {client.path}, S3 computed {server.path}",
                "the key's encoding in the path differs from the one signed",
                "percent-encode the key once, as SigV4 does (a space is %20, not +; no double "
                "encoding; / kept)",
            )
        )
    if client.query != server.query:
        findings.append(
            (
                f"query: signed {client.query!r}, S3 computed {server.query!r}",
                "the query string differs from the one signed (its encoding or parameters)",
                "send the URL exactly as signed: parameters and their encoding unchanged",
            )
        )
    if client.payload != server.payload:
        findings.append(
            (
                f"payload hash: signed {client.payload}, S3 computed {server.payload}",
                "the payload-hash mode differs from the one signed",
                "x-amz-content-sha256 must be the body's SHA-256, or UNSIGNED-PAYLOAD as "
                "signed (presigned URLs are UNSIGNED-PAYLOAD)",
            )
        )
    signing = case.signing
    presigned = signing is not None and signing.presigned
    where = "not in the URL" if presigned else "not among the request headers given"
    notes.evidence += [f[0] for f in findings]
    notes.evidence += [
        f"header {name}: S3 received {shown(theirs)}; the value signed is {where}"
        for name, theirs in unknowns
    ]
    fixes = [f[2] for f in findings] + ([_send_as_signed(unknowns, presigned)] if unknowns else [])
    if findings:
        notes.summary = findings[0][1]
        _first(notes, fixes)
        return "differs"
    notes.evidence.append(
        "the other lines of the canonical request (method, path, query, signed headers, "
        "payload hash) are the ones signed"
        if unknowns
        else "the canonical request S3 computed is the one that was signed"
    )
    theirs = case.answer.elements.get("StringToSign")
    if signing is not None and signing.timestamp and signing.scope and theirs:
        mine = string_to_sign(signing.timestamp, signing.scope, client.text)
        # The first three lines (algorithm, time, scope) only: the last is the hash of a
        # canonical request whose unknown values are blank.
        if mine.split("\n")[:3] != theirs.split("\n")[:3]:
            notes.evidence.append(
                f"string to sign: signed {mine.splitlines()[1:3]}, S3 used "
                f"{theirs.splitlines()[1:3]}"
            )
            notes.summary = "the request time or the credential scope differs from the signed one"
            _first(
                notes, ["sign with the X-Amz-Date and scope (date/region/s3) that are sent", *fixes]
            )
            return "differs"
        notes.evidence.append("the string to sign is the same on both sides")
    key = f" of access key {signing.access_key}" if signing and signing.access_key else ""
    secret = (
        f"use the secret key that belongs to the access key id{key} (check "
        "AWS_SECRET_ACCESS_KEY and the profile; a secret copied with a trailing space or "
        "newline fails this way)"
    )
    if unknowns:
        # The values S3 received may be the ones signed (then the key is wrong) or not: the
        # URL cannot tell, and a header sent otherwise than signed is the usual cause.
        got = "; ".join(f"{title(name)} {shown(value)}" for name, value in unknowns)
        one = len(unknowns) == 1
        notes.summary = (
            f"S3 received {got}; the value{'' if one else 's'} signed "
            f"{'is' if one else 'are'} {where}, and the request must carry exactly "
            f"{'that value' if one else 'those values'} (everything else that was signed "
            "matches)"
        )
        same = "that is the value" if one else "those are the values"
        # A URL's secret is its signer's: the presigned fixes say so, after the headers.
        later = [] if presigned else [f"if {same} that {'was' if one else 'were'} signed: {secret}"]
        _first(notes, [fixes[0], *later])
        return "open"
    if not presigned:
        notes.summary = (
            f"the secret access key{key} is wrong: everything else that was signed matches"
        )
        notes.first(secret)
    return "equal"


def _send_as_signed(unknowns: list[tuple[str, str | None]], presigned: bool) -> str:
    names = " and ".join(title(name) for name, _ in unknowns)
    received = "; ".join(f"{title(name)} {shown(value)}" for name, value in unknowns)
    if presigned:
        return (
            f"send exactly the {names} the presigner returned with the URL (the {names} "
            f"given when presigning), not another value: S3 received {received}"
        )
    return (
        f"send exactly the {names} that were signed: S3 received {received} (pass the "
        "request's headers to diagnose() to compare them)"
    )


def _first(notes: Notes, fixes: list[str]) -> None:
    """``fixes``, in their order, before the code table's."""
    for fix in reversed(fixes):
        notes.first(fix)


def _diff_sent(request: SentRequest, notes: Notes) -> bool:
    """Header values signed (a presigned request's headers) against those sent."""
    differing = []
    for name, value in request.signed_values.items():
        sent = request.sent.get(name)
        if sent != value:
            differing.append((name, value, sent))
    if not differing:
        return False
    name, value, sent = differing[0]
    notes.summary = (
        f"the {title(name)} sent ({shown(sent)}) differs from the one signed ({shown(value)})"
    )
    notes.evidence += [f"header {n}: signed {shown(v)}, sent {shown(s)}" for n, v, s in differing]
    for n, v, _ in reversed(differing):
        notes.first(_as_signed(n, v))
    return True


def _as_signed(name: str, value: str) -> str:
    if name == "content-length":
        return _body_length(value, signed=True)
    return f"send {title(name)}: {value} exactly as signed (the headers the presigner returned)"


def _body_length(value: str | None, *, signed: bool) -> str:
    """A signed Content-Length is the body's: the client sets it by what it sends.
    ``signed``: ``value`` is the one signed, not only the one sent."""
    if value is None or not value.isdigit():
        return (
            "the body must be exactly the size the URL was signed for: it signs Content-Length "
            "(the size given when presigning)"
        )
    size = int(value)
    about = f" ({human_bytes(size)})" if size >= 1024 else ""
    if signed:
        return (
            f"the body must be exactly {size} bytes{about}: the URL signs its Content-Length "
            "(the size given when presigning)"
        )
    return (
        f"the body must be exactly {size} bytes{about}, the Content-Length sent, and that must "
        "be the size given when presigning: the URL signs Content-Length"
    )


# -- a presigned URL: signed by the backend, sent by a client -----------------------------------


def _presigned(
    case: Case, request: SentRequest, notes: Notes, outcome: _Outcome, *, compared: bool
) -> None:
    """The fixes of a presigned URL, in the order a cause is likely: what the client sends
    (each signed header, the body's length), then the signer's secret key. ``compared``:
    S3's canonical request was compared line by line, and its fixes name every header that
    differs or could not be compared."""
    signing = case.signing
    assert signing is not None
    key = f" of access key {signing.access_key}" if signing.access_key else ""
    if outcome == "equal":
        _signer_is_wrong(request, notes, key, compared)
        return
    if not compared:
        _headers_to_send(request, signing.signed_headers, notes, outcome)
    notes.fixes.append(
        f"if the client sends exactly that, the URL's signer holds a wrong secret key{key}: "
        f"{_BACKEND_FIX}"
    )


def _headers_to_send(
    request: SentRequest, signed_headers: tuple[str, ...], notes: Notes, outcome: _Outcome
) -> None:
    """Each header the URL signs, and the body's length when it signs Content-Length; not
    again those a fix already names with both values (``_diff_sent``'s)."""
    names = [n for n in signed_headers if n != "host"]
    said = " ".join(notes.fixes)
    if any(title(n) not in said for n in names) or (not names and outcome == "open"):
        notes.fixes.append(_signed_headers_fix(request, names))
    if "content-length" in names and "Content-Length" not in said:
        signed = request.signed_values.get("content-length")
        length = signed or request.sent.get("content-length")
        notes.fixes.append(_body_length(length, signed=signed is not None))


_BACKEND_FIX = (
    "the backend that presigned the URL must fix its credentials (its AWS_SECRET_ACCESS_KEY, "
    "profile or role) and presign again; nothing the client sends can fix it"
)


def _signer_is_wrong(request: SentRequest, notes: Notes, key: str, certain: bool) -> None:
    if certain:
        notes.summary = (
            f"the secret access key{key} is wrong where the URL was signed: everything else "
            "that was signed matches; the backend that presigned the URL must fix its "
            "credentials, not the client"
        )
    else:
        notes.evidence.append("every header the URL signs was sent with the value signed")
        notes.summary = (
            f"the request sent every header the URL signs, as signed: the URL's signer holds a "
            f"wrong secret key{key}; the backend that presigned the URL must fix its "
            "credentials, not the client"
        )
    notes.first(f"the URL was signed with a wrong secret key{key}: {_BACKEND_FIX}")
    if not certain:
        notes.fixes.append(_signed_headers_fix(request, []))


def _signed_headers_fix(request: SentRequest, names: list[str]) -> str:
    if not names:
        return (
            "send the URL unchanged: with the method it was signed for, its path and query as "
            "given (the key not encoded again)"
        )
    listed = "; ".join(
        f"{title(n)}: {request.signed_values[n]}" if n in request.signed_values else title(n)
        for n in names
    )
    return (
        "send every header the URL signs (X-Amz-SignedHeaders), exactly as the presigner "
        f"returned it with the URL: {listed}"
    )
