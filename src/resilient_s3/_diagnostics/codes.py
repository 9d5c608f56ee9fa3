"""The one table of S3's error answers: for each, the cause, what to do about it, and what to
tell a person.

Both decisions read it: :func:`classify` (does the retrier send the request again, and after
which fix) and :func:`resilient_s3.diagnose` (the cause, summary and fixes a person reads; its
``retryable`` is the classifier's verdict). The codes are the union of what AWS S3, MinIO and
SeaweedFS answer; botocore's standard mode misses several (a bare 429, ExpiredToken,
RequestTimeTooSkewed, BadDigest). Pure: no I/O, nothing else of the library imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .model import Cause


class Action(StrEnum):
    """What to do about a failed request."""

    BACKOFF = "backoff"
    """The server is throttling: wait (longer), send fewer requests at once, retry."""
    RETRY = "retry"
    """A transient failure: wait briefly and send the same body again."""
    REFRESH_CREDENTIALS = "refresh-credentials"
    """The credentials expired: refresh them, re-sign, retry."""
    CORRECT_CLOCK = "correct-clock"
    """The local clock is off: learn the offset from the server's Date, re-sign, retry."""
    REREAD = "reread"
    """The server received other bytes than were hashed: read the part again, retry once."""
    RENEW_URL = "renew-url"
    """A presigned URL expired: ask for a new one, retry."""
    FAIL = "fail"
    """Retrying cannot help."""


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    cause: str
    """A short name for counting retries by cause, e.g. ``"throttled"``."""

    @property
    def retryable(self) -> bool:
        return self.action is not Action.FAIL


@dataclass(frozen=True, slots=True)
class Rule:
    """What one S3 answer means."""

    cause: Cause
    action: Action
    summary: str
    fixes: tuple[str, ...] = ()
    label: str = ""
    """What a retry is counted as; the cause's name unless set."""

    @property
    def verdict(self) -> Verdict:
        if self.action is Action.FAIL:
            return FAIL
        return Verdict(self.action, self.label or self.cause.value)


FAIL = Verdict(Action.FAIL, "fail")
NETWORK = Verdict(Action.RETRY, "network")

_SYNC_CLOCK = "synchronise this machine's clock (NTP, chrony); resilient-s3 signs with the offset"
_SLOW_DOWN = (
    "lower max_concurrency, or spread keys over more prefixes (S3 scales per prefix)",
    "it is retried with backoff and fewer requests in flight",
)
_SERVER = ("it is retried; if it persists, the service is unwell",)

_THROTTLED = Rule(Cause.THROTTLED, Action.BACKOFF, "S3 asked the client to slow down", _SLOW_DOWN)
_INTERNAL = Rule(Cause.SERVER_ERROR, Action.RETRY, "the server failed internally", _SERVER)
_EXPIRED_TOKEN = Rule(
    Cause.CREDENTIALS_EXPIRED,
    Action.REFRESH_CREDENTIALS,
    "the temporary credentials (session token) have expired",
    (
        "use a session whose provider refreshes them (a profile with a role, SSO, a "
        "credentials= callable); resilient-s3 refreshes them and retries",
    ),
)
_SKEWED = Rule(
    Cause.CLOCK_SKEW,
    Action.CORRECT_CLOCK,
    "the request's time differs from the server's by more than S3 allows (15 minutes)",
    (_SYNC_CLOCK,),
)
_BAD_DIGEST = Rule(
    Cause.CHECKSUM_MISMATCH,
    Action.REREAD,
    "S3 computed another checksum of the body than the request carried: the bytes changed "
    "in transit, or the file changed while it was read",
    ("it is read again and re-sent once; if the file is being written to, upload a copy",),
    label="bad-digest",
)
_REGION = ("pass the bucket's region as region_name (or --region); `resilient-s3 doctor` finds it",)

CODES: dict[str, Rule] = {
    # Throttling, by AWS, MinIO (TooManyRequests, 429) and SeaweedFS (its own 503 codes).
    **dict.fromkeys(
        (
            "SlowDown",
            "ServiceUnavailable",
            "Throttling",
            "ThrottlingException",
            "ThrottledException",
            "RequestThrottled",
            "RequestThrottledException",
            "TooManyRequests",
            "TooManyRequestsException",
            "RequestLimitExceeded",
            "BandwidthLimitExceeded",
            "SlowDownRead",
            "SlowDownWrite",
            "ErrTooManyRequest",
            "ErrRequestBytesExceed",
            "XMinioServerNotInitialized",
        ),
        _THROTTLED,
    ),
    # Transient: the same request can succeed when sent again.
    "InternalError": _INTERNAL,
    "RequestTimeout": Rule(
        Cause.NETWORK,
        Action.RETRY,
        "the server did not receive the request body in time",
        ("it is retried; a slow or lossy link causes it",),
        label="server-error",
    ),
    "RequestTimeoutException": Rule(
        Cause.NETWORK,
        Action.RETRY,
        "the request timed out at the server",
        ("it is retried; a slow or lossy link causes it",),
        label="server-error",
    ),
    "IncompleteBody": Rule(
        Cause.NETWORK,
        Action.RETRY,
        "the server received fewer bytes than the request announced",
        ("it is retried; a connection cut mid-body causes it",),
        label="server-error",
    ),
    "OperationAborted": Rule(
        Cause.SERVER_ERROR,
        Action.RETRY,
        "a conflicting operation on the bucket or key is in progress",
        ("it is retried",),
    ),
    "PriorRequestNotComplete": Rule(
        Cause.SERVER_ERROR,
        Action.RETRY,
        "an earlier request to the same resource is still running",
        ("it is retried",),
    ),
    **dict.fromkeys(("ExpiredToken", "ExpiredTokenException"), _EXPIRED_TOKEN),
    "TokenRefreshRequired": Rule(
        Cause.CREDENTIALS_EXPIRED,
        Action.REFRESH_CREDENTIALS,
        "the session token must be refreshed",
        ("resilient-s3 refreshes it and retries; a provider that cannot refresh fails",),
    ),
    "InvalidToken": Rule(
        Cause.CREDENTIALS_EXPIRED,
        Action.REFRESH_CREDENTIALS,
        "the session token is malformed or no longer valid",
        ("obtain new temporary credentials; check that the token belongs to the access key",),
    ),
    **dict.fromkeys(("RequestTimeTooSkewed", "RequestExpired"), _SKEWED),
    "RequestInTheFuture": Rule(
        Cause.CLOCK_SKEW,
        Action.CORRECT_CLOCK,
        "the request is dated in the future",
        (_SYNC_CLOCK,),
    ),
    **dict.fromkeys(("BadDigest", "XAmzContentSHA256Mismatch"), _BAD_DIGEST),
    # Permanent: retrying cannot help.
    "SignatureDoesNotMatch": Rule(
        Cause.SIGNATURE_MISMATCH,
        Action.FAIL,
        "the signature S3 computed differs from the one sent",
        (
            "check the secret access key",
            "a client must send exactly the headers that were signed (e.g. Content-Type)",
        ),
    ),
    "InvalidAccessKeyId": Rule(
        Cause.INVALID_ACCESS_KEY,
        Action.FAIL,
        "the access key id does not exist for this endpoint",
        ("check the access key id, and that the endpoint belongs to the same account/server",),
    ),
    "AuthorizationHeaderMalformed": Rule(
        Cause.REGION_MISMATCH,
        Action.FAIL,
        "the request was signed for a different region than the bucket's",
        _REGION,
    ),
    "PermanentRedirect": Rule(
        Cause.REGION_MISMATCH, Action.FAIL, "the bucket lives in another region", _REGION
    ),
    "AccessDenied": Rule(
        Cause.PERMISSION_DENIED,
        Action.FAIL,
        "the credentials are not allowed to perform this request",
        (
            "grant s3:PutObject (and s3:AbortMultipartUpload, s3:ListMultipartUploadParts) "
            "on the bucket/key to these credentials",
        ),
    ),
    "KMS.AccessDeniedException": Rule(
        Cause.KMS_DENIED,
        Action.FAIL,
        "the credentials may not use the KMS key that encrypts this object",
        ("grant kms:GenerateDataKey and kms:Decrypt on the key",),
    ),
    "EntityTooLarge": Rule(
        Cause.ENTITY_TOO_LARGE,
        Action.FAIL,
        "the upload is larger than the server allows",
        ("use multipart upload for objects above 5 GiB",),
    ),
    "EntityTooSmall": Rule(
        Cause.ENTITY_TOO_SMALL,
        Action.FAIL,
        "a part other than the last is smaller than 5 MiB",
        ("use parts of at least 5 MiB",),
    ),
    "NoSuchBucket": Rule(
        Cause.NO_SUCH_BUCKET,
        Action.FAIL,
        "the bucket does not exist",
        ("check the bucket name and the endpoint/region",),
    ),
    "NoSuchUpload": Rule(
        Cause.NO_SUCH_UPLOAD,
        Action.FAIL,
        "the multipart upload does not exist (completed, aborted or expired)",
        ("start a new upload",),
    ),
    "InvalidBucketName": Rule(
        Cause.INVALID_REQUEST,
        Action.FAIL,
        "S3 does not accept this bucket name",
        ("use a bucket name of 3-63 lowercase letters, digits, dots and hyphens",),
    ),
    "KeyTooLongError": Rule(
        Cause.INVALID_REQUEST,
        Action.FAIL,
        "the object key is longer than S3 accepts",
        ("use a key of at most 1024 bytes in UTF-8",),
    ),
    "InvalidArgument": Rule(
        Cause.INVALID_REQUEST,
        Action.FAIL,
        "S3 refused an argument of the request",
        ("check the extra_args and settings named in the message",),
    ),
}

STATUSES: dict[int, Rule] = {
    429: Rule(Cause.THROTTLED, Action.BACKOFF, "too many requests", _SLOW_DOWN),
    503: Rule(Cause.THROTTLED, Action.BACKOFF, "the server is throttling", _SLOW_DOWN),
    500: _INTERNAL,
    502: Rule(Cause.SERVER_ERROR, Action.RETRY, "a gateway in front of S3 failed", _SERVER),
    504: Rule(Cause.SERVER_ERROR, Action.RETRY, "a gateway in front of S3 timed out", _SERVER),
}

_OTHER_SERVER_ERROR = Rule(
    Cause.SERVER_ERROR,
    Action.FAIL,
    "the server failed in a way retrying does not fix (e.g. 501 Not Implemented)",
    ("check that the server supports this request",),
)

MESSAGES: tuple[tuple[str, str, Rule], ...] = (
    (
        "AccessDenied",
        "request has expired",
        Rule(
            Cause.PRESIGNED_URL_EXPIRED,
            Action.RENEW_URL,
            "the presigned URL has expired",
            ("ask the server for a new URL; sign URLs for as long as the upload takes",),
        ),
    ),
    (
        "AccessDenied",
        "explicit deny",
        Rule(
            Cause.EXPLICIT_DENY,
            Action.FAIL,
            "a policy explicitly denies this request",
            ("find the Deny statement in the bucket, identity, SCP or VPC endpoint policy",),
        ),
    ),
)
"""(code, text in the message, rule): answers whose code alone says too little."""


def rule_for(code: str | None, status: int | None, message: str = "") -> Rule | None:
    """The table's rule for an S3 answer, or None when it names nothing the table knows."""
    lowered = message.lower()
    for rule_code, text, rule in MESSAGES:
        if code == rule_code and text in lowered:
            return rule
    if code is not None and code in CODES:
        return CODES[code]
    if status is not None:
        if status in STATUSES:
            return STATUSES[status]
        if status >= 500:
            return _OTHER_SERVER_ERROR
    return None


def classify(
    code: str | None, status: int | None, *, message: str = "", network: bool = False
) -> Verdict:
    """The verdict for a failure: an S3 ``code`` (None if the answer had none), the HTTP
    ``status`` (None if there was no answer), its ``message``, ``network`` when the connection
    failed before any answer."""
    if network:
        return NETWORK
    rule = rule_for(code, status, message)
    return rule.verdict if rule is not None else FAIL
