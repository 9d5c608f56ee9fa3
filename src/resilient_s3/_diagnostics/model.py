"""The words of a diagnosis: a named cause, what shows it, and what fixes it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
    CHECKSUM_MISMATCH = "checksum-mismatch"
    """S3 computed another checksum (or payload hash) than the request carried."""
    CREDENTIAL_PROVIDER_FAILED = "credential-provider-failed"
    """The credential provider (a profile's process, SSO, assume-role, a ``credentials=``
    callable) raised when credentials were needed."""
    NO_CREDENTIALS = "no-credentials"
    """No credentials were found anywhere in the chain."""
    INVALID_CONFIGURATION = "invalid-configuration"
    """The endpoint URL, profile or region cannot work as given; nothing was sent."""
    INVALID_REQUEST = "invalid-request"
    """S3 refused the request's parameters (bucket name, argument values)."""
    CORS_REFUSED = "cors-refused"
    """A browser's CORS preflight was refused by the bucket's CORS rules (or it has none)."""
    HEADERS_NOT_SIGNED = "headers-not-signed"
    """The request carried ``x-amz-*`` headers its signature does not cover."""
    PRECONDITION_FAILED = "precondition-failed"
    """A condition of the request did not hold (``If-None-Match: *`` and the key exists)."""
    INVALID_TOKEN = "invalid-token"
    """The session token is malformed, truncated, or not the access key's."""
    POST_POLICY_VIOLATION = "post-policy-violation"
    """A browser form upload broke a condition of its POST policy."""
    PUBLIC_ACCESS_BLOCKED = "public-access-blocked"
    """A public ACL or policy was refused by the bucket's Block Public Access settings."""
    KMS_KEY_UNUSABLE = "kms-key-unusable"
    """The KMS key does not exist (here), is disabled, or is pending deletion."""
    PRESIGNED_URL_INVALID = "presigned-url-invalid"
    """A presigned URL is malformed: parameters missing, a lifetime above 7 days."""
    OBJECT_LOCKED = "object-locked"
    """The object version is protected by Object Lock (a retention period or a legal hold):
    S3 refuses to delete it or to shorten its retention."""
    SSE_C_KEY_MISMATCH = "sse-c-key-mismatch"
    """The object (or the multipart upload) is encrypted with a customer-provided key (SSE-C),
    and the request did not send that key."""
    INVALID_PART = "invalid-part"
    """CompleteMultipartUpload named a part S3 does not have with that ETag, or listed the
    parts out of order."""
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A named cause, what shows it, and what a person can do about it.

    ``retryable`` says whether sending the request again can succeed, after the fix the cause
    calls for (fresh credentials, the server's clock, a new presigned URL): the retry
    classifier's verdict for the same answer, unless the request says more than the answer
    (a BadDigest on a URL whose checksum was signed: the same bytes fail again).
    """

    cause: Cause
    summary: str
    evidence: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()
    retryable: bool = False
