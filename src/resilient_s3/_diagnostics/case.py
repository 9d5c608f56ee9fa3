"""One failure's evidence, gathered: the answer, the request, what the uploader knew; and the
notes a diagnosis is written from."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from .answer import Answer
from .request import SentRequest, Signing


@dataclass(slots=True)
class Case:
    """Everything known about one failure."""

    answer: Answer
    request: SentRequest | None = None
    operation: str | None = None
    clock_offset: float | None = None
    """Seconds the uploader had learned the server's clock is ahead of this machine's."""
    credentials_expire_at: datetime.datetime | None = None
    """When the uploader's credentials expire(d), naive UTC."""
    now: datetime.datetime | None = None
    """This machine's clock, naive UTC (for a URL with no server time to compare with)."""

    @property
    def signing(self) -> Signing | None:
        return self.request.signing if self.request is not None else None

    @property
    def bucket(self) -> str | None:
        return self.answer.elements.get("BucketName")


@dataclass(slots=True)
class Notes:
    """A diagnosis being written: the cause's rule gives the first words, the evidence adds."""

    summary: str
    evidence: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    retryable: bool | None = None
    """Set when the request tells more than the answer: a BadDigest is worth re-sending
    unless the checksum was signed into the URL by someone else (None: the table's verdict)."""

    def first(self, fix: str) -> None:
        self.fixes.insert(0, fix)
