"""``resilient-s3 explain``: whatever a person pastes (an S3 XML error, a raw HTTP answer, a
botocore message, a presigned URL, or an error with its URL), read and explained.

A URL alone gets a report of how it was signed: when, until when (and whether it has expired),
by which access key, for which region, operation and headers, and whether this machine's clock
would accept it. Pure: no I/O.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .._redact import redact_text
from .answer import Answer
from .case import Case
from .diagnose import describe_signing, diagnose_case
from .model import Diagnosis
from .request import SentRequest
from .words import human_seconds

MAX_PRESIGN_SECONDS = 604_800
_URL = re.compile(r"https?://[^\s\"'<>]+")
_XML = re.compile(r"(<\?xml[^>]*>\s*)?<Error>.*?</Error>", re.DOTALL)
_BOTOCORE = re.compile(
    r"An error occurred \((?P<code>[^)]+)\) when calling the (?P<operation>\w+) operation"
    r"(?: \(reached max retries: \d+\))?: ?(?P<message>.*)",
    re.DOTALL,
)
_STATUS_LINE = re.compile(r"^HTTP/\d(?:\.\d)? (?P<status>\d{3})")
_CODE = re.compile(r"^[A-Z][A-Za-z0-9.]+$")
_SIGNED = re.compile(r"[?&](X-Amz-Credential|X-Amz-Signature|Signature)=", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class UrlReport:
    """How a URL was signed, and whether it can still be used."""

    url: str
    """Masked: no signature, credential or token."""
    state: str
    """``valid``, ``expired``, ``not-yet-valid``, ``invalid`` or ``unsigned``."""
    lines: tuple[str, ...]
    problems: tuple[str, ...] = ()
    signed_at: datetime.datetime | None = None
    expires_at: datetime.datetime | None = None
    region: str | None = None
    access_key: str | None = None
    signed_headers: tuple[str, ...] = ()
    operation: str | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    """What ``explain`` read, and what it makes of it."""

    read_as: str
    """``url``, ``xml``, ``http``, ``botocore``, ``code`` or ``unreadable``."""
    diagnosis: Diagnosis | None = None
    url: UrlReport | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The explanation as plain data (``resilient-s3 explain --json``)."""

        def plain(value: Any) -> Any:
            if isinstance(value, datetime.datetime):
                return value.strftime("%Y-%m-%dT%H:%M:%SZ")
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value

        return {
            "read_as": self.read_as,
            "diagnosis": plain(asdict(self.diagnosis)) if self.diagnosis else None,
            "url": plain(asdict(self.url)) if self.url else None,
            "notes": list(self.notes),
        }


def explain(text: str, *, now: datetime.datetime | None = None) -> Explanation:
    """Read ``text`` (an error, an answer, a URL, or an error and its URL) and explain it."""
    now = now or datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    text = text.strip()
    url = _request_url(_URL.findall(text))
    report = describe_url(url, now) if url else None
    # The URL is the request's, given beside the answer (the command joins its arguments with
    # a space): left in, it trails the body, and an XML body no longer parses.
    answer_text = text.replace(url, " ").strip() if url else text
    http = _http_answer(answer_text)
    if http is not None:
        return Explanation("http", _diagnosed(http, url, now), report)
    xml = _XML.search(answer_text)
    if xml:
        answer = Answer.from_http(None, {}, xml.group(0))
        return Explanation("xml", _diagnosed(answer, url, now), report)
    botocore = _BOTOCORE.search(answer_text)
    if botocore:
        code, message = botocore["code"], botocore["message"].strip()
        status = int(code) if code.isdigit() else None
        answer = Answer(status, None if status else code, message)
        return Explanation("botocore", _diagnosed(answer, url, now, botocore["operation"]), report)
    if report is not None:
        return Explanation("url", None, report)
    if _CODE.match(text):
        return Explanation("code", _diagnosed(Answer(None, text), None, now))
    return Explanation(
        "unreadable",
        notes=(
            "give an S3 XML error body, a raw HTTP answer, a botocore error message, a "
            "presigned URL, or an error with its URL",
        ),
    )


def _request_url(urls: list[str]) -> str | None:
    """The request's URL among those in the text: the first signed one (an answer's own
    headers may hold another, such as a redirect's Location), else the first."""
    signed = [u for u in urls if _SIGNED.search(u)]
    return next(iter(signed or urls), None)


def _http_answer(text: str) -> Answer | None:
    """A raw HTTP answer as ``curl -i`` prints it: the status, the headers, and the XML error
    in the body; interim answers before it (the ``100 Continue`` curl gets before it sends a
    large body) are skipped."""
    text = text.replace("\r\n", "\n")
    status = _STATUS_LINE.match(text)
    while status is not None:
        head, _, body = text.partition("\n\n")
        final = _STATUS_LINE.match(body.lstrip())
        if not status["status"].startswith("1") or final is None:
            break
        text, status = body.lstrip(), final
    if status is None:
        return None
    headers = dict(
        (name.strip(), value.strip())
        for name, sep, value in (line.partition(":") for line in head.split("\n")[1:])
        if sep
    )
    # No blank line when the shell folded the pasted lines into one: the error is still there.
    xml = _XML.search(body) or _XML.search(head)
    return Answer.from_http(int(status["status"]), headers, xml.group(0) if xml else body.strip())


def _diagnosed(
    answer: Answer, url: str | None, now: datetime.datetime, operation: str | None = None
) -> Diagnosis:
    request = SentRequest.read(None, url) if url else None
    return diagnose_case(Case(answer, request, operation=operation, now=now))


def describe_url(url: str, now: datetime.datetime) -> UrlReport:
    """How ``url`` was signed, judged by this machine's clock ``now`` (naive UTC)."""
    request = SentRequest.read(None, url)
    signing = request.signing if request is not None else None
    shown = request.url if request is not None and request.url else redact_text(url)
    if signing is None or not signing.presigned:
        return UrlReport(
            shown, "unsigned", ("this URL carries no signature: only public objects answer it",)
        )
    lines = [describe_signing(signing)]
    operation = request.operation if request is not None else None
    lines.append(
        f"operation: {operation}"
        if operation
        else "method: not in the URL (the signature covers it: a URL signed for PUT refuses GET)"
    )
    problems: list[str] = []
    state = "valid"
    if signing.version == "sigv2":
        problems.append(
            "signed with SigV2, which S3 refuses in regions opened since 2014 and for new "
            "buckets: sign with SigV4"
        )
    if signing.expires_in is not None and signing.expires_in > MAX_PRESIGN_SECONDS:
        state = "invalid"
        problems.append(
            f"X-Amz-Expires={signing.expires_in} is above AWS's 604800 s (7 days): S3 refuses it"
        )
    if signing.signed_at is not None and signing.signed_at - now > datetime.timedelta(minutes=15):
        state = "not-yet-valid"
        ahead = (signing.signed_at - now).total_seconds()
        problems.append(
            f"dated {human_seconds(ahead)} after this machine's clock: S3 answers 'Request is "
            "not yet valid' if its clock agrees with this one; the signer's clock is ahead, or "
            "this one is behind"
        )
    if signing.expires_at is not None:
        left = (signing.expires_at - now).total_seconds()
        if left <= 0:
            if state == "valid":
                state = "expired"
            problems.append(
                f"expired at {signing.expires_at:%Y-%m-%d %H:%M:%S} UTC, "
                f"{human_seconds(left)} ago by this machine's clock"
            )
        else:
            lines.append(
                f"expires at {signing.expires_at:%Y-%m-%d %H:%M:%S} UTC, in {human_seconds(left)} "
                "by this machine's clock"
            )
    if signing.temporary:
        lines.append(
            "signed with temporary credentials: it stops working when they expire, "
            "whatever X-Amz-Expires says"
        )
    return UrlReport(
        shown,
        state,
        tuple(lines),
        tuple(problems),
        signed_at=signing.signed_at,
        expires_at=signing.expires_at,
        region=signing.region,
        access_key=signing.access_key,
        signed_headers=signing.signed_headers,
        operation=operation,
    )


def render(explanation: Explanation) -> str:
    """The explanation as a person reads it."""
    out: list[str] = []
    report, diagnosis = explanation.url, explanation.diagnosis
    if report is not None:
        out.append(f"URL: {report.url}")
        out.append(f"  state: {report.state}")
        out += [f"  {line}" for line in report.lines]
        out += [f"  problem: {problem}" for problem in report.problems]
    if diagnosis is not None:
        if out:
            out.append("")
        out += render_diagnosis(diagnosis)
    out += list(explanation.notes)
    return "\n".join(out)


def render_diagnosis(diagnosis: Diagnosis) -> list[str]:
    out = [f"cause: {diagnosis.cause}", f"  {diagnosis.summary}"]
    if diagnosis.evidence:
        out.append("evidence:")
        out += [f"  - {line}" for line in diagnosis.evidence]
    if diagnosis.fixes:
        out.append("fixes, in the order to try them:")
        out += [f"  {n}. {fix}" for n, fix in enumerate(diagnosis.fixes, 1)]
    out.append(f"retryable: {'yes' if diagnosis.retryable else 'no'}")
    return out
