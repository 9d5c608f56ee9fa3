"""Upload settings: one frozen dataclass, validated when it is made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ._exceptions import InvalidUploadError
from ._limits import MiB, validate_concurrency, validate_part_size, validate_threshold

ChecksumAlgorithm = Literal["CRC64NVME", "CRC32C", "CRC32", "SHA256"]
CHECKSUM_ALGORITHMS: tuple[ChecksumAlgorithm, ...] = ("CRC64NVME", "CRC32C", "CRC32", "SHA256")


@dataclass(frozen=True, slots=True)
class UploadConfig:
    """How uploads are planned and run.

    Memory stays within about ``part_size * (max_concurrency + 2)`` for any file size: that many
    part buffers exist at most, and they are reused.
    """

    multipart_threshold: int = 8 * MiB
    """Objects of at least this many bytes are uploaded in parts; smaller ones in one PUT."""
    part_size: int = 8 * MiB
    """Requested part size; grown where needed so that the object fits in 10,000 parts."""
    max_concurrency: int = 16
    """Requests in flight at most, across everything this uploader does."""
    checksum_algorithm: ChecksumAlgorithm = "CRC64NVME"
    """Checksum sent with every part and checked by S3."""
    sign_payload: bool | None = None
    """SHA-256-sign request bodies. ``None`` does what the AWS SDKs do: sign over plain http,
    send ``UNSIGNED-PAYLOAD`` (with a signed checksum header) over https. ``False`` over plain
    http is for trusted networks only."""
    connect_timeout: float = 10.0
    """Seconds to establish a connection."""
    read_timeout: float = 60.0
    """Seconds without any byte from the server before a request is given up."""
    min_speed: int = 64 * 1024
    """Bytes per second: an attempt at sending a body slower than this on average is given up
    (and retried), so the time allowed grows with the part size."""
    max_attempts: int = 10
    """Attempts per request (the first included) at most; an uploader-wide retry budget also
    bounds the retries, so a dead endpoint fails in bounded time."""
    resume: bool = True
    """Journal every multipart upload of a file, so that running the same upload again after a
    crash sends only the parts that are missing (see docs/durability.md)."""
    journal_dir: str | None = None
    """Where the journal lives; default ``$RESILIENT_S3_JOURNAL_DIR``, else the user cache
    directory (``~/.cache/resilient-s3/journal`` on Linux)."""
    verify_after_upload: bool = False
    """After each upload, HeadObject checks the size, the checksum and the number of parts."""
    credential_refresh_ahead: float = 300.0
    """Refresh temporary credentials this many seconds before they expire (at most a quarter
    of their lifetime, so short-lived tokens are not refreshed on every request)."""
    completion_token: bool = False
    """Also write a random token into the metadata of every multipart upload and conditional
    PUT (``x-amz-meta-resilient-s3-upload``, 51 bytes of S3's 2 KB), so that a completion whose
    answer was lost is confirmed by the token rather than by what the object shows (its
    ETag and checksum). For servers that report no checksum and whose ETags are not MD5s
    (SSE-KMS, SSE-C) or are made otherwise, and for conditional writes used as locks by
    writers that may write equal bytes: see docs/durability.md."""

    def __post_init__(self) -> None:
        validate_threshold(self.multipart_threshold)
        validate_part_size(self.part_size)
        validate_concurrency(self.max_concurrency)
        if self.checksum_algorithm not in CHECKSUM_ALGORITHMS:
            raise InvalidUploadError(
                f"checksum_algorithm must be one of {', '.join(CHECKSUM_ALGORITHMS)}, "
                f"not {self.checksum_algorithm!r}"
            )
        for name in ("connect_timeout", "read_timeout", "min_speed", "max_attempts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise InvalidUploadError(f"{name} must be a positive number, not {value!r}")
        if not isinstance(self.completion_token, bool):
            raise InvalidUploadError(
                f"completion_token must be True or False, not {self.completion_token!r}"
            )
        if not isinstance(self.max_attempts, int):
            raise InvalidUploadError(
                f"max_attempts must be a whole number, not {self.max_attempts!r}"
            )
        refresh = self.credential_refresh_ahead
        if isinstance(refresh, bool) or not isinstance(refresh, int | float) or refresh < 0:
            raise InvalidUploadError(
                f"credential_refresh_ahead must be a number of seconds >= 0, not {refresh!r}"
            )
