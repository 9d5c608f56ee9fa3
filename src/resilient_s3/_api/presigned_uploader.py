"""The uploader for clients without AWS credentials: URLs from a backend, the same pipeline.

It runs the upload pipeline of :class:`AsyncResilientUploader` (bounded parts in flight,
backoff on throttling, resets and 5xx, checksums, resume from the journal and ``list``,
confirmed completion) over a :class:`PresignedBackend`: every request goes to a URL the backend
signed. An expired URL is asked for again, and so is one about to expire.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import IO, Any

import anyio

from .._auth.clock import ServerClock
from .._config import UploadConfig
from .._diagnostics.codes import Action
from .._events import EventCallback, Events
from .._exceptions import InvalidUploadError, S3RequestError
from .._headers import check_header_value, check_metadata
from .._limits import validate_key, validate_request_bucket
from .._resilience.concurrency import AdaptiveLimiter
from .._resilience.retry import Retrier, RetryBudget, RetryPolicy, clock_fix
from .._result import UploaderStats, UploadResult
from .._s3.sender import Sender
from .._s3.session import check_ca_bundle
from .._types import BinaryReadable, ProgressCallback
from .._upload.checksums import CHECKSUM_KINDS
from .._upload.journal import Journal
from .._upload.pipeline import Pipeline, UploadRequest
from .._upload.presigned_backend import PresignedBackend, SignCallable
from .._upload.source import FileSource, Source, StreamSource
from .connection import annotate
from .opening import OpenedOnFirstUse
from .portal import Blocking
from .presigner import PART_SIZE, SINGLE_PUT_LIMIT

PRESIGNED_DEFAULTS = UploadConfig(multipart_threshold=SINGLE_PUT_LIMIT, part_size=PART_SIZE)
"""As :meth:`Presigner.presign_upload` cuts: a single PUT up to 100 MiB, then 16 MiB parts (few
round trips to the backend for URLs)."""


class AsyncPresignedUploader(OpenedOnFirstUse[Pipeline]):
    """Uploads through presigned URLs that ``sign`` (a sync or async callable, in practice a
    call to your backend, which answers with :meth:`Presigner.answer`) hands out.

    ``name`` identifies the backend in the resume journal; ``bucket`` is passed to it when
    the backend lets clients choose. ``checksums=False`` for backends that cannot sign a body's
    checksum into its URL. ``config`` defaults to single PUTs up to 100 MiB and 16 MiB parts.
    """

    def __init__(
        self,
        sign: SignCallable,
        config: UploadConfig | None = None,
        *,
        name: str = "presigned",
        bucket: str | None = None,
        checksums: bool = True,
        verify: bool | str | None = None,
        on_event: EventCallback | None = None,
        _sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
    ) -> None:
        super().__init__()
        if not callable(sign):
            raise InvalidUploadError(f"sign must be a callable, not {type(sign).__name__}")
        if bucket is not None:
            validate_request_bucket(bucket, legacy=True)
        self.config = config or PRESIGNED_DEFAULTS
        self._sign = sign
        self._name = name
        self._bucket = bucket
        self._checksums = checksums
        self._verify = verify
        self._events = Events(on_event)
        self._sleep = _sleep
        self._limiter = AdaptiveLimiter(self.config.max_concurrency)
        self._budget = RetryBudget()
        self._clock = ServerClock()
        self._backend: PresignedBackend | None = None

    def __repr__(self) -> str:
        return f"<AsyncPresignedUploader name={self._name!r} config={self.config!r}>"

    async def _open(self, stack: contextlib.AsyncExitStack) -> Pipeline:
        config = self.config
        check_ca_bundle(self._verify)
        sender = Sender(
            max_connections=config.max_concurrency,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            verify=self._verify,
            min_speed=config.min_speed,
        )
        stack.push_async_callback(sender.close)
        backend = PresignedBackend(
            self._sign,
            sender,
            CHECKSUM_KINDS[config.checksum_algorithm],
            name=self._name,
            bucket=self._bucket,
            checksums=self._checksums,
        )
        retrier = Retrier(
            RetryPolicy(max_attempts=config.max_attempts),
            limiter=self._limiter,
            budget=self._budget,
            # A skewed clock is the backend's to correct; here it only says so.
            fixes={
                Action.RENEW_URL: backend.renew_fix(),
                Action.CORRECT_CLOCK: clock_fix(self._clock, self._events),
            },
            sleep=self._sleep,
            annotate=functools.partial(_annotate, clock=self._clock, backend=backend),
            events=self._events,
        )
        self._backend = backend
        journal = Journal(config.journal_dir)
        return Pipeline(backend, config, retrier=retrier, journal=journal, events=self._events)

    @property
    def stats(self) -> UploaderStats:
        """What this uploader has done so far (retries by cause, concurrency, budget)."""
        totals = self._opened.totals if self._opened is not None else None
        return UploaderStats(
            attempts=totals.attempts if totals else 0,
            retries=dict(totals.retries) if totals else {},
            concurrency_limit=self._limiter.limit,
            concurrency_max=self._limiter.maximum,
            concurrency_lowest=self._limiter.lowest,
            concurrency_decreases=self._limiter.decreases,
            retry_budget=self._budget.tokens,
            credential_refreshes=0,
            clock_offset=self._clock.offset,
            renewed_urls=self._backend.renewed_urls if self._backend else 0,
        )

    async def upload_file(
        self,
        filename: str | os.PathLike[str],
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> UploadResult:
        """Upload a file to ``key`` (the backend may place it elsewhere: the result says
        where). Running it again after a crash resumes it, as for the uploaders."""
        args = self._args(key, content_type, metadata)
        source = FileSource(filename)
        try:
            return await self._upload(source, key, args, on_progress)
        finally:
            source.close()

    async def upload_fileobj(
        self,
        fileobj: IO[bytes] | BinaryReadable,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> UploadResult:
        """Upload a binary stream from its current position; seekable or not."""
        args = self._args(key, content_type, metadata)
        return await self._upload(StreamSource(fileobj), key, args, on_progress)

    def _args(
        self, key: str, content_type: str | None, metadata: Mapping[str, str] | None
    ) -> dict[str, Any]:
        validate_key(key)
        args: dict[str, Any] = {}
        if content_type is not None:
            check_header_value(content_type, "content_type")
            args["ContentType"] = content_type
        if metadata:
            args["Metadata"] = dict(metadata)
            check_metadata(metadata)
        return args

    async def _upload(
        self,
        source: Source,
        key: str,
        args: Mapping[str, Any],
        on_progress: ProgressCallback | None,
    ) -> UploadResult:
        pipeline = await self._ensure_open()
        backend = self._backend
        assert backend is not None
        before = backend.renewed_urls
        request = UploadRequest(source, self._bucket or "", key, args, on_progress)
        result = await pipeline.upload(request)
        placed = backend.placed(request.where)
        return dataclasses.replace(
            result,
            bucket=placed.bucket or result.bucket,
            key=placed.key,
            renewed_urls=backend.renewed_urls - before,
        )


def _annotate(error: S3RequestError, *, clock: ServerClock, backend: PresignedBackend) -> None:
    """A request failed for good: what the uploader knows, then what the backend's URLs
    tell (one that expired however often it was renewed)."""
    annotate(error, clock=clock)
    backend.explain(error)


class PresignedUploader(Blocking):
    """The blocking face of :class:`AsyncPresignedUploader`; same arguments, same behaviour."""

    def __init__(
        self,
        sign: SignCallable,
        config: UploadConfig | None = None,
        *,
        name: str = "presigned",
        bucket: str | None = None,
        checksums: bool = True,
        verify: bool | str | None = None,
        on_event: EventCallback | None = None,
        **seams: Any,
    ) -> None:
        self._async: AsyncPresignedUploader = AsyncPresignedUploader(
            sign,
            config,
            name=name,
            bucket=bucket,
            checksums=checksums,
            verify=verify,
            on_event=on_event,
            **seams,
        )
        super().__init__(self._async)

    @property
    def stats(self) -> UploaderStats:
        """See :attr:`AsyncPresignedUploader.stats`."""
        return self._async.stats

    def upload_file(
        self,
        filename: str | os.PathLike[str],
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> UploadResult:
        """See :meth:`AsyncPresignedUploader.upload_file`."""
        return self._call(
            self._async.upload_file,
            filename,
            key,
            content_type=content_type,
            metadata=metadata,
            on_progress=on_progress,
        )

    def upload_fileobj(
        self,
        fileobj: IO[bytes] | BinaryReadable,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> UploadResult:
        """See :meth:`AsyncPresignedUploader.upload_fileobj`."""
        return self._call(
            self._async.upload_fileobj,
            fileobj,
            key,
            content_type=content_type,
            metadata=metadata,
            on_progress=on_progress,
        )
