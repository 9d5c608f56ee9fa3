"""The one place that decides whether a failed request is retried, and how.

:func:`classify` is pure: it maps an S3 error code, an HTTP status and whether the failure was
on the network to a :class:`Verdict`. The table is the union of what AWS S3, MinIO and SeaweedFS
answer; botocore's standard mode misses several of these (a bare 429, ExpiredToken,
RequestTimeTooSkewed, BadDigest).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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


THROTTLED = Verdict(Action.BACKOFF, "throttled")
SERVER_ERROR = Verdict(Action.RETRY, "server-error")
NETWORK = Verdict(Action.RETRY, "network")
CREDENTIALS_EXPIRED = Verdict(Action.REFRESH_CREDENTIALS, "credentials-expired")
CLOCK_SKEW = Verdict(Action.CORRECT_CLOCK, "clock-skew")
BAD_DIGEST = Verdict(Action.REREAD, "bad-digest")
FAIL = Verdict(Action.FAIL, "fail")

_BY_CODE: dict[str, Verdict] = {
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
        THROTTLED,
    ),
    # Transient: the same request can succeed when sent again.
    **dict.fromkeys(
        (
            "InternalError",
            "RequestTimeout",
            "RequestTimeoutException",
            "IncompleteBody",
            "OperationAborted",
            "PriorRequestNotComplete",
        ),
        SERVER_ERROR,
    ),
    **dict.fromkeys(
        ("ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "InvalidToken"),
        CREDENTIALS_EXPIRED,
    ),
    **dict.fromkeys(("RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"), CLOCK_SKEW),
    **dict.fromkeys(("BadDigest", "XAmzContentSHA256Mismatch"), BAD_DIGEST),
}

_BY_STATUS: dict[int, Verdict] = {
    429: THROTTLED,
    503: THROTTLED,
    500: SERVER_ERROR,
    502: SERVER_ERROR,
    504: SERVER_ERROR,
}


def classify(code: str | None, status: int | None, *, network: bool = False) -> Verdict:
    """The verdict for a failure: an S3 ``code`` (None if the answer had none), the HTTP
    ``status`` (None if there was no answer), ``network`` when the connection failed."""
    if network:
        return NETWORK
    if code is not None and code in _BY_CODE:
        return _BY_CODE[code]
    if status is not None and status in _BY_STATUS:
        return _BY_STATUS[status]
    return FAIL
