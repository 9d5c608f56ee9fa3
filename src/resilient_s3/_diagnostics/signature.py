"""SignatureDoesNotMatch, taken apart: the canonical request S3 computed against the one the
client signed, line by line, then the string to sign, then the secret key; or, without S3's,
the header values signed against those sent."""

from __future__ import annotations

from .canonical import CanonicalRequest, string_to_sign
from .case import Case, Notes
from .request import SentRequest
from .words import shown, title


def signature_mismatch(case: Case, notes: Notes) -> None:
    """The canonical request S3 computed (``CanonicalRequest``) against the one the client
    signed, line by line: a header that differs is named with both values; a path or query
    that differs means encoding; the payload line means the payload-hash mode; when all are
    equal, the string to sign (time, scope); when that is equal too, the secret key. A signed
    header whose value is unknown (a presigned URL names its signed headers, not their values)
    is shown as S3 received it, the other lines still compared. Without S3's canonical
    request, the header values that were signed against those sent."""
    request, elements = case.request, case.answer.elements
    server = CanonicalRequest.parse(elements.get("CanonicalRequest", ""))
    if request is not None and request.signing is not None and request.signing.version == "sigv2":
        notes.evidence.append("the request was signed with SigV2")
    if request is not None and server is not None:
        values = {**request.sent, **request.signed_values}
        client = request.canonical(values, server.method)
        if client is not None:
            _diff_canonical(client, server, case, notes, request.unknown_values(values))
            return
    if request is not None and request.signed_values and _diff_sent(request, notes):
        return
    signing = request.signing if request is not None else None
    if request is not None and signing is not None and signing.presigned:
        # Signed by one party, sent by another: the values sent are the usual suspects.
        signed = [n for n in signing.signed_headers if n != "host"]
        sent = [f"{n}: {request.sent[n]!r}" for n in signed if n in request.sent]
        if signed:
            notes.evidence.append(f"the signature covers the values of: {', '.join(signed)}")
        if sent:
            notes.evidence.append(f"the request sent {'; '.join(sent)}")
            notes.first(
                f"send exactly the values that were signed for {', '.join(signed)} (for a "
                "presigned URL, the headers the presigner returned with it)"
            )
    elif server is not None:
        notes.evidence.append(
            "S3 computed this canonical request: " + server.text.replace("\n", "\\n")
        )
        notes.fixes.append(
            "compare it with the client's canonical request (boto3 logs it at DEBUG); or "
            "pass the request's url and headers to diagnose()"
        )


def _diff_canonical(
    client: CanonicalRequest,
    server: CanonicalRequest,
    case: Case,
    notes: Notes,
    unknown: tuple[str, ...] = (),
) -> None:
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
        return
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
            return
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
        _first(notes, [fixes[0], f"if {same} that {'was' if one else 'were'} signed: {secret}"])
        return
    notes.summary = f"the secret access key{key} is wrong: everything else that was signed matches"
    notes.first(secret)


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
        notes.first(f"send {title(n)}: {v} exactly as signed (the headers the presigner returned)")
    return True
