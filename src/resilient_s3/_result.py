"""What uploads and clean-ups report: results, running totals, clean-up reports."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Checksum:
    """An object checksum, computed from what was sent.

    ``type`` is ``"FULL_OBJECT"`` when ``value`` is the checksum of the whole object, and
    ``"COMPOSITE"`` when it is S3's checksum-of-part-checksums (then ``value`` ends in ``-N``).
    ``confirmed`` is True when the server reported this very value back (in its answer to the
    PUT or to CompleteMultipartUpload, or in HeadObject's when that answer was lost); False
    when it said nothing about the object's checksum, as some S3 implementations do, so only
    the checks it made of each request vouch for it.
    """

    algorithm: str
    value: str
    type: Literal["FULL_OBJECT", "COMPOSITE"] = "FULL_OBJECT"
    confirmed: bool = False


@dataclass(frozen=True, slots=True)
class UploadResult:
    """The outcome of one successful upload."""

    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None
    checksum: Checksum | None
    strategy: Literal["single", "multipart"]
    parts: int
    attempts: int
    """Requests sent to S3 for this upload, retries included."""
    retries: Mapping[str, int] = field(default_factory=dict)
    """Retried requests, counted by cause."""
    credential_refreshes: int = 0
    clock_offset: float = 0.0
    """Seconds added to the local clock when signing (learned from the server)."""
    resumed_parts: int = 0
    """Parts found already uploaded by an earlier, interrupted run."""
    elapsed: float = 0.0
    upload_id: str | None = None
    renewed_urls: int = 0
    """Presigned uploads: URLs asked for again because they had expired or were about to."""


@dataclass(frozen=True, slots=True)
class UploaderStats:
    """An uploader's running totals and its adaptive state (``uploader.stats``)."""

    attempts: int
    """Requests sent, retries included."""
    retries: Mapping[str, int]
    """Retried requests by cause (``"throttled"``, ``"network"``, ``"server-error"``,
    ``"credentials-expired"``, ``"invalid-token"``, ``"clock-skew"``, ``"bad-digest"``,
    ``"conflict"``, ``"presigned-url-expired"``)."""
    concurrency_limit: int
    """Requests allowed in flight now: lowered on throttling, raised again on success."""
    concurrency_max: int
    concurrency_lowest: int
    concurrency_decreases: int
    retry_budget: int
    """Tokens left in the retry budget (500 when full)."""
    credential_refreshes: int
    clock_offset: float
    """Seconds added to the local clock when signing (learned from the server)."""
    renewed_urls: int = 0
    """Presigned uploads: URLs asked for again because they had expired or were about to."""


@dataclass(frozen=True, slots=True)
class StaleUpload:
    """An incomplete multipart upload ``cleanup`` found (``age`` in seconds)."""

    key: str
    upload_id: str
    initiated: datetime.datetime
    age: float
    """Seconds since it was started."""


@dataclass
class CleanupReport:
    """What ``cleanup`` found and did (``dry_run``: what it would do)."""

    bucket: str
    prefix: str
    dry_run: bool
    aborted: list[StaleUpload] = field(default_factory=list)
    would_abort: list[StaleUpload] = field(default_factory=list)
    """With ``dry_run``: the uploads a real run would abort (``aborted`` stays empty)."""
    kept: list[StaleUpload] = field(default_factory=list)
    """Uploads younger than the cutoff, left alone."""
    failed: dict[str, str] = field(default_factory=dict)
    """Upload id -> why it could not be aborted."""
    retried_aborts: int = 0
    """Aborts that failed earlier (remembered in the journal) and were done now."""
    journal_entries_removed: int = 0
