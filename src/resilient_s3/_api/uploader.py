"""The async uploader: the implementation (its blocking shell is in ``blocking``).

Opening an uploader composes the layers below: the user's session is read (``_s3.session``),
one credential owner and one server clock sign every request (``_auth``), the S3 transport
and backend carry them (``_s3``, ``_upload.s3_backend``), one retrier with its fixes decides
what happens after a failure (``_resilience``), and the pipeline runs uploads (``_upload``).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import IO, Any

import anyio

from .._auth.clock import ServerClock
from .._auth.credentials import CredentialOwner
from .._auth.sigv4 import Clock, utc_now
from .._config import UploadConfig
from .._events import EventCallback, Events
from .._exceptions import DirectoryUploadError, InvalidUploadError, UploadError
from .._headers import check_extra_args
from .._limits import validate_key, validate_request_bucket
from .._outcomes import DirectoryReport, FileOutcome
from .._redact import remember_sse_c_key
from .._resilience.concurrency import AdaptiveLimiter
from .._resilience.retry import RetryBudget
from .._result import CleanupReport, UploaderStats, UploadResult
from .._s3.errors import Where, check_endpoint_url
from .._s3.session import SessionSettings
from .._types import (
    BinaryReadable,
    BotocoreConfigLike,
    CredentialsCallable,
    ProgressCallback,
    SessionLike,
)
from .._upload.arguments import check_names, check_values, choose_checksum
from .._upload.backend import UploadBackend
from .._upload.checksums import CHECKSUM_KINDS
from .._upload.cleanup import cleanup
from .._upload.directory import Selection, upload_tree
from .._upload.interrupted import resume_interrupted
from .._upload.journal import Journal
from .._upload.pipeline import Pipeline, UploadRequest
from .._upload.s3_backend import S3Backend
from .._upload.source import FileSource, Source, StreamSource
from .connection import connect
from .opening import OpenedOnFirstUse

logger = logging.getLogger("resilient_s3")

BackendHook = Callable[[UploadBackend], UploadBackend]
"""Wraps the backend an uploader opens (tests: to see or change what S3 answers)."""


class AsyncResilientUploader(OpenedOnFirstUse[Pipeline]):
    """Uploads files and streams to S3, resiliently. Use ``async with`` or call :meth:`aclose`.

    ``session`` is the boto3, botocore, aioboto3 or aiobotocore session whose credentials,
    region and profile to use (default: ``boto3.Session()``). ``credentials``, a sync or async
    callable returning temporary credentials with their expiry (a mapping with ``access_key``,
    ``secret_key``, ``token``, ``expiry_time``, or ``AccessKeyId``, ``SecretAccessKey``,
    ``SessionToken``, ``Expiration``), replaces the session's. ``botocore_config`` is merged into
    the client configuration; ``verify`` is botocore's (False, or a CA bundle path).

    The keyword arguments starting with ``_`` are seams for tests, not API: ``_sleep`` waits
    between retries, ``_clock`` is the local UTC clock, ``_backend`` wraps the S3 backend.
    """

    def __init__(
        self,
        session: SessionLike | None = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        config: UploadConfig | None = None,
        *,
        credentials: CredentialsCallable | None = None,
        botocore_config: BotocoreConfigLike | None = None,
        verify: bool | str | None = None,
        on_event: EventCallback | None = None,
        _sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
        _clock: Clock = utc_now,
        _backend: BackendHook | None = None,
    ) -> None:
        super().__init__()
        check_endpoint_url(endpoint_url)
        self.config = config or UploadConfig()
        self._session = session
        self._credentials = credentials
        self._events = Events(on_event)
        self._sleep = _sleep
        self._backend_hook = _backend
        self._clock = ServerClock(_clock)
        self._owner: CredentialOwner | None = None
        self._limiter = AdaptiveLimiter(self.config.max_concurrency)
        self._budget = RetryBudget()
        self._settings = SessionSettings(endpoint_url, region_name, botocore_config, verify)
        self._s3: S3Backend | None = None
        self._kept_for_resume: list[Where] = []
        """Multipart uploads stopped by a process exit and left to resume."""

    def __repr__(self) -> str:
        endpoint = self._settings.endpoint_url or "aws"
        return f"<AsyncResilientUploader endpoint={endpoint} config={self.config!r}>"

    @property
    def endpoint_url(self) -> str | None:
        """The S3 endpoint this uploader talks to: as resolved once it is open (for AWS, the
        region's), as configured before (None for AWS)."""
        if self._s3 is not None:
            return self._s3.endpoint_url
        return self._settings.endpoint_url

    async def open(self) -> None:
        """Create the clients now (else the first upload does): a bad session, profile or
        endpoint configuration fails here. ``async with`` calls it."""
        await self._ensure_open()

    async def _open(self, stack: contextlib.AsyncExitStack) -> Pipeline:
        config, clock = self.config, self._clock
        connection = await connect(
            self._session,
            self._settings,
            config,
            stack,
            credentials=self._credentials,
            clock=clock,
            limiter=self._limiter,
            budget=self._budget,
            sleep=self._sleep,
            events=self._events,
        )
        owner = self._owner = connection.owner
        transport = connection.transport
        sign_payload = config.sign_payload
        if sign_payload is None:  # as the AWS SDKs do: hashed over http, not over https
            sign_payload = not transport.is_https
        kind = CHECKSUM_KINDS[config.checksum_algorithm]
        self._s3 = S3Backend(transport, kind, sign_payload=sign_payload)
        backend = self._backend_hook(self._s3) if self._backend_hook else self._s3
        pipeline = Pipeline(
            backend,
            config,
            retrier=connection.retrier,
            journal=Journal(config.journal_dir),
            clock_offset=lambda: clock.offset,
            credential_refreshes=lambda: owner.refreshes,
            suspended=self._kept_for_resume,
            events=self._events,
        )
        # Aborts that failed in an earlier run get one more try (see cleanup()).
        await pipeline.aborts.retry_remembered(limit=16, seconds=30, max_attempts=1)
        return pipeline

    def _keep_for_resume_on_exit(self) -> None:
        """The process is exiting (a signal handler's SystemExit): the uploads it stops keep
        their journaled multipart uploads for a later run to resume, instead of aborting them."""
        if self._opened is not None:
            self._opened.suspending = True

    @property
    def stats(self) -> UploaderStats:
        """What this uploader has done so far, and how it is adapting."""
        pipeline = self._opened
        totals = pipeline.totals if pipeline is not None else None
        return UploaderStats(
            attempts=totals.attempts if totals else 0,
            retries=dict(totals.retries) if totals else {},
            concurrency_limit=self._limiter.limit,
            concurrency_max=self._limiter.maximum,
            concurrency_lowest=self._limiter.lowest,
            concurrency_decreases=self._limiter.decreases,
            retry_budget=self._budget.tokens,
            credential_refreshes=self._owner.refreshes if self._owner else 0,
            clock_offset=self._clock.offset,
        )

    async def upload_file(
        self,
        filename: str | os.PathLike[str],
        bucket: str,
        key: str,
        extra_args: Mapping[str, Any] | None = None,
        on_progress: ProgressCallback | None = None,
        *,
        overwrite: bool = True,
    ) -> UploadResult:
        """Upload a file; a single PUT below ``multipart_threshold``, parts above it.

        ``overwrite=False`` refuses to replace an existing object (``If-None-Match: *``):
        :class:`ObjectExistsError`, and nothing is written. Running the same upload again after
        a crash resumes it (see ``UploadConfig.resume``).
        """
        args = self._check(bucket, key, extra_args, overwrite)
        source = FileSource(filename)
        try:
            return await self._upload(source, bucket, key, args, on_progress)
        finally:
            source.close()

    async def upload_fileobj(
        self,
        fileobj: IO[bytes] | BinaryReadable,
        bucket: str,
        key: str,
        extra_args: Mapping[str, Any] | None = None,
        on_progress: ProgressCallback | None = None,
        *,
        overwrite: bool = True,
    ) -> UploadResult:
        """Upload a binary stream from its current position; seekable or not (pipes, sockets).

        The stream is read in order and left open. ``overwrite`` as for :meth:`upload_file`.
        """
        args = self._check(bucket, key, extra_args, overwrite)
        return await self._upload(StreamSource(fileobj), bucket, key, args, on_progress)

    async def upload_directory(
        self,
        directory: str | os.PathLike[str],
        bucket: str,
        prefix: str = "",
        extra_args: Mapping[str, Any] | None = None,
        on_progress: ProgressCallback | None = None,
        *,
        overwrite: bool = True,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        skip_unchanged: bool = False,
        guess_content_type: bool = True,
    ) -> list[UploadResult]:
        """Upload every regular file below ``directory`` to ``prefix`` + its relative path,
        and return every result, sorted by key.

        All files share the uploader's one concurrency bound. Every file with a valid key is
        attempted; if any fail, :class:`DirectoryUploadError` lists them (invalid keys
        included) with the results of the others. ``on_progress`` receives the bytes done
        across all files and their total. The other options are :meth:`upload_tree`'s, which
        keeps nothing per file: use it for trees of any size.
        """
        results: list[UploadResult] = []
        failures: dict[str, UploadError] = {}

        def collect(outcome: FileOutcome) -> None:
            if outcome.result is not None:
                results.append(outcome.result)
            elif outcome.error is not None:
                failures[outcome.key] = outcome.error

        report = await self.upload_tree(
            directory,
            bucket,
            prefix,
            extra_args,
            on_file=collect,
            on_progress=on_progress,
            overwrite=overwrite,
            include=include,
            exclude=exclude,
            skip_unchanged=skip_unchanged,
            guess_content_type=guess_content_type,
        )
        results.sort(key=lambda result: result.key)
        if failures:
            raise DirectoryUploadError.of(results, failures, report.files, "files")
        return results

    async def upload_tree(
        self,
        directory: str | os.PathLike[str],
        bucket: str,
        prefix: str = "",
        extra_args: Mapping[str, Any] | None = None,
        *,
        on_file: Callable[[FileOutcome], None] | None = None,
        on_progress: ProgressCallback | None = None,
        overwrite: bool = True,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        skip_unchanged: bool = False,
        guess_content_type: bool = True,
    ) -> DirectoryReport:
        """Upload every regular file below ``directory`` to ``prefix`` + its relative path,
        for trees of any size: the tree is walked lazily, each file's :class:`FileOutcome`
        goes to ``on_file`` as soon as it is known, and nothing is kept per file (the
        :class:`DirectoryReport` holds the totals).

        ``include`` and ``exclude`` are shell globs matched against the path relative to
        ``directory`` (``*.jpg``, ``raw/*``): a file is uploaded when it matches an include
        pattern (any, when there is none) and no exclude pattern. ``skip_unchanged`` skips a
        file whose object already has its size and its checksum (or, for objects stored
        without one, an ETag equal to its MD5). ``guess_content_type`` sets each file's
        Content-Type from its name unless ``extra_args`` gives one. Files are never followed
        through symlinks. ``on_file`` and ``on_progress`` run on the uploader's event loop.
        """
        args = self._check_args(bucket, extra_args, overwrite, directory=True)
        pipeline = await self._ensure_open()  # a bad session fails here, before any file
        return await upload_tree(
            pipeline,
            directory,
            bucket,
            prefix,
            args,
            workers=self.config.max_concurrency,
            on_file=on_file,
            on_progress=on_progress,
            selection=Selection(tuple(include), tuple(exclude)),
            skip_unchanged=skip_unchanged,
            guess_content_type=guess_content_type,
        )

    async def cleanup(
        self,
        bucket: str,
        prefix: str = "",
        *,
        older_than: float = 24 * 3600,
        dry_run: bool = False,
    ) -> CleanupReport:
        """Abort the multipart uploads below ``prefix`` started more than ``older_than``
        seconds ago (by any tool), retry aborts that failed earlier, and remove journal entries
        whose upload is gone. ``dry_run`` only reports."""
        self._check_bucket(bucket)
        pipeline = await self._ensure_open()
        assert self._s3 is not None
        return await cleanup(
            self._s3,
            pipeline.retrier,
            pipeline.aborts,
            pipeline.journal,
            bucket,
            prefix,
            older_than=older_than,
            dry_run=dry_run,
            now=self._clock.now().replace(tzinfo=datetime.UTC),
        )

    async def resume_interrupted(self) -> list[UploadResult]:
        """Finish every upload to this endpoint that a crash interrupted (see the journal):
        each file is uploaded again, sending only its missing parts. Uploads that used SSE-C
        keys are left for the caller, who has the key, to run again; one whose file is gone
        is aborted. If some fail, :class:`DirectoryUploadError` lists them with the results
        of the others."""
        return await resume_interrupted(await self._ensure_open())

    def _check_bucket(self, bucket: str) -> None:
        # Buckets named by the rules before March 2018 exist on AWS only.
        validate_request_bucket(bucket, legacy=self._settings.endpoint_url is None)

    def _check(
        self, bucket: str, key: str, extra_args: Mapping[str, Any] | None, overwrite: bool
    ) -> Mapping[str, Any]:
        args = self._check_args(bucket, extra_args, overwrite)
        try:
            validate_key(key)
        except InvalidUploadError as exc:
            exc.bucket, exc.key = bucket, key
            raise
        return args

    def _check_args(
        self,
        bucket: str,
        extra_args: Mapping[str, Any] | None,
        overwrite: bool,
        *,
        directory: bool = False,
    ) -> Mapping[str, Any]:
        """What is checked once per call: the bucket and the extra_args."""
        self._check_bucket(bucket)
        try:
            args = _checked_args(extra_args, self.config, directory=directory)
        except InvalidUploadError as exc:
            exc.bucket = bucket
            raise
        if not overwrite:
            args["IfNoneMatch"] = "*"
        return args

    async def _upload(
        self,
        source: Source,
        bucket: str,
        key: str,
        extra_args: Mapping[str, Any],
        on_progress: ProgressCallback | None,
    ) -> UploadResult:
        pipeline = await self._ensure_open()
        return await pipeline.upload(UploadRequest(source, bucket, key, extra_args, on_progress))


def _checked_args(
    extra_args: Mapping[str, Any] | None, config: UploadConfig, *, directory: bool
) -> dict[str, Any]:
    """``extra_args`` as boto3's ``upload_file`` takes them, checked so that nothing on their
    way to a request can fail but with an InvalidUploadError naming the argument."""
    if extra_args is None:
        return {}
    if not isinstance(extra_args, Mapping):
        raise InvalidUploadError(
            f"extra_args must map argument names to values (a dict), not "
            f"{type(extra_args).__name__}"
        )
    args = dict(extra_args)
    check_names(args)  # as boto3 does: its ALLOWED_UPLOAD_ARGS, before any request
    check_extra_args(args)  # a CR/LF would smuggle a request onto the connection
    check_values(args)  # what would fail on the way to botocore's own checks
    customer_key = args.get("SSECustomerKey")
    if customer_key is not None:
        if not isinstance(customer_key, bytes | str):
            raise InvalidUploadError(
                "extra_args SSECustomerKey must be the 32-byte key as bytes or str"
            )
        remember_sse_c_key(customer_key)  # masked in every log line and message from now
    choice = choose_checksum(args, CHECKSUM_KINDS[config.checksum_algorithm])
    if directory and (choice.full_object is not None or choice.object_size is not None):
        given = "MpuObjectSize" if choice.full_object is None else choice.kind.param
        raise InvalidUploadError(
            f"extra_args {given} describes one object, not every file of a directory: "
            "upload the file with upload_file to give it"
        )
    return args
