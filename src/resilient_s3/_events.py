"""What an uploader reports as it works: events for metrics (a callback), and the same events
as records of the ``resilient_s3`` logger.

One place emits both, so a metric and a log line can never disagree. The happy path logs
nothing above DEBUG; a retry, a clock correction, a refresh forced by S3 and a failure log at
INFO. A callback that raises is logged and otherwise ignored: metrics never break an upload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

logger = logging.getLogger("resilient_s3")


class EventKind(StrEnum):
    """What an :class:`UploadEvent` reports."""

    STARTED = "started"
    """An upload began (``size`` when known)."""
    PART_DONE = "part-done"
    """S3 stored a part (``part_number``, ``size``, ``seconds`` its last attempt took)."""
    RETRY = "retry"
    """A request failed and is sent again after ``seconds`` (``cause``, ``attempt``)."""
    CREDENTIALS_REFRESHED = "credentials-refreshed"
    """New credentials (``cause``: ``"ahead"`` of expiry, or ``"expired"`` as S3 said)."""
    CLOCK_CORRECTED = "clock-corrected"
    """Signatures now carry the server's time (``clock_offset`` seconds ahead of this clock)."""
    COMPLETED = "completed"
    """The object is stored (``size``, ``seconds``, ``parts``, ``strategy``)."""
    FAILED = "failed"
    """The upload failed for good (``cause`` of its diagnosis, ``seconds``)."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class UploadEvent:
    """One thing an uploader did, with the figures a metrics exporter needs."""

    kind: EventKind
    bucket: str = ""
    key: str = ""
    upload_id: str | None = None
    part_number: int | None = None
    size: int | None = None
    """Bytes: the part's (part-done), the object's (started when known, completed)."""
    seconds: float | None = None
    """The part's or the upload's duration; for a retry, the delay before it."""
    cause: str | None = None
    """Why: a retry's cause (``throttled``, ``network``...), a failure's diagnosis cause."""
    attempt: int | None = None
    """The attempt that failed, for a retry (1 is the first)."""
    parts: int | None = None
    strategy: str | None = None
    clock_offset: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The fields that are set, as plain data (for a JSON exporter)."""
        return {k: str(v) if k == "kind" else v for k, v in asdict(self).items() if v is not None}

    def describe(self) -> str:
        """The event as a person reads it (the log message)."""
        where = f"s3://{self.bucket}/{self.key}" if self.bucket else "a request"
        part = f"part {self.part_number} of " if self.part_number is not None else ""
        kind = self.kind
        if kind is EventKind.RETRY:
            return (
                f"{part}{where}: {self.cause}, retrying in {self.seconds or 0:.2f} s "
                f"(attempt {self.attempt} failed)"
            )
        if kind is EventKind.CREDENTIALS_REFRESHED:
            why = "S3 said they expired" if self.cause == "expired" else "ahead of expiry"
            return f"credentials refreshed ({why})"
        if kind is EventKind.CLOCK_CORRECTED:
            return (
                f"this machine's clock is {-(self.clock_offset or 0):+.0f} s from the server's: "
                "signing with the server's time"
            )
        if kind is EventKind.STARTED:
            size = f" ({self.size} bytes)" if self.size is not None else ""
            return f"uploading {where}{size}"
        if kind is EventKind.PART_DONE:
            return f"{part}{where} stored ({self.size} bytes in {self.seconds or 0:.3f} s)"
        if kind is EventKind.COMPLETED:
            return f"uploaded {where} ({self.size} bytes, {self.parts} parts, {self.seconds:.3f} s)"
        return f"upload of {where} failed: {self.cause}"


EventCallback = Callable[[UploadEvent], None]

_LEVELS = {
    EventKind.STARTED: logging.DEBUG,
    EventKind.PART_DONE: logging.DEBUG,
    EventKind.COMPLETED: logging.DEBUG,
    EventKind.RETRY: logging.INFO,
    EventKind.CLOCK_CORRECTED: logging.INFO,
    EventKind.FAILED: logging.INFO,
}


class Events:
    """Where an uploader's events go: its ``on_event`` callback and the logger."""

    def __init__(self, callback: EventCallback | None = None) -> None:
        self._callback = callback

    def emit(self, kind: EventKind, **fields: Any) -> None:
        level = _LEVELS.get(kind, logging.DEBUG)
        if kind is EventKind.CREDENTIALS_REFRESHED and fields.get("cause") == "expired":
            level = logging.INFO
        logged = logger.isEnabledFor(level)
        if self._callback is None and not logged:
            return  # the cost of an event nobody listens to: this check
        event = UploadEvent(kind, **fields)
        if logged:
            logger.log(level, "%s", event.describe(), extra={"event": event})
        if self._callback is not None:
            try:
                self._callback(event)
            except Exception:
                logger.exception("the on_event callback raised; the upload goes on")


NO_EVENTS = Events()
"""Events that only go to the logger."""
