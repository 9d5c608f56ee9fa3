"""The one table of S3's error answers: for each, the cause, what to do about it, and what to
tell a person.

Both decisions read it: :func:`classify` (does the retrier send the request again, and after
which fix) and :func:`resilient_s3.diagnose` (the cause, summary and fixes a person reads; its
``retryable`` is the classifier's verdict). The codes are the union of what AWS S3, MinIO and
SeaweedFS answer; botocore's standard mode misses several (a bare 429, ExpiredToken,
RequestTimeTooSkewed, BadDigest). Pure: no I/O, nothing else of the library imported.

Over 500 lines because it is one table, a row per answer S3 gives, with its words for a person:
split, the two decisions could drift apart again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .model import Cause, Diagnosis


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

    def diagnosis(self, *evidence: str, summary: str | None = None) -> Diagnosis:
        return Diagnosis(
            self.cause, summary or self.summary, evidence, self.fixes, self.verdict.retryable
        )


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
_KMS_DENIED = Rule(
    Cause.KMS_DENIED,
    Action.FAIL,
    "the credentials may not use the KMS key that encrypts the object",
    (
        "grant kms:GenerateDataKey (and kms:Decrypt, which multipart uploads need) on the key, "
        "in the key policy or the caller's IAM policy",
    ),
)
_OBJECT_LOCKED = Rule(
    Cause.OBJECT_LOCKED,
    Action.FAIL,
    "the object version is protected by Object Lock (a retention period or a legal hold): "
    "S3 refuses to delete it, or to shorten or remove its retention",
    (
        "wait for its retain-until date, or remove its legal hold (s3:PutObjectLegalHold); "
        "`aws s3api get-object-retention` and `get-object-legal-hold` show which applies",
        "in GOVERNANCE mode, a caller allowed s3:BypassGovernanceRetention may send "
        "x-amz-bypass-governance-retention: true; COMPLIANCE mode cannot be bypassed, not even "
        "by the root user",
        "to replace the object, upload it again: in a versioned bucket the upload adds a new "
        "version and the locked one stays",
    ),
)
_SSE_C = Rule(
    Cause.SSE_C_KEY_MISMATCH,
    Action.FAIL,
    "the object (or the multipart upload) is encrypted with a customer-provided key (SSE-C), "
    "and the request did not send that key",
    (
        "send the key it was encrypted with, on every request that reads it or adds a part: "
        "extra_args SSECustomerAlgorithm='AES256' and SSECustomerKey (the same 32-byte key)",
        "a key lost is data lost: S3 keeps no copy of it; an object can only be re-encrypted "
        "with a new key by a copy that sends the old one (CopySourceSSECustomerKey)",
    ),
)
_LIST_PARTS = (
    "complete with the parts S3 has: read their numbers and ETags with ListParts "
    "(Presigner.list_parts, `aws s3api list-parts`) and send those, in ascending part number "
    "order"
)
_PRECONDITION = Rule(
    Cause.PRECONDITION_FAILED,
    Action.FAIL,
    "a condition of the request did not hold: with If-None-Match: *, an object exists at "
    "the key already",
    ("upload to another key, or allow overwriting (overwrite=True, the default)",),
)

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
        Cause.INVALID_TOKEN,
        Action.REFRESH_CREDENTIALS,
        "the session token is malformed, truncated, or not the one issued with this access key",
        (
            "set AWS_SESSION_TOKEN together with the access key and secret it was issued with "
            "(a stale AWS_SESSION_TOKEN next to long-term keys causes this); fresh temporary "
            "credentials are fetched and the request retried where the provider can refresh",
        ),
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
    "AuthorizationQueryParametersError": Rule(
        Cause.PRESIGNED_URL_INVALID,
        Action.FAIL,
        "the presigned URL's signing parameters are malformed or out of range",
        (
            "sign the URL again with a SigV4 signer (Presigner, botocore); X-Amz-Expires must "
            "be below 604800 seconds (7 days)",
        ),
    ),
    "IllegalLocationConstraintException": Rule(
        Cause.REGION_MISMATCH,
        Action.FAIL,
        "the bucket's location constraint does not match the region of the endpoint",
        _REGION,
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
    "KMS.AccessDeniedException": _KMS_DENIED,
    **dict.fromkeys(
        (
            "KMS.NotFoundException",
            "KMS.DisabledException",
            "KMS.KMSInvalidStateException",
            "KMS.InvalidKeyUsageException",
            "KMSKeyNotFound",
        ),
        Rule(
            Cause.KMS_KEY_UNUSABLE,
            Action.FAIL,
            "the KMS key named for encryption cannot be used: it does not exist in this "
            "region, is disabled, or is pending deletion",
            (
                "name a KMS key of the bucket's region (SSEKMSKeyId), or enable the key; "
                "without SSEKMSKeyId the bucket's default encryption applies",
            ),
        ),
    ),
    "AccessForbidden": Rule(
        Cause.CORS_REFUSED,
        Action.FAIL,
        "the bucket's CORS rules refuse this browser request",
        (
            "add a CORS rule for the page's origin, the method and the headers it sends, "
            "exposing ETag: `resilient-s3 cors check s3://BUCKET --origin ORIGIN --print-rules`",
        ),
    ),
    "PreconditionFailed": _PRECONDITION,
    "ConditionalRequestConflict": Rule(
        Cause.PRECONDITION_FAILED,
        Action.RETRY,
        "a conditional write raced another operation on the same key",
        ("it is retried; the condition then holds or fails for good",),
        label="conflict",
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
    "InvalidPart": Rule(
        Cause.INVALID_PART,
        Action.FAIL,
        "CompleteMultipartUpload named a part S3 does not have: the part was not uploaded, "
        "or the ETag sent for it is not the one S3 returned when it was",
        (_LIST_PARTS,),
    ),
    "InvalidPartOrder": Rule(
        Cause.INVALID_PART,
        Action.FAIL,
        "CompleteMultipartUpload listed the parts out of order: S3 takes them in ascending "
        "part number order",
        (_LIST_PARTS,),
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
    **dict.fromkeys(
        (
            "InvalidRequest",
            "InvalidDigest",
            "MissingContentLength",
            "MissingSecurityHeader",
            "MalformedXML",
            "InvalidStorageClass",
            "InvalidEncryptionAlgorithmError",
            "MethodNotAllowed",
        ),
        Rule(
            Cause.INVALID_REQUEST,
            Action.FAIL,
            "S3 refused the request as malformed or inconsistent",
            ("check the extra_args and settings named in the message",),
        ),
    ),
    "NotImplemented": Rule(
        Cause.INVALID_REQUEST,
        Action.FAIL,
        "the server does not implement something the request asked for (a header or "
        "feature; S3-compatible servers lack some)",
        ("drop the header named in the answer (e.g. overwrite=False on an old server)",),
    ),
    **dict.fromkeys(
        ("AllAccessDisabled", "AccountProblem"),
        Rule(
            Cause.PERMISSION_DENIED,
            Action.FAIL,
            "the account or the bucket is disabled for all access",
            ("contact the bucket owner, or AWS Support",),
        ),
    ),
}

STATUSES: dict[int, Rule] = {
    301: Rule(
        Cause.REGION_MISMATCH,
        Action.FAIL,
        "the bucket lives in another region (the x-amz-bucket-region header names it)",
        _REGION,
    ),
    403: Rule(
        Cause.PERMISSION_DENIED,
        Action.FAIL,
        "refused, and the answer carries no reason (a HEAD answer has no body)",
        (
            "send the same request as a GET or PUT to read S3's reason, or run "
            "`resilient-s3 doctor s3://BUCKET/PREFIX`",
        ),
    ),
    412: _PRECONDITION,
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
            (
                "ask the server for a new URL (PresignedUploader does it by itself); sign URLs "
                "for as long as the upload takes at its slowest",
            ),
        ),
    ),
    (
        "AccessDenied",
        "policy expired",
        Rule(
            Cause.PRESIGNED_URL_EXPIRED,
            Action.FAIL,
            "the POST policy of the browser form has expired",
            ("ask the server for a new form (presign_post) just before the upload",),
        ),
    ),
    (
        "AccessDenied",
        "request is not yet valid",
        Rule(
            Cause.CLOCK_SKEW,
            Action.FAIL,
            "the presigned URL is dated in the future: the signer's clock is ahead",
            (
                "synchronise the signing machine's clock; Presigner signs with the server's "
                "time, learned when it opens",
            ),
        ),
    ),
    (
        "AccessDenied",
        "headers present in the request which were not signed",
        Rule(
            Cause.HEADERS_NOT_SIGNED,
            Action.FAIL,
            "the request carried x-amz-* headers that its signature does not cover",
            (
                "sign them too (pass them to the presigner so they enter X-Amz-SignedHeaders), "
                "or do not send them",
            ),
        ),
    ),
    (
        "AccessDenied",
        "invalid according to policy",
        Rule(
            Cause.POST_POLICY_VIOLATION,
            Action.FAIL,
            "the form upload breaks a condition of its POST policy",
            (
                "send the fields exactly as presign_post returned them, and a file within the "
                "policy's size range and Content-Type",
            ),
        ),
    ),
    (
        "AccessDenied",
        "block public access",
        Rule(
            Cause.PUBLIC_ACCESS_BLOCKED,
            Action.FAIL,
            "the bucket's Block Public Access settings refuse a public ACL or policy",
            (
                "drop the public ACL (e.g. ACL=public-read in extra_args); serve public files "
                "through a bucket policy on a bucket meant for it, or CloudFront",
            ),
        ),
    ),
    (
        "AccessDenied",
        "query-string authentication",
        Rule(
            Cause.PRESIGNED_URL_INVALID,
            Action.FAIL,
            "the presigned URL lacks signing parameters",
            ("send the whole URL as the presigner made it (all its query parameters)",),
        ),
    ),
    ("AccessDenied", "protected by object lock", _OBJECT_LOCKED),
    ("AccessDenied", "customer provided keys must provide the correct secret key", _SSE_C),
    ("InvalidRequest", "encryption parameters did not match the ones used originally", _SSE_C),
    ("InvalidRequest", "must include the appropriate encryption parameters", _SSE_C),
    ("InvalidRequest", "correct parameters must be provided to retrieve the object", _SSE_C),
    ("AccessDenied", "kms:", _KMS_DENIED),
    (
        "AccessDenied",
        "explicit deny",
        Rule(
            Cause.EXPLICIT_DENY,
            Action.FAIL,
            "a policy explicitly denies this request",
            (
                "find the Deny statement in the bucket, identity, session, boundary, SCP or "
                "VPC endpoint policy",
            ),
        ),
    ),
    (
        "InvalidRequest",
        "authorization mechanism you have provided is not supported",
        Rule(
            Cause.SIGV2_UNSUPPORTED,
            Action.FAIL,
            "the request was signed with Signature Version 2, which S3 no longer accepts here",
            (
                "sign with SigV4: botocore.config.Config(signature_version='s3v4'), or "
                "resilient-s3's Presigner",
            ),
        ),
    ),
    (
        "AuthorizationQueryParametersError",
        "is wrong; expecting",
        Rule(
            Cause.REGION_MISMATCH,
            Action.FAIL,
            "the presigned URL was signed for a different region than the bucket's",
            ("sign URLs for the bucket's region: Presigner(region_name=...)",),
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


_CHECK_ENDPOINT = (
    "check the endpoint URL (--endpoint-url, AWS_ENDPOINT_URL) and that the server is running",
)

WITHOUT_ANSWER: dict[str, Rule] = {
    "connection-refused": Rule(
        Cause.NETWORK,
        Action.RETRY,
        "nothing accepts connections at the endpoint",
        _CHECK_ENDPOINT,
        label="network",
    ),
    "host-unresolved": Rule(
        Cause.NETWORK,
        Action.RETRY,
        "the endpoint's host name cannot be resolved",
        _CHECK_ENDPOINT,
        label="network",
    ),
    "tls-untrusted": Rule(
        Cause.NETWORK,
        Action.FAIL,
        "the server's TLS certificate could not be verified",
        ("pass verify=<path to the CA bundle> for a private CA, or fix the endpoint URL",),
    ),
    "connection-failed": Rule(
        Cause.NETWORK,
        Action.RETRY,
        "the connection to S3 failed or timed out",
        ("check the endpoint and network; the request can be retried",),
        label="network",
    ),
    "no-credentials": Rule(
        Cause.NO_CREDENTIALS,
        Action.FAIL,
        "no credentials were found in the session's credential chain",
        (
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile "
            "(--profile, AWS_PROFILE), or run where an instance or task role applies",
        ),
    ),
    "credential-provider-failed": Rule(
        Cause.CREDENTIAL_PROVIDER_FAILED,
        Action.FAIL,
        "the credential provider raised an error when credentials were needed",
        (
            "check what provides the credentials (a credentials= callable, "
            "credential_process, SSO login, assume-role): it must return keys",
        ),
    ),
    "profile-not-found": Rule(
        Cause.INVALID_CONFIGURATION,
        Action.FAIL,
        "the named profile does not exist",
        (
            "check the profile name (--profile, AWS_PROFILE); "
            "`aws configure list-profiles` lists the ones there are",
        ),
    ),
    "endpoint-url-invalid": Rule(
        Cause.INVALID_CONFIGURATION,
        Action.FAIL,
        "the endpoint URL has no http:// or https:// scheme, or no host",
        ("give the scheme, e.g. http://127.0.0.1:9000",),
    ),
    "session-invalid": Rule(
        Cause.INVALID_CONFIGURATION,
        Action.FAIL,
        "botocore refused the session's configuration",
        ("check the profile, region and endpoint settings",),
    ),
    "request-unbuildable": Rule(
        Cause.INVALID_CONFIGURATION,
        Action.FAIL,
        "botocore refused to build the request (endpoint rules, region or bucket)",
        ("check the endpoint URL, the region and the bucket name",),
    ),
}
"""Failures with no S3 answer to read: the network, the session, the credential chain."""

SDK_EXCEPTIONS: dict[str, str] = {
    **dict.fromkeys(("NoCredentialsError", "PartialCredentialsError"), "no-credentials"),
    **dict.fromkeys(
        (
            "CredentialRetrievalError",
            "SSOError",
            "SSOTokenLoadError",
            "TokenRetrievalError",
            "UnauthorizedSSOTokenError",
            "InvalidConfigError",
            "RefreshWithMFAUnsupportedError",
            "MetadataRetrievalError",
        ),
        "credential-provider-failed",
    ),
    "ProfileNotFound": "profile-not-found",
    **dict.fromkeys(
        (
            "EndpointConnectionError",
            "ConnectTimeoutError",
            "ReadTimeoutError",
            "ConnectionClosedError",
            "HTTPClientError",
            "ProxyConnectionError",
            "SSLError",
            "ResponseStreamingError",
            "IncompleteReadError",
        ),
        "connection-failed",
    ),
}
"""botocore's exceptions (by class name: they live in several modules) and what they are."""
