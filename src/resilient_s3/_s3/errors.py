"""The one place where botocore, network and OS errors become the ``UploadError`` tree.

Three boundaries call it: opening a session (profiles, endpoints, credential providers), the
control calls and the data path. Whatever escapes the SDK or the socket is mapped here, once,
into an error that names the request and carries a diagnosis; nothing else in the library
catches botocore's exceptions.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .._diagnostics.answer import Answer, parse_time
from .._diagnostics.case import Case
from .._diagnostics.chain import certificate_refused, in_chain
from .._diagnostics.codes import SDK_EXCEPTIONS, WITHOUT_ANSWER
from .._diagnostics.diagnose import diagnose_case
from .._diagnostics.request import SentRequest
from .._exceptions import CredentialRefreshError, InvalidUploadError, S3RequestError, UploadError


@dataclass(frozen=True, slots=True)
class Where:
    """The request's place, for error messages."""

    bucket: str
    key: str
    upload_id: str | None = None
    part_number: int | None = None


_SECRET_PARAMS = ("SSECustomerKey", "CopySourceSSECustomerKey")


def check_endpoint_url(endpoint_url: str | None) -> None:
    """Refuse an endpoint URL botocore would refuse later, or misread: a scheme and a host."""
    if endpoint_url is None:
        return
    try:
        parts = urlsplit(endpoint_url) if isinstance(endpoint_url, str) else None
    except ValueError:  # e.g. "Invalid IPv6 URL" for http://[::1
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        shown = endpoint_url if isinstance(endpoint_url, str) else type(endpoint_url).__name__
        raise InvalidUploadError(
            f"endpoint URL {shown!r} is not an http:// or https:// URL with a host; "
            "write it like http://127.0.0.1:9000 or https://s3.eu-west-1.amazonaws.com",
            diagnosis=WITHOUT_ANSWER["endpoint-url-invalid"].diagnosis(f"endpoint URL: {shown}"),
        )


def session_error(exc: BaseException, *, profile: str | None = None) -> UploadError:
    """An error raised while resolving a session's profile, region, endpoint or credentials."""
    name = type(exc).__name__
    kind = SDK_EXCEPTIONS.get(name)
    if kind == "profile-not-found":
        shown = getattr(exc, "kwargs", {}).get("profile", profile)
        return InvalidUploadError(
            f"AWS profile {shown!r} not found in ~/.aws/config or ~/.aws/credentials",
            diagnosis=WITHOUT_ANSWER[kind].diagnosis(str(exc)),
            last_exception=exc,
        )
    if kind == "no-credentials":
        return no_credentials(exc)
    if kind == "credential-provider-failed":
        return provider_failed(exc)
    return InvalidUploadError(
        f"the session cannot be used: {exc}",
        diagnosis=WITHOUT_ANSWER["session-invalid"].diagnosis(f"{name}: {exc}"),
        last_exception=exc,
    )


def sdk_error(exc: BaseException, where: Where, operation: str, endpoint: str) -> UploadError:
    """Any other botocore exception raised while making a request: a transport failure is a
    network error (retryable); the rest (endpoint rules, regions, credentials) are final."""
    name = type(exc).__name__
    kind = SDK_EXCEPTIONS.get(name)
    if kind == "connection-failed":
        return network_error(exc, where, operation, endpoint)
    if kind == "no-credentials":
        return no_credentials(exc, where)
    if kind == "credential-provider-failed":
        return provider_failed(exc)
    return InvalidUploadError(
        f"{operation} cannot be made: {exc}",
        bucket=where.bucket,
        key=where.key,
        diagnosis=WITHOUT_ANSWER["request-unbuildable"].diagnosis(f"{name}: {exc}"),
        last_exception=exc,
    )


def no_credentials(exc: BaseException | None = None, where: Where | None = None) -> UploadError:
    return InvalidUploadError(
        "no AWS credentials found: configure a profile, environment variables or an instance "
        "role, or pass a session with credentials",
        bucket=where.bucket if where else None,
        key=where.key if where else None,
        diagnosis=WITHOUT_ANSWER["no-credentials"].diagnosis(
            *((str(exc),) if exc is not None else ())
        ),
        last_exception=exc,
    )


def provider_failed(exc: BaseException) -> CredentialRefreshError:
    return CredentialRefreshError(
        f"the credential provider failed: {type(exc).__name__}: {exc}",
        diagnosis=WITHOUT_ANSWER["credential-provider-failed"].diagnosis(
            f"{type(exc).__name__}: {exc}"
        ),
        last_exception=exc,
    )


def invalid_arguments(
    operation: str, exc: BaseException, params: Mapping[str, Any], where: Where
) -> InvalidUploadError:
    """botocore quotes bad values; an SSE-C key must not travel on in a message or a chain."""
    text = str(exc)
    for name in _SECRET_PARAMS:
        value = params.get(name)
        if value:
            for shown in {repr(value), str(value)}:
                text = text.replace(shown, "***")
    return InvalidUploadError(
        f"invalid extra_args for {operation}: {text}", bucket=where.bucket, key=where.key
    )


def http_error(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    where: Where,
    operation: str,
    request: SentRequest | None = None,
) -> S3RequestError:
    """An S3 error answer (status, XML body, lower-case headers) as an S3RequestError that
    keeps the answer (and the request, when given) as evidence for :func:`diagnose`."""
    answer = Answer.from_http(status, headers, body)
    label = answer.code or f"HTTP {status}"
    text = f"{operation} failed: {label}"
    if answer.message:
        text += f": {answer.message}"
    error = S3RequestError(
        text,
        code=answer.code,
        status=status,
        request_id=answer.request_id,
        bucket=where.bucket,
        key=where.key,
        upload_id=where.upload_id,
        part_number=where.part_number,
        diagnosis=diagnose_case(Case(answer, request, operation=operation)),
    )
    error.operation, error.answer, error.request = operation, answer, request
    error.server_time = answer.server_time
    retry_after = answer.headers.get("retry-after")
    if retry_after:
        try:
            error.retry_after = max(0.0, float(retry_after))
        except ValueError:
            when = parse_time(retry_after)
            if when is not None and error.server_time is not None:
                error.retry_after = max(0.0, (when - error.server_time).total_seconds())
    return error


class NoAnswerError(S3RequestError):
    """A request that got no answer (``status`` is None). ``without_answer`` is its row of the
    code table's ``WITHOUT_ANSWER``: the retrier's verdict and the diagnosis both come from
    that one row, so neither is read back from the other."""

    def __init__(
        self, message: str, *, without_answer: str = "connection-failed", **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.without_answer = without_answer


def network_error(
    exc: BaseException, where: Where, operation: str, endpoint: str = ""
) -> NoAnswerError:
    """A request that got no answer: refused, unresolvable, reset, timed out, bad TLS."""
    detail = str(exc) or type(exc).__name__
    try:
        place = urlsplit(endpoint).netloc or "the endpoint"
    except ValueError:
        place = "the endpoint"
    refused = in_chain(exc, ConnectionRefusedError)
    unresolved = in_chain(exc, socket.gaierror)
    summary = None
    if certificate_refused(exc):
        kind = "tls-untrusted"
    elif refused:
        kind, summary = "connection-refused", f"nothing accepts connections at {place}"
    elif unresolved:
        kind, summary = "host-unresolved", f"the host name of {place} cannot be resolved"
    else:
        kind = "connection-failed"
    error = NoAnswerError(
        f"{operation} failed: network error: {detail}",
        without_answer=kind,
        bucket=where.bucket,
        key=where.key,
        upload_id=where.upload_id,
        part_number=where.part_number,
        diagnosis=WITHOUT_ANSWER[kind].diagnosis(detail, summary=summary),
        last_exception=exc,
    )
    error.unreachable = refused or unresolved
    return error


def handler_error(
    exc: BaseException, handler: object, where: Where, operation: str
) -> S3RequestError:
    """A botocore ``before-send`` handler (moto's ``mock_aws()``, one on the user's session)
    raised instead of answering: botocore's connection errors are network errors, as botocore
    retries them; anything else is final (a mock that cannot do this request, a test's
    assertion), kept as ``last_exception``."""
    name = type(exc).__name__
    if SDK_EXCEPTIONS.get(name) == "connection-failed":
        return network_error(exc, where, operation)
    shown = getattr(handler, "__qualname__", None) or type(handler).__qualname__
    detail = f"{name}: {exc}" if str(exc) else name
    summary = f"a botocore before-send handler ({shown}) raised {name} instead of answering"
    diagnosis = WITHOUT_ANSWER["request-unbuildable"].diagnosis(detail, summary=summary)
    fixes = (
        "the handler is moto's mock_aws() or one registered on the session's events: "
        "see the exception it raised (last_exception) for what it could not do",
    )
    return NoAnswerError(
        f"{operation} failed: {summary}: {detail}",
        without_answer="request-unbuildable",
        bucket=where.bucket or None,
        key=where.key or None,
        upload_id=where.upload_id,
        part_number=where.part_number,
        diagnosis=dataclasses.replace(diagnosis, fixes=fixes),
        last_exception=exc,
    )
