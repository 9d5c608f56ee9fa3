"""The one place where botocore, network and OS errors become the ``UploadError`` tree.

Three boundaries call it: opening a session (profiles, endpoints, credential providers), the
control calls and the data path. Whatever escapes the SDK or the socket is mapped here, once,
into an error that names the request and carries a diagnosis; nothing else in the library
catches botocore's exceptions.
"""

from __future__ import annotations

import datetime
import email.utils
import socket
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .._diagnostics.diagnose import diagnose_code
from .._diagnostics.model import Cause, Diagnosis
from .._exceptions import CredentialRefreshError, InvalidUploadError, S3RequestError, UploadError


@dataclass(frozen=True, slots=True)
class Where:
    """The request's place, for error messages."""

    bucket: str
    key: str
    upload_id: str | None = None
    part_number: int | None = None


_SECRET_PARAMS = ("SSECustomerKey", "CopySourceSSECustomerKey")

# botocore's credential-provider failures, by class name (they live in several modules).
_PROVIDER_FAILURES = frozenset(
    {
        "CredentialRetrievalError",
        "SSOError",
        "SSOTokenLoadError",
        "TokenRetrievalError",
        "UnauthorizedSSOTokenError",
        "InvalidConfigError",
        "RefreshWithMFAUnsupportedError",
        "MetadataRetrievalError",
    }
)


def check_endpoint_url(endpoint_url: str | None) -> None:
    """Refuse an endpoint URL botocore would refuse later, or misread: a scheme and a host."""
    if endpoint_url is None:
        return
    parts = urlsplit(endpoint_url) if isinstance(endpoint_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        shown = endpoint_url if isinstance(endpoint_url, str) else type(endpoint_url).__name__
        raise InvalidUploadError(
            f"endpoint URL {shown!r} is not an http:// or https:// URL with a host; "
            "write it like http://127.0.0.1:9000 or https://s3.eu-west-1.amazonaws.com",
            diagnosis=Diagnosis(
                Cause.INVALID_CONFIGURATION,
                "the endpoint URL has no http:// or https:// scheme, or no host",
                (f"endpoint URL: {shown}",),
                ("give the scheme, e.g. http://127.0.0.1:9000",),
            ),
        )


def session_error(exc: BaseException, *, profile: str | None = None) -> UploadError:
    """An error raised while resolving a session's profile, region, endpoint or credentials."""
    name = type(exc).__name__
    if name == "ProfileNotFound":
        shown = getattr(exc, "kwargs", {}).get("profile", profile)
        return InvalidUploadError(
            f"AWS profile {shown!r} not found in ~/.aws/config or ~/.aws/credentials",
            diagnosis=Diagnosis(
                Cause.INVALID_CONFIGURATION,
                "the named profile does not exist",
                (str(exc),),
                (
                    "check the profile name (--profile, AWS_PROFILE); "
                    "`aws configure list-profiles` lists the ones there are",
                ),
            ),
            last_exception=exc,
        )
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return no_credentials(exc)
    if name in _PROVIDER_FAILURES:
        return provider_failed(exc)
    return InvalidUploadError(
        f"the session cannot be used: {exc}",
        diagnosis=Diagnosis(
            Cause.INVALID_CONFIGURATION,
            "botocore refused the session's configuration",
            (f"{name}: {exc}",),
            ("check the profile, region and endpoint settings",),
        ),
        last_exception=exc,
    )


_NETWORK_FAILURES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "HTTPClientError",
        "ProxyConnectionError",
        "SSLError",
        "ResponseStreamingError",
        "IncompleteReadError",
    }
)


def sdk_error(exc: BaseException, where: Where, operation: str, endpoint: str) -> UploadError:
    """Any other botocore exception raised while making a request: a transport failure is a
    network error (retryable); the rest (endpoint rules, regions, credentials) are final."""
    name = type(exc).__name__
    if name in _NETWORK_FAILURES:
        return network_error(exc, where, operation, endpoint)
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return no_credentials(exc, where)
    if name in _PROVIDER_FAILURES:
        return provider_failed(exc)
    return InvalidUploadError(
        f"{operation} cannot be made: {exc}",
        bucket=where.bucket,
        key=where.key,
        diagnosis=Diagnosis(
            Cause.INVALID_CONFIGURATION,
            "botocore refused to build the request (endpoint rules, region or bucket)",
            (f"{name}: {exc}",),
            ("check the endpoint URL, the region and the bucket name",),
        ),
        last_exception=exc,
    )


def no_credentials(exc: BaseException | None = None, where: Where | None = None) -> UploadError:
    return InvalidUploadError(
        "no AWS credentials found: configure a profile, environment variables or an instance "
        "role, or pass a session with credentials",
        bucket=where.bucket if where else None,
        key=where.key if where else None,
        diagnosis=Diagnosis(
            Cause.NO_CREDENTIALS,
            "no credentials were found in the session's credential chain",
            (str(exc),) if exc is not None else (),
            (
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile "
                "(--profile, AWS_PROFILE), or run where an instance or task role applies",
            ),
        ),
        last_exception=exc,
    )


def provider_failed(exc: BaseException) -> CredentialRefreshError:
    return CredentialRefreshError(
        f"the credential provider failed: {type(exc).__name__}: {exc}",
        diagnosis=Diagnosis(
            Cause.CREDENTIAL_PROVIDER_FAILED,
            "the credential provider raised an error when credentials were needed",
            (f"{type(exc).__name__}: {exc}",),
            (
                "check what provides the credentials (a credentials= callable, "
                "credential_process, SSO login, assume-role): it must return keys",
            ),
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
    status: int, body: bytes, headers: Mapping[str, str], where: Where, operation: str
) -> S3RequestError:
    """An S3 error answer (status, XML body, lower-case headers) as an S3RequestError."""
    code = message = request_id = server_time = None
    if body:
        try:
            root = ET.fromstring(body)
            code = root.findtext("Code")
            message = root.findtext("Message")
            request_id = root.findtext("RequestId")
            server_time = root.findtext("ServerTime")
        except ET.ParseError:
            message = body[:200].decode("utf-8", "replace")
    error = s3_error(code, status, message or "", request_id, where, operation, None)
    read_answer_headers(error, headers, server_time)
    return error


def read_answer_headers(
    error: S3RequestError, headers: Mapping[str, str], server_time: str | None
) -> None:
    """The server's clock and its Retry-After, from an error answer (lower-case names)."""
    error.server_time = parse_http_date(headers.get("date")) or parse_http_date(server_time)
    retry_after = headers.get("retry-after")
    if retry_after:
        try:
            error.retry_after = max(0.0, float(retry_after))
        except ValueError:
            when = parse_http_date(retry_after)
            if when is not None and error.server_time is not None:
                error.retry_after = max(0.0, (when - error.server_time).total_seconds())


def s3_error(
    code: str | None,
    status: int | None,
    message: str,
    request_id: str | None,
    where: Where,
    operation: str,
    cause: BaseException | None,
) -> S3RequestError:
    diagnosis = diagnose_code(code, status, message)
    label = code or (f"HTTP {status}" if status else "error")
    text = f"{operation} failed: {label}"
    if message:
        text += f": {message}"
    return S3RequestError(
        text,
        code=code,
        status=status,
        request_id=request_id,
        bucket=where.bucket,
        key=where.key,
        upload_id=where.upload_id,
        part_number=where.part_number,
        diagnosis=diagnosis,
        last_exception=cause,
    )


def network_error(
    exc: BaseException, where: Where, operation: str, endpoint: str = ""
) -> S3RequestError:
    """A request that got no answer: refused, unresolvable, reset, timed out, bad TLS."""
    detail = str(exc) or type(exc).__name__
    place = urlsplit(endpoint).netloc or "the endpoint"
    refused = _in_chain(exc, ConnectionRefusedError)
    unresolved = _in_chain(exc, socket.gaierror)
    if _in_chain(exc, ssl.SSLCertVerificationError) or _named_in_chain(
        exc, "ClientConnectorCertificateError"
    ):
        diagnosis = Diagnosis(
            cause=Cause.NETWORK,
            summary="the server's TLS certificate could not be verified",
            evidence=(detail,),
            fixes=(
                "pass verify=<path to the CA bundle> for a private CA, or fix the endpoint URL",
            ),
            retryable=False,
        )
    elif refused or unresolved:
        diagnosis = Diagnosis(
            cause=Cause.NETWORK,
            summary=(
                f"nothing accepts connections at {place}"
                if refused
                else f"the host name of {place} cannot be resolved"
            ),
            evidence=(detail,),
            fixes=(
                "check the endpoint URL (--endpoint-url, AWS_ENDPOINT_URL) and that the "
                "server is running",
            ),
            retryable=True,
        )
    else:
        diagnosis = Diagnosis(
            cause=Cause.NETWORK,
            summary="the connection to S3 failed or timed out",
            evidence=(detail,),
            fixes=("check the endpoint and network; the request can be retried",),
            retryable=True,
        )
    error = S3RequestError(
        f"{operation} failed: network error: {detail}",
        bucket=where.bucket,
        key=where.key,
        upload_id=where.upload_id,
        part_number=where.part_number,
        diagnosis=diagnosis,
        last_exception=exc,
    )
    error.unreachable = refused or unresolved
    return error


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        nested = getattr(exc, "os_error", None)  # aiohttp's ClientConnectorError
        if isinstance(nested, BaseException) and nested not in seen:
            seen.append(nested)
        exc = exc.__cause__ or exc.__context__
    return seen


def _in_chain(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(e, kind) for e in _chain(exc))


def _named_in_chain(exc: BaseException, name: str) -> bool:
    return any(type(e).__name__ == name for e in _chain(exc))


def parse_http_date(value: str | None) -> datetime.datetime | None:
    """A ``Date`` header (or S3's ISO ``ServerTime``) as naive UTC; None if absent or bad."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(datetime.UTC).replace(tzinfo=None)
    return parsed
