"""Runs one upload: a single PUT, or a multipart upload through a bounded pool of part workers.

Data flow of a multipart upload::

    reader task --(part body, its digest)--> channel --> N part workers --> backend

The reader checksums one part ahead of the workers: a file part through a small buffer in a
worker thread (it is read again as it is sent), a stream's part into a pooled buffer (at most
``max_concurrency + 2`` exist), so memory is independent of the object's size. Every request
goes through the retrier; the backend decides where it goes (S3, or presigned URLs). The
multipart upload is aborted, shielded from cancellation, whenever it does not complete.

About 570 lines: the single PUT and the multipart flow share their checks of the source and
the answer; the commit protocol, the resume and what extra_args ask of the checksum
(``arguments``) are in their own modules.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from anyio.abc import ObjectReceiveStream

from .._config import UploadConfig
from .._diagnostics.codes import Action
from .._events import NO_EVENTS, EventKind, Events
from .._exceptions import (
    IntegrityError,
    InvalidUploadError,
    ObjectTooLargeError,
    S3RequestError,
    UploadError,
)
from .._limits import MAX_PARTS, format_size
from .._resilience.retry import Counters, Fix, Retrier, reread_fix
from .._result import Checksum, UploadResult
from .._s3.errors import Where
from .._types import ProgressCallback
from .aborts import Aborts
from .arguments import ChecksumChoice, choose_checksum, create_args, part_args, put_object_args
from .backend import StoredBody, UploadBackend
from .body import Body
from .checksums import ChecksumKind, PartDigest
from .commit import Commit, SentPart, exists_error, marked, refuses_overwrite
from .evidence import Attempts
from .journal import Journal
from .parts import PartReader
from .planner import Part, UploadPlan, plan_upload, stream_capacity, stream_part_size
from .progress import Progress
from .resume import Resumed, Resumption
from .source import FileSource, Source

logger = logging.getLogger("resilient_s3")

ReadPart = tuple[Part, Body, PartDigest]
"""A part ready to send, with its digest; whoever holds it calls ``body.done()``."""
Emit = Callable[[Part, Body, PartDigest], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class UploadRequest:
    source: Source
    bucket: str
    key: str
    extra_args: Mapping[str, Any]
    on_progress: ProgressCallback | None = None
    part_size: int | None = None
    """Instead of the configured one (resuming an upload cut another way)."""
    checksum: ChecksumChoice | None = None
    """What ``extra_args`` ask of the checksum; the pipeline fills it in."""

    @property
    def where(self) -> Where:
        return Where(self.bucket, self.key)

    @property
    def choice(self) -> ChecksumChoice:
        assert self.checksum is not None, "Pipeline.upload fills it in"
        return self.checksum


class Pipeline:
    """Uploads through one backend, sharing one retrier (its request limiter and budget) and
    one buffer pool."""

    def __init__(
        self,
        backend: UploadBackend,
        config: UploadConfig,
        *,
        retrier: Retrier,
        journal: Journal,
        clock_offset: Callable[[], float] = lambda: 0.0,
        credential_refreshes: Callable[[], int] = lambda: 0,
        suspended: list[Where] | None = None,
        events: Events = NO_EVENTS,
    ) -> None:
        self.backend = backend
        self.events = events
        self._config = config
        self.retrier = retrier
        self.journal = journal
        self.commit = Commit(backend, retrier, completion_token=config.completion_token)
        self.aborts = Aborts(backend, retrier, journal)
        self._parts = PartReader(backend.kind, backend.signs_payload, config.max_concurrency + 2)
        self._kind = backend.kind
        self._clock_offset = clock_offset
        self._credential_refreshes = credential_refreshes
        self.totals = Counters()
        """Attempts and retries of every upload so far."""
        self.suspending = False
        """Set when the process is told to exit (SIGTERM): uploads that are cancelled then
        and can be resumed are left open in the journal instead of aborted."""
        self.suspended = suspended if suspended is not None else []
        """The multipart uploads left to resume that way."""

    async def upload(self, request: UploadRequest) -> UploadResult:
        counters = Counters()
        where = {"bucket": request.bucket, "key": request.key}
        self.events.emit(EventKind.STARTED, size=request.source.size, **where)
        started = time.monotonic()
        try:
            request = dataclasses.replace(request, checksum=self.checksum_of(request.extra_args))
            result = await self._upload(request, counters)
            if self._config.verify_after_upload:
                commit = self._commit(request)
                await commit.verify(request.where, request.extra_args, result, counters)
        except UploadError as exc:
            _locate(exc, request.where)
            refused = isinstance(exc, S3RequestError) and exc.code == "PreconditionFailed"
            exists = refused and refuses_overwrite(request.extra_args)
            failure = exists_error(request.where) if exists else exc
            cause = str(failure.diagnosis.cause) if failure.diagnosis else type(failure).__name__
            self.events.emit(
                EventKind.FAILED, seconds=time.monotonic() - started, cause=cause, **where
            )
            if failure is not exc:
                raise failure from exc
            raise
        else:
            self.events.emit(
                EventKind.COMPLETED,
                upload_id=result.upload_id,
                size=result.size,
                seconds=result.elapsed,
                parts=result.parts,
                strategy=result.strategy,
                **where,
            )
            return result
        finally:
            self.totals.attempts += counters.attempts
            for cause, n in counters.retries.items():
                self.totals.retries[cause] = self.totals.retries.get(cause, 0) + n

    def checksum_of(self, extra_args: Mapping[str, Any]) -> ChecksumChoice:
        """What an upload's ``extra_args`` ask of its checksum (this backend's algorithm unless
        they choose one); InvalidUploadError for what S3 could not honour."""
        return choose_checksum(extra_args, self._kind)

    def kind_for(self, extra_args: Mapping[str, Any]) -> ChecksumKind:
        """The checksum algorithm of uploads with these ``extra_args``."""
        return self.checksum_of(extra_args).kind

    def _commit(self, request: UploadRequest) -> Commit:
        """The commit protocol in this upload's checksum (and object size)."""
        return self.commit.with_checksum(request.choice)

    async def _upload(self, request: UploadRequest, counters: Counters) -> UploadResult:
        started = time.monotonic()
        refreshes_before = self._credential_refreshes()
        source = request.source
        upload_id: str | None = None
        if source.size is not None:
            plan = plan_upload(
                source.size,
                multipart_threshold=self._config.multipart_threshold,
                part_size=request.part_size or self._config.part_size,
            )
            request.choice.check_size(source.size)
            if plan.strategy == "multipart":
                request.choice.check_multipart(plan.size)
            if plan.strategy == "single":
                stored, checksum, size = await self._single(request, counters, plan.size)
                parts = 1
            else:
                stored, checksum, size, parts, upload_id = await self._multipart(
                    request, counters, plan
                )
        else:
            stored, checksum, size, parts, upload_id = await self._stream(request, counters)
        return UploadResult(
            bucket=request.bucket,
            key=request.key,
            size=size,
            etag=stored.etag,
            version_id=stored.version_id,
            checksum=checksum,
            strategy="single" if upload_id is None else "multipart",
            parts=parts,
            attempts=counters.attempts,
            retries=dict(counters.retries),
            credential_refreshes=self._credential_refreshes() - refreshes_before,
            clock_offset=self._clock_offset(),
            resumed_parts=counters.resumed_parts,
            elapsed=time.monotonic() - started,
            upload_id=upload_id,
        )

    # -- single PUT --------------------------------------------------------------------------

    async def _single(
        self, request: UploadRequest, counters: Counters, size: int
    ) -> tuple[StoredBody, Checksum, int]:
        kind = request.choice.kind
        body, digest = await self._parts.prepare(request.source, Part(1, 0, size), kind)
        try:
            progress = Progress(size, request.on_progress)
            return await self._put(request, counters, body, digest, progress)
        finally:
            body.done()

    async def _put(
        self,
        request: UploadRequest,
        counters: Counters,
        body: Body,
        digest: PartDigest,
        progress: Progress,
    ) -> tuple[StoredBody, Checksum, int]:
        where = request.where
        choice = request.choice
        choice.check_size(body.length)
        choice.check_digest(digest.checksum_b64, where, "nothing was sent")
        args = put_object_args(request.extra_args)  # the digest's checksum is the one sent
        conditional = refuses_overwrite(args)
        attempts = Attempts()
        origin = None
        if conditional:
            # A conditional PUT whose answer is lost is refused on retry by its own write; the
            # object's checksum or MD5 ETag tells that apart from one someone else wrote.
            origin = self.commit.origin()
            args = marked(args, origin)

        def send() -> Awaitable[StoredBody]:
            return self.backend.put_object(where, body, digest, args, progress.tracker(1))

        try:
            stored = await self.retrier.run(
                attempts.watch(send) if conditional else send,
                counters,
                fixes=self._reread(request.source, body, digest),
            )
        except S3RequestError as exc:
            refused = choice.refused(exc)
            if refused is not None:
                raise refused from exc
            if origin is None or exc.code != "PreconditionFailed" or not attempts.uncertain:
                raise
            landed = await self._commit(request).confirm_put(
                where, request.extra_args, origin, body, digest, counters
            )
            if landed is None:
                raise
            stored = landed
        self._check_echo(stored, digest, where)
        progress.finished()
        confirmed = stored.checksum is not None
        checksum = Checksum(choice.kind.algorithm, digest.checksum_b64, confirmed=confirmed)
        return stored, checksum, body.length

    # -- multipart ---------------------------------------------------------------------------

    async def _multipart(
        self, request: UploadRequest, counters: Counters, plan: UploadPlan
    ) -> tuple[StoredBody, Checksum, int, int, str]:
        progress = Progress(plan.size, request.on_progress)
        resumption = self._resumption(request)
        try:
            resumed = None
            if resumption is not None:
                resumed = await resumption.find(
                    request.where,
                    plan,
                    request.extra_args,
                    counters,
                    partial(
                        self.aborts.abort, reason="a stale interrupted upload", counters=counters
                    ),
                )
            skip = resumed.parts if resumed is not None else {}
            counters.resumed_parts = len(skip)
            progress.advance(sum(part.length for part, _, _ in skip.values()))

            kind = request.choice.kind

            async def read_parts(emit: Emit) -> None:
                for part in plan.parts():
                    if part.number not in skip:
                        body, digest = await self._parts.prepare(request.source, part, kind)
                        await emit(part, body, digest)

            return await self._run_multipart(
                request, counters, progress, read_parts, plan, resumption, resumed
            )
        finally:
            if resumption is not None:
                resumption.close()

    def _resumption(self, request: UploadRequest) -> Resumption | None:
        if not (self._config.resume and isinstance(request.source, FileSource)):
            return None
        return Resumption.open(
            self.journal,
            request.source,
            request.where,
            endpoint=self.backend.endpoint_url,
            backend=self.backend,
            retrier=self.retrier,
            kind=request.choice.kind,
        )

    async def _stream(
        self, request: UploadRequest, counters: Counters
    ) -> tuple[StoredBody, Checksum, int, int, str | None]:
        """A stream of unknown size: single PUT if it ends within the first part."""
        base = self._config.part_size
        kind = request.choice.kind
        first, first_digest = await self._parts.prepare(request.source, Part(1, 0, base), kind)
        if first.length < base:
            try:
                stored, checksum, size = await self._put(
                    request,
                    counters,
                    first,
                    first_digest,
                    Progress(first.length, request.on_progress),
                )
            finally:
                first.done()
            return stored, checksum, size, 1, None

        async def read_parts(emit: Emit) -> None:
            await emit(Part(1, 0, base), first, first_digest)
            offset, number = base, 2
            while True:
                if number > MAX_PARTS:
                    await self._refuse_overlong_stream(request.source, offset, base)
                    return
                length = stream_part_size(number, base)
                body, digest = await self._parts.prepare(
                    request.source, Part(number, offset, length), kind
                )
                got = body.length
                if got == 0:
                    body.done()
                    return
                await emit(Part(number, offset, got), body, digest)
                if got < length:
                    return
                offset += got
                number += 1

        try:
            request.choice.check_multipart(None)
        except InvalidUploadError:
            first.done()
            raise
        progress = Progress(None, request.on_progress)
        return await self._run_multipart(request, counters, progress, read_parts)

    async def _run_multipart(
        self,
        request: UploadRequest,
        counters: Counters,
        progress: Progress,
        read_parts: Callable[[Emit], Awaitable[None]],
        plan: UploadPlan | None = None,
        resumption: Resumption | None = None,
        resumed: Resumed | None = None,
    ) -> tuple[StoredBody, Checksum, int, int, str]:
        args = request.extra_args
        commit = self._commit(request)
        if resumed is not None:
            upload_id, origin = resumed.upload_id, resumed.origin
            done = dict(resumed.parts)
        else:
            await commit.refuse_existing(request.where, args, counters)
            origin = commit.origin()
            created = create_args(args, request.choice)
            upload_id = await commit.create(request.where, created, origin, counters, plan)
            done = {}
        where = Where(request.bucket, request.key, upload_id)
        per_part_args = part_args(args)
        try:
            if resumption is not None and resumed is None:
                assert plan is not None
                header = await resumption.describe(where, plan, args, upload_id, origin)
                resumption.started(header)
            await self._send_parts(
                request, counters, progress, read_parts, where, per_part_args, done, resumption
            )
            if isinstance(request.source, FileSource):
                await anyio.to_thread.run_sync(request.source.check_unchanged)
            ordered: list[SentPart] = [done[n] for n in sorted(done)]
            size = sum(part.length for part, _, _ in ordered)
            request.choice.check_size(size)
            try:
                completed, checksum = await commit.complete(where, args, ordered, origin, counters)
            except S3RequestError as exc:
                refused = request.choice.refused(exc)
                if refused is None:
                    raise
                raise refused from exc
        except BaseException as exc:
            _locate(exc, where)
            cancelled = isinstance(exc, anyio.get_cancelled_exc_class())
            if cancelled and self.suspending and resumption and resumption.resumable:
                logger.info(
                    "upload %s of s3://%s/%s stopped and kept for resume (%d of its parts "
                    "are uploaded)",
                    upload_id,
                    where.bucket,
                    where.key,
                    len(done),
                )
                self.suspended.append(where)
                raise
            await self.aborts.abort(where, reason=type(exc).__name__, counters=counters)
            if resumption is not None:
                resumption.finished()
            raise
        if resumption is not None:
            resumption.finished()
        return completed, checksum, size, len(ordered), upload_id

    async def _send_parts(
        self,
        request: UploadRequest,
        counters: Counters,
        progress: Progress,
        read_parts: Callable[[Emit], Awaitable[None]],
        where: Where,
        args: Mapping[str, Any],
        done: dict[int, SentPart],
        resumption: Resumption | None,
    ) -> None:
        """The reader and ``max_concurrency`` part workers, until every part is sent."""
        send, receive = anyio.create_memory_object_stream[ReadPart](0)

        async def emit(part: Part, body: Body, digest: PartDigest) -> None:
            try:
                await send.send((part, body, digest))
            except BaseException:
                body.done()
                raise

        async def reader() -> None:
            async with send:
                await read_parts(emit)

        async def part_worker(items: ObjectReceiveStream[ReadPart]) -> None:
            async with items:
                async for part, body, digest in items:
                    try:
                        part_where = Where(where.bucket, where.key, where.upload_id, part.number)
                        sending = time.monotonic()
                        stored = await self.retrier.run(
                            partial(self._send_part, part_where, body, digest, args, progress),
                            counters,
                            fixes=self._reread(request.source, body, digest),
                        )
                        self._check_echo(stored, digest, part_where)
                        self.events.emit(
                            EventKind.PART_DONE,
                            bucket=where.bucket,
                            key=where.key,
                            upload_id=where.upload_id,
                            part_number=part.number,
                            size=part.length,
                            seconds=time.monotonic() - sending,
                        )
                        done[part.number] = (part, stored, digest)
                        if resumption is not None:
                            resumption.part_done(part, stored, digest)
                    finally:
                        body.done()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(reader)
                for _ in range(self._config.max_concurrency):
                    tg.start_soon(part_worker, receive.clone())
                receive.close()
        except BaseExceptionGroup as group:
            raise first_error(group) from None

    async def _send_part(
        self,
        where: Where,
        body: Body,
        digest: PartDigest,
        args: Mapping[str, Any],
        progress: Progress,
    ) -> StoredBody:
        """One attempt at sending a part, with a fresh progress tracker each time."""
        assert where.part_number is not None
        return await self.backend.upload_part(
            where, body, digest, args, progress.tracker(where.part_number)
        )

    # -- helpers -----------------------------------------------------------------------------

    def _reread(self, source: Source, body: Body, digest: PartDigest) -> Mapping[Action, Fix]:
        """The fix for a BadDigest on this body (see ``PartReader.reread``)."""
        return {Action.REREAD: reread_fix(partial(self._parts.reread, source, body, digest))}

    async def _refuse_overlong_stream(self, source: Source, offset: int, base: int) -> None:
        probe = memoryview(bytearray(1))
        if await anyio.to_thread.run_sync(source.read_into, probe, offset):
            raise ObjectTooLargeError(
                f"the stream is longer than {format_size(stream_capacity(base))}, the most "
                f"{MAX_PARTS:,} parts starting at {format_size(base)} can hold; "
                "use a larger UploadConfig.part_size for streams this long"
            )

    def _check_echo(self, stored: StoredBody, digest: PartDigest, where: Where) -> None:
        if stored.checksum is not None and stored.checksum != digest.checksum_b64:
            algorithm = (digest.kind or self._kind).algorithm
            raise IntegrityError(
                f"S3 stored {algorithm} {stored.checksum}, sent {digest.checksum_b64}",
                bucket=where.bucket,
                key=where.key,
                upload_id=where.upload_id,
                part_number=where.part_number,
            )


def _locate(exc: BaseException, where: Where) -> None:
    """Fill in where an error happened, if whoever raised it could not know."""
    if isinstance(exc, UploadError):
        exc.bucket = exc.bucket or where.bucket
        exc.key = exc.key or where.key
        exc.upload_id = exc.upload_id or where.upload_id


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception that explains a failed task group: the first UploadError in it, else the
    first that is not a cancellation (the other tasks were cancelled because of it)."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    cancelled = anyio.get_cancelled_exc_class()
    for wanted in (UploadError, Exception):
        for exc in leaves:
            if isinstance(exc, wanted) and not isinstance(exc, cancelled):
                return exc
    return leaves[0] if leaves else group
