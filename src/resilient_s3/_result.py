"""What an upload reports when it succeeds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Checksum:
    """An object checksum as S3 reports it.

    ``type`` is ``"FULL_OBJECT"`` when ``value`` is the checksum of the whole object, and
    ``"COMPOSITE"`` when it is S3's checksum-of-part-checksums (then ``value`` ends in ``-N``).
    """

    algorithm: str
    value: str
    type: Literal["FULL_OBJECT", "COMPOSITE"] = "FULL_OBJECT"


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
