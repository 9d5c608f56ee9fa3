"""Name the cause of an S3 failure and what fixes it.

This module knows S3's error codes; it does no I/O. :func:`diagnose` accepts a botocore
``ClientError``, an :class:`~resilient_s3.UploadError`, or the parts of a raw HTTP answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Cause(StrEnum):
    """Why a request failed. Members compare equal to their string values."""

    PRESIGNED_URL_EXPIRED = "presigned-url-expired"
    CLOCK_SKEW = "clock-skew"
    CREDENTIALS_EXPIRED = "credentials-expired"
    SIGNATURE_MISMATCH = "signature-mismatch"
    INVALID_ACCESS_KEY = "invalid-access-key"
    REGION_MISMATCH = "region-mismatch"
    THROTTLED = "throttled"
    PERMISSION_DENIED = "permission-denied"
    EXPLICIT_DENY = "explicit-deny"
    KMS_DENIED = "kms-denied"
    ENTITY_TOO_LARGE = "entity-too-large"
    ENTITY_TOO_SMALL = "entity-too-small"
    NO_SUCH_BUCKET = "no-such-bucket"
    NO_SUCH_UPLOAD = "no-such-upload"
    SIGV2_UNSUPPORTED = "sigv2-unsupported"
    NETWORK = "network"
    SERVER_ERROR = "server-error"
    CREDENTIAL_PROVIDER_FAILED = "credential-provider-failed"
    """The credential provider (a profile's process, SSO, assume-role, a ``credentials=``
    callable) raised when credentials were needed."""
    NO_CREDENTIALS = "no-credentials"
    """No credentials were found anywhere in the chain."""
    INVALID_CONFIGURATION = "invalid-configuration"
    """The endpoint URL, profile or region cannot work as given; nothing was sent."""
    INVALID_REQUEST = "invalid-request"
    """S3 refused the request's parameters (bucket name, argument values)."""
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A named cause, what shows it, and what a person can do about it."""

    cause: Cause
    summary: str
    evidence: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()
    retryable: bool = False


_BY_CODE: dict[str, tuple[Cause, str, tuple[str, ...], bool]] = {
    "RequestTimeTooSkewed": (
        Cause.CLOCK_SKEW,
        "the request's time differs from the server's by more than 15 minutes",
        ("synchronise this machine's clock (NTP/chrony)",),
        True,
    ),
    "RequestInTheFuture": (
        Cause.CLOCK_SKEW,
        "the request is dated in the future",
        ("synchronise this machine's clock (NTP/chrony)",),
        True,
    ),
    "ExpiredToken": (
        Cause.CREDENTIALS_EXPIRED,
        "the temporary credentials (session token) have expired",
        ("refresh the credentials; use a session whose provider refreshes them",),
        True,
    ),
    "TokenRefreshRequired": (
        Cause.CREDENTIALS_EXPIRED,
        "the session token must be refreshed",
        ("refresh the credentials",),
        True,
    ),
    "InvalidToken": (
        Cause.CREDENTIALS_EXPIRED,
        "the session token is malformed or no longer valid",
        ("obtain new temporary credentials",),
        True,
    ),
    "SignatureDoesNotMatch": (
        Cause.SIGNATURE_MISMATCH,
        "the signature S3 computed differs from the one sent",
        (
            "check the secret access key",
            "a client must send exactly the headers that were signed (e.g. Content-Type)",
        ),
        False,
    ),
    "InvalidAccessKeyId": (
        Cause.INVALID_ACCESS_KEY,
        "the access key id does not exist for this endpoint",
        ("check the access key id, and that the endpoint belongs to the same account/server",),
        False,
    ),
    "AuthorizationHeaderMalformed": (
        Cause.REGION_MISMATCH,
        "the request was signed for a different region than the bucket's",
        ("pass the bucket's region as region_name",),
        False,
    ),
    "PermanentRedirect": (
        Cause.REGION_MISMATCH,
        "the bucket lives in another region",
        ("pass the bucket's region as region_name",),
        False,
    ),
    "SlowDown": (
        Cause.THROTTLED,
        "S3 asked the client to slow down",
        ("lower max_concurrency, or spread keys over more prefixes",),
        True,
    ),
    "ServiceUnavailable": (
        Cause.THROTTLED,
        "the service is temporarily unavailable",
        ("retry later; lower max_concurrency",),
        True,
    ),
    "TooManyRequests": (
        Cause.THROTTLED,
        "too many requests",
        ("lower max_concurrency",),
        True,
    ),
    "AccessDenied": (
        Cause.PERMISSION_DENIED,
        "the credentials are not allowed to perform this request",
        (
            "grant s3:PutObject (and s3:AbortMultipartUpload, s3:ListMultipartUploadParts) "
            "on the bucket/key to these credentials",
        ),
        False,
    ),
    "KMS.AccessDeniedException": (
        Cause.KMS_DENIED,
        "the credentials may not use the KMS key that encrypts this object",
        ("grant kms:GenerateDataKey and kms:Decrypt on the key",),
        False,
    ),
    "EntityTooLarge": (
        Cause.ENTITY_TOO_LARGE,
        "the upload is larger than the server allows",
        ("use multipart upload for objects above 5 GiB",),
        False,
    ),
    "EntityTooSmall": (
        Cause.ENTITY_TOO_SMALL,
        "a part other than the last is smaller than 5 MiB",
        ("use parts of at least 5 MiB",),
        False,
    ),
    "NoSuchBucket": (
        Cause.NO_SUCH_BUCKET,
        "the bucket does not exist",
        ("check the bucket name and the endpoint/region",),
        False,
    ),
    "NoSuchUpload": (
        Cause.NO_SUCH_UPLOAD,
        "the multipart upload does not exist (completed, aborted or expired)",
        ("start a new upload",),
        False,
    ),
    "InvalidBucketName": (
        Cause.INVALID_REQUEST,
        "S3 does not accept this bucket name",
        ("use a bucket name of 3-63 lowercase letters, digits, dots and hyphens",),
        False,
    ),
    "KeyTooLongError": (
        Cause.INVALID_REQUEST,
        "the object key is longer than S3 accepts",
        ("use a key of at most 1024 bytes in UTF-8",),
        False,
    ),
    "InvalidArgument": (
        Cause.INVALID_REQUEST,
        "S3 refused an argument of the request",
        ("check the extra_args and settings named in the message",),
        False,
    ),
    "InternalError": (Cause.SERVER_ERROR, "the server failed internally", ("retry",), True),
    "RequestTimeout": (
        Cause.NETWORK,
        "the server did not receive the request body in time",
        ("retry; check the network",),
        True,
    ),
}

_BY_STATUS: dict[int, Cause] = {429: Cause.THROTTLED, 503: Cause.THROTTLED}


def diagnose_code(code: str | None, status: int | None, message: str = "") -> Diagnosis:
    """The diagnosis for an S3 error code (and HTTP status when the code is unknown)."""
    evidence = tuple(
        part
        for part in (
            f"error code {code}" if code else "",
            f"HTTP status {status}" if status else "",
            f"message: {message}" if message else "",
        )
        if part
    )
    if code == "AccessDenied" and "expired" in message.lower():
        return Diagnosis(
            Cause.PRESIGNED_URL_EXPIRED,
            "the presigned URL has expired",
            evidence,
            ("ask the server for a new URL",),
            False,
        )
    if code == "AccessDenied" and "explicit deny" in message.lower():
        return Diagnosis(
            Cause.EXPLICIT_DENY,
            "a policy explicitly denies this request",
            evidence,
            ("find the Deny statement in the bucket, identity, SCP or VPC endpoint policy",),
            False,
        )
    if code is not None and code in _BY_CODE:
        cause, summary, fixes, retryable = _BY_CODE[code]
        return Diagnosis(cause, summary, evidence, fixes, retryable)
    if status is not None:
        if status in _BY_STATUS:
            return Diagnosis(_BY_STATUS[status], "the server is throttling", evidence, (), True)
        if status >= 500:
            return Diagnosis(Cause.SERVER_ERROR, "the server failed", evidence, ("retry",), True)
    return Diagnosis(Cause.UNKNOWN, message or "unrecognised error", evidence, (), False)


def diagnose(error: BaseException) -> Diagnosis:
    """Diagnose a botocore ``ClientError`` or a resilient-s3 ``UploadError``."""
    from ._exceptions import UploadError

    if isinstance(error, UploadError) and error.diagnosis is not None:
        return error.diagnosis
    response: Any = getattr(error, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        meta = response.get("ResponseMetadata", {})
        return diagnose_code(err.get("Code"), meta.get("HTTPStatusCode"), err.get("Message", ""))
    return Diagnosis(Cause.UNKNOWN, str(error) or type(error).__name__)
