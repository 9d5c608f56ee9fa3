"""Name the cause of an S3 failure, with its evidence and the fixes to try, in order.

:func:`diagnose` accepts a botocore ``ClientError``, a resilient-s3 ``UploadError``, or the
parts of a raw HTTP answer, and uses all the evidence there is: the error code, message and
extra elements, the headers, AWS's access-denied context, how the request was signed (a
presigned URL says when, for how long, by which key, for which region and headers), the
canonical request S3 computed, and what the uploader knew (its clock offset, when its
credentials expire).

Pure: it reads its arguments and the code table, nothing else. Errors are read by their
attributes, so this package imports nothing of the library above it. Nothing secret reaches a
diagnosis: the answer and the request are masked as they are read.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from . import causes
from .answer import Answer
from .case import Case, Notes
from .chain import certificate_refused
from .codes import SDK_EXCEPTIONS, WITHOUT_ANSWER, rule_for
from .model import Cause, Diagnosis
from .request import SentRequest, Signing
from .signature import signature_mismatch
from .words import human_seconds, naive, when

Refiner = Callable[[Case, Notes], None]

REFINERS: dict[Cause, Refiner] = {
    Cause.PRESIGNED_URL_EXPIRED: causes.presigned_url_expired,
    Cause.CLOCK_SKEW: causes.clock_skew,
    Cause.CREDENTIALS_EXPIRED: causes.session_token,
    Cause.INVALID_TOKEN: causes.session_token,
    Cause.SIGNATURE_MISMATCH: signature_mismatch,
    Cause.INVALID_ACCESS_KEY: causes.unknown_access_key,
    Cause.REGION_MISMATCH: causes.region_mismatch,
    Cause.THROTTLED: causes.throttled,
    Cause.PERMISSION_DENIED: causes.permission_denied,
    Cause.EXPLICIT_DENY: causes.access_denied,
    Cause.KMS_DENIED: causes.access_denied,
    Cause.ENTITY_TOO_LARGE: causes.size_limit,
    Cause.ENTITY_TOO_SMALL: causes.size_limit,
    Cause.NO_SUCH_BUCKET: causes.missing_resource,
    Cause.NO_SUCH_UPLOAD: causes.missing_resource,
    Cause.INVALID_PART: causes.invalid_part,
    Cause.HEADERS_NOT_SIGNED: causes.unsigned_headers,
    Cause.CORS_REFUSED: causes.cors_refused,
    Cause.PRECONDITION_FAILED: causes.precondition_failed,
    Cause.POST_POLICY_VIOLATION: causes.post_policy_violation,
    Cause.CHECKSUM_MISMATCH: causes.checksum_mismatch,
    Cause.PRESIGNED_URL_INVALID: causes.invalid_presigned_url,
    Cause.SIGV2_UNSUPPORTED: causes.sigv2,
}
"""What each cause reads beyond the code table (their docstrings say what)."""


# -- entry points --------------------------------------------------------------------------------


def diagnose(
    error: BaseException | None = None,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    url: Any = None,
    request_headers: Mapping[str, str] | None = None,
    method: str | None = None,
    signed_headers: Mapping[str, str] | None = None,
    now: datetime.datetime | None = None,
) -> Diagnosis:
    """The cause of a failure, its evidence and fixes.

    Give ``error`` (a botocore ``ClientError`` or a resilient-s3 ``UploadError``), or the
    parts of a raw HTTP answer: ``status``, ``headers``, ``body``. Either way, what is known
    of the request helps: its ``url`` (a presigned URL tells when and how it was signed; a
    :class:`~resilient_s3.PresignedRequest` also tells the header values it was signed with),
    the ``request_headers`` that were sent, the ``method``, and ``signed_headers``, the header
    values the signature covers when they differ from those sent.
    """
    if hasattr(url, "url") and hasattr(url, "headers"):  # a PresignedRequest
        method = method or getattr(url, "method", None)
        signed_headers = signed_headers or dict(url.headers)
        url = url.url
    request = SentRequest.read(method, url, request_headers, signed_headers)
    case: Case | None
    if error is None:
        case = Case(Answer.from_http(status, headers, body), request)
    else:
        case = _case_of(error, request)
        if case is None:
            return _without_answer(error)
    case.now = naive(now) if now is not None else case.now
    return diagnose_case(case)


def diagnose_code(code: str | None, status: int | None, message: str = "") -> Diagnosis:
    """The diagnosis for an S3 error code (and status) alone."""
    return diagnose_case(Case(Answer(status, code, message)))


def diagnose_case(case: Case) -> Diagnosis:
    answer = case.answer
    rule = rule_for(answer.code, answer.status, answer.message)
    if rule is None and answer.code is None and answer.bucket_region and answer.status == 400:
        rule = rule_for(None, 301)  # a HEAD signed for the wrong region: no body, a header
    if answer.code is None and answer.status == 404 and case.operation == "HeadBucket":
        rule = rule_for("NoSuchBucket", 404)  # a HEAD has no body to say so
    notes = Notes(
        rule.summary if rule else answer.message or "an error this library does not know",
        [_answer_line(answer)],
        list(rule.fixes) if rule else [],
    )
    cause = rule.cause if rule else Cause.UNKNOWN
    refine = REFINERS.get(cause)
    if refine is not None:
        refine(case, notes)
    notes.evidence += _request_lines(case)
    if answer.request_id:
        notes.evidence.append(f"request id: {answer.request_id}")
    retryable = rule.verdict.retryable if rule else False
    if notes.retryable is not None:
        retryable = notes.retryable
    return Diagnosis(cause, notes.summary, tuple(notes.evidence), tuple(notes.fixes), retryable)


def _case_of(error: BaseException, request: SentRequest | None) -> Case | None:
    """An error's evidence: a botocore ClientError's response, or what an S3RequestError kept."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and ("Error" in response or "ResponseMetadata" in response):
        operation = getattr(error, "operation_name", None)
        return Case(Answer.from_botocore(response), request, operation=operation)
    answer = getattr(error, "answer", None)
    if isinstance(answer, Answer):
        kept = getattr(error, "request", None)
        expiry = getattr(error, "credentials_expire_at", None)
        return Case(
            answer,
            request or (kept if isinstance(kept, SentRequest) else None),
            operation=getattr(error, "operation", None),
            clock_offset=getattr(error, "clock_offset", None),
            credentials_expire_at=expiry,
        )
    code, status = getattr(error, "code", None), getattr(error, "status", None)
    if code is not None or (status is not None and getattr(error, "diagnosis", None) is None):
        message = str(getattr(error, "message", "") or "")
        return Case(Answer(status, code, message), request)
    return None


def _without_answer(error: BaseException) -> Diagnosis:
    known = getattr(error, "diagnosis", None)
    if isinstance(known, Diagnosis):
        return known
    kind = SDK_EXCEPTIONS.get(type(error).__name__)
    if kind == "connection-failed" and certificate_refused(error):
        kind = "tls-untrusted"
    if kind is not None:
        return WITHOUT_ANSWER[kind].diagnosis(f"{type(error).__name__}: {error}")
    return Diagnosis(Cause.UNKNOWN, str(error) or type(error).__name__)


# -- evidence every diagnosis shows --------------------------------------------------------------


def _answer_line(answer: Answer) -> str:
    if answer.status is None and answer.code is None:
        return "no answer from S3"
    parts = [f"S3 answered HTTP {answer.status}" if answer.status else "S3 answered"]
    if answer.code:
        parts.append(answer.code)
    line = " ".join(parts)
    if answer.message:
        line += f": {answer.message}"
    elif answer.status is not None and not answer.code:
        line += " with no body (a HEAD request, or a proxy in between)"
    return line


def _request_lines(case: Case) -> list[str]:
    request, signing = case.request, case.signing
    lines = []
    if request is not None and request.url and signing is not None and signing.presigned:
        lines.append(f"URL: {request.url}")
    if signing is not None:
        lines.append(describe_signing(signing))
    return lines


def describe_signing(signing: Signing) -> str:
    how = "SigV2" if signing.version == "sigv2" else "SigV4"
    place = "in the URL (presigned)" if signing.presigned else "in the Authorization header"
    parts = [f"signed with {how} {place}"]
    if signing.access_key:
        parts.append(f"by access key {signing.access_key}")
    if signing.temporary:
        parts.append("with temporary credentials (a session token)")
    if signing.region:
        parts.append(f"for region {signing.region}")
    if signing.signed_at:
        parts.append(f"at {when(signing.signed_at)}")
    if signing.expires_in is not None:
        parts.append(f"valid {human_seconds(signing.expires_in)}")
    if signing.signed_headers:
        parts.append(f"covering headers {';'.join(signing.signed_headers)}")
    return ", ".join(parts)
