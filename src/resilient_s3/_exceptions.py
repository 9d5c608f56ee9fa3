"""The one error tree of resilient-s3.

Every failure that leaves the public API is an :class:`UploadError`; botocore, aiohttp and OS
errors are mapped once, where they are caught, and kept as ``__cause__`` and ``last_exception``.

::

    UploadError
    ├── InvalidUploadError          bad input, refused before any request (also a ValueError)
    │   ├── SourceError             the source cannot be read: missing, a directory, unreadable
    │   └── ObjectTooLargeError     larger than S3 accepts
    ├── SourceChangedError          the source changed while it was read; the upload was aborted
    ├── ObjectExistsError           overwrite=False and the key exists; nothing was written
    ├── CredentialRefreshError      the credential provider failed when fresh credentials were due
    ├── S3RequestError              S3 (or the network to it) refused a request
    │   └── RetriesExhaustedError   a retryable failure that did not go away in time
    ├── IntegrityError              S3 stored something other than what was sent
    └── DirectoryUploadError        some files of a directory failed: every result and failure

Every error names the bucket, key, upload id and part number where they apply and carries a
``diagnosis`` (see :func:`resilient_s3.diagnose`) when the cause is known.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from ._diagnostics.answer import Answer
from ._diagnostics.model import Diagnosis
from ._diagnostics.request import SentRequest

if TYPE_CHECKING:
    from ._result import UploadResult

_LISTED_FAILURES = 10
"""Failures named in a DirectoryUploadError's message; ``failures`` holds them all."""


class UploadError(Exception):
    """Base class of every error raised by resilient-s3."""

    def __init__(
        self,
        message: str,
        *,
        bucket: str | None = None,
        key: str | None = None,
        upload_id: str | None = None,
        part_number: int | None = None,
        diagnosis: Diagnosis | None = None,
        last_exception: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.bucket = bucket
        self.key = key
        self.upload_id = upload_id
        self.part_number = part_number
        self.diagnosis = diagnosis
        self.last_exception = last_exception

    def __str__(self) -> str:
        where = []
        if self.bucket:
            where.append(f"s3://{self.bucket}/{self.key or ''}")
        elif self.key:
            where.append(f"key {self.key}")
        if self.upload_id is not None:
            where.append(f"upload id {self.upload_id}")
        if self.part_number is not None:
            where.append(f"part {self.part_number}")
        text = self.message
        if where:
            text = f"{text} ({', '.join(where)})"
        if self.diagnosis is not None and self.diagnosis.cause != "unknown":
            text = f"{text}\n  cause: {self.diagnosis.cause}: {self.diagnosis.summary}"
            if self.diagnosis.fixes:
                text = f"{text}\n  fix: {self.diagnosis.fixes[0]}"
        return text


class InvalidUploadError(UploadError, ValueError):
    """The request cannot succeed as given; nothing was sent to S3."""


class SourceError(InvalidUploadError):
    """The source file or stream cannot be read."""


class ObjectTooLargeError(InvalidUploadError):
    """The object is larger than S3 accepts (see :data:`resilient_s3.MAX_OBJECT_SIZE`)."""


class SourceChangedError(UploadError):
    """The source changed while it was being uploaded; the partial upload was aborted."""


class ObjectExistsError(UploadError):
    """``overwrite=False`` (``If-None-Match: *``) and an object exists at the key already;
    nothing was written."""


class CredentialRefreshError(UploadError):
    """The credentials had to be refreshed (expired, or rejected as expired) and the provider
    failed; ``__cause__`` is its exception."""


class S3RequestError(UploadError):
    """S3, or the network to it, refused a request in a way that retrying did not fix."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        bucket: str | None = None,
        key: str | None = None,
        upload_id: str | None = None,
        part_number: int | None = None,
        diagnosis: Diagnosis | None = None,
        last_exception: BaseException | None = None,
    ) -> None:
        super().__init__(
            message,
            bucket=bucket,
            key=key,
            upload_id=upload_id,
            part_number=part_number,
            diagnosis=diagnosis,
            last_exception=last_exception,
        )
        self.code = code
        self.status = status
        self.request_id = request_id
        self.server_time: datetime.datetime | None = None
        """The server's clock (its ``Date`` header), naive UTC, when it answered."""
        self.retry_after: float | None = None
        """Seconds the server asked to wait (``Retry-After``)."""
        self.credential_generation: int | None = None
        self.attempts = 1
        """Attempts made at this request, retries included."""
        self.unreachable = False
        """No connection could be made at all: refused, or the host name did not resolve."""
        self.operation: str | None = None
        """The S3 operation, e.g. ``"UploadPart"``."""
        self.answer: Answer | None = None
        """What S3 answered (every element of the error body, the headers), secrets masked:
        the evidence :func:`resilient_s3.diagnose` reads."""
        self.request: SentRequest | None = None
        """How the request was signed and what it sent, secrets masked."""
        self.clock_offset: float | None = None
        """Seconds the uploader had learned the server's clock is ahead of this machine's."""
        self.credentials_expire_at: datetime.datetime | None = None
        """When the uploader's credentials expire(d), naive UTC; None if they do not."""


_KEPT_WHEN_WRAPPED = (
    "server_time",
    "retry_after",
    "attempts",
    "unreachable",
    "credential_generation",
    "operation",
    "answer",
    "request",
    "clock_offset",
    "credentials_expire_at",
)


class RetriesExhaustedError(S3RequestError):
    """A failure worth retrying persisted past the retry limits."""

    @classmethod
    def wrapping(cls, last: S3RequestError, reason: str) -> RetriesExhaustedError:
        """The last attempt's failure, and why there was no other (``"10 attempts"``)."""
        error = cls(
            f"{last.message} (gave up after {reason})",
            code=last.code,
            status=last.status,
            request_id=last.request_id,
            bucket=last.bucket,
            key=last.key,
            upload_id=last.upload_id,
            part_number=last.part_number,
            diagnosis=last.diagnosis,
            last_exception=last.last_exception,
        )
        for name in _KEPT_WHEN_WRAPPED:
            setattr(error, name, getattr(last, name))
        return error


class IntegrityError(UploadError):
    """The checksum S3 reports does not match the data that was sent."""


class DirectoryUploadError(UploadError):
    """Some files of ``upload_directory`` failed; the others were uploaded.

    ``results`` holds every upload that landed, ``failures`` every file that did not, by key,
    each with its own error and diagnosis.
    """

    def __init__(
        self, message: str, *, results: list[UploadResult], failures: dict[str, UploadError]
    ) -> None:
        super().__init__(message)
        self.results = results
        self.failures = failures

    @classmethod
    def of(
        cls,
        results: list[UploadResult],
        failures: dict[str, UploadError],
        attempted: int,
        what: str,
    ) -> DirectoryUploadError:
        """The error for ``failures`` among ``attempted`` files, with every result and failure."""
        listed = sorted(failures.items())
        lines = [f"{len(failures)} of {attempted} {what} failed:"]
        lines += [f"  {name}: {error.message}" for name, error in listed[:_LISTED_FAILURES]]
        if len(listed) > _LISTED_FAILURES:
            lines.append(f"  ... and {len(listed) - _LISTED_FAILURES} more (see .failures)")
        return cls("\n".join(lines), results=results, failures=failures)
