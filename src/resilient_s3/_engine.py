"""Runs one upload: a single PUT, or a multipart upload through a bounded pool of tasks.

Data flow of a multipart upload::

    reader task --(part body, its digest)--> channel --> N part tasks --> S3

The reader checksums one part ahead of the part tasks: a file part through a small buffer in a
worker thread (it is read again as it is sent), a stream's part into a pooled buffer (at most
``max_concurrency + 2`` exist), so memory is independent of the object's size. The multipart
upload is aborted, shielded from cancellation, whenever it does not complete.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import ObjectReceiveStream

from ._body import Body, FileBody, MemoryBody
from ._buffers import BufferPool
from ._checksums import (
    CHECKSUM_KINDS,
    ChecksumKind,
    PartDigest,
    b64,
    composite_checksum,
    digest_body,
    digest_file_range,
    same_checksum,
)
from ._clock import ServerClock
from ._config import UploadConfig
from ._errors import Where
from ._exceptions import (
    IntegrityError,
    ObjectExistsError,
    ObjectTooLargeError,
    S3RequestError,
    SourceChangedError,
    UploadError,
)
from ._journal import Header, Journal
from ._planner import (
    MAX_PARTS,
    Part,
    UploadPlan,
    format_size,
    plan_upload,
    stream_capacity,
    stream_part_size,
)
from ._result import Checksum, UploadResult
from ._resume import Resumed, Resumption
from ._retry import Counters, Retrier
from ._source import FileSource, Source
from ._transport import S3Transport, StoredBody

logger = logging.getLogger("resilient_s3")

ProgressCallback = Callable[[int, "int | None"], object]
"""``on_progress(bytes_done, total)``: called on the event loop, so it must return quickly.
``total`` is None for streams of unknown size."""

ABORT_TIMEOUT = 60.0

COMPLETE_ATTEMPTS = 3
"""CompleteMultipartUpload is sent at most this often; if it still fails (or was never
answered), HeadObject decides whether the object is there."""

TOKEN_METADATA = "resilient-s3-upload"
"""Object metadata key holding a token unique to each multipart upload: HeadObject shows
whether the object there was written by that upload (see ``Engine._confirm``)."""

INLINE_BYTES = 128 * 1024
"""Files up to this size are read and digested on the event loop: a worker-thread hop costs
more than reading and hashing that much from the page cache (about 100 us)."""

ReadPart = tuple[Part, Body, PartDigest]
"""A part ready to send, with its digest; whoever holds it calls ``body.done()``."""
Emit = Callable[[Part, Body, PartDigest], Awaitable[None]]

# Only these extra_args travel with UploadPart (the object's other attributes are set once, at
# CreateMultipartUpload); CompleteMultipartUpload also takes the conditional-write ones.
_PART_ARGS = frozenset(
    {
        "SSECustomerAlgorithm",
        "SSECustomerKey",
        "SSECustomerKeyMD5",
        "RequestPayer",
        "ExpectedBucketOwner",
    }
)
_COMPLETE_ARGS = _PART_ARGS | {"IfNoneMatch", "IfMatch"}
_CREATE_EXCLUDED = frozenset({"IfNoneMatch", "IfMatch"})


class Progress:
    """Monotonic byte count for one upload; a retried part is never counted twice."""

    def __init__(self, total: int | None, callback: ProgressCallback | None) -> None:
        self.total = total
        self.done = 0
        self._callback = callback
        self._high_water: dict[int, int] = {}

    def tracker(self, part_number: int) -> Callable[[int], None]:
        """A fresh per-attempt counter for ``part_number``."""
        sent = 0

        def on_sent(n: int) -> None:
            nonlocal sent
            sent += n
            high = self._high_water.get(part_number, 0)
            if sent > high:
                self._high_water[part_number] = sent
                self.advance(sent - high)

        return on_sent

    def finished(self) -> None:
        """An upload of nothing reports once, so that progress displays can finish too."""
        if self.done == 0 and self._callback is not None:
            self._callback(0, self.total)

    def advance(self, n: int) -> None:
        if not n:
            return
        self.done += n
        if self._callback is not None:
            self._callback(self.done, self.total)


@dataclass(frozen=True, slots=True)
class UploadRequest:
    source: Source
    bucket: str
    key: str
    extra_args: Mapping[str, Any]
    on_progress: ProgressCallback | None = None
    part_size: int | None = None
    """Instead of the configured one (resuming an upload cut another way)."""


class Engine:
    """Uploads through one transport, sharing one request limiter and one buffer pool."""

    def __init__(
        self,
        transport: S3Transport,
        config: UploadConfig,
        *,
        retrier: Retrier,
        pool: BufferPool,
        clock: ServerClock,
        journal: Journal,
        credential_refreshes: Callable[[], int] = lambda: 0,
        suspended: list[Where] | None = None,
    ) -> None:
        self._transport = transport
        self._config = config
        self.retrier = retrier
        self._pool = pool
        self._clock = clock
        self.journal = journal
        self._kind: ChecksumKind = _kind(config)
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
        try:
            result = await self._upload(request, counters)
            if self._config.verify_after_upload:
                await self._verify(request, result, counters)
            return result
        except UploadError as exc:
            _locate(exc, Where(request.bucket, request.key))
            refused = isinstance(exc, S3RequestError) and exc.code == "PreconditionFailed"
            if refused and request.extra_args.get("IfNoneMatch") == "*":
                raise _exists(request) from exc
            raise
        finally:
            self.totals.attempts += counters.attempts
            for cause, n in counters.retries.items():
                self.totals.retries[cause] = self.totals.retries.get(cause, 0) + n

    async def _upload(self, request: UploadRequest, counters: Counters) -> UploadResult:
        started = time.monotonic()
        refreshes_before = self._credential_refreshes()
        source = request.source
        if source.size is not None:
            plan = plan_upload(
                source.size,
                multipart_threshold=self._config.multipart_threshold,
                part_size=request.part_size or self._config.part_size,
            )
            if plan.strategy == "single":
                stored, checksum, size = await self._single(request, counters, plan.size)
                parts, upload_id = 1, None
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
            clock_offset=self._clock.offset,
            resumed_parts=counters.resumed_parts,
            elapsed=time.monotonic() - started,
            upload_id=upload_id,
        )

    # -- single PUT --------------------------------------------------------------------------

    async def _single(
        self, request: UploadRequest, counters: Counters, size: int
    ) -> tuple[StoredBody, Checksum, int]:
        body, digest = await self._prepare_part(request.source, Part(1, 0, size))
        try:
            progress = Progress(size, request.on_progress)
            return await self._put(request, counters, body, digest, progress)
        finally:
            body.done()

    async def _prepare_part(self, source: Source, part: Part) -> tuple[Body, PartDigest]:
        """The part's body and digest: small files and streams in memory, files by range."""
        kind, sign = self._kind, self._sign_payload()
        if isinstance(source, FileSource):
            if part.length <= INLINE_BYTES:  # cheaper than a worker-thread hop
                view = memoryview(source.read_bytes(part.offset, part.length))
                return MemoryBody(view), digest_body(view, kind, sign)
            digest = await anyio.to_thread.run_sync(
                digest_file_range, source.read_into, part.offset, part.length, kind, sign
            )
            return FileBody(source, part.offset, part.length), digest
        buffer = await self._pool.acquire(part.length)
        release = partial(self._pool.release, buffer)
        try:
            view = memoryview(buffer)[: part.length]
            view = view[: await anyio.to_thread.run_sync(source.read_into, view, part.offset)]
            digest = await anyio.to_thread.run_sync(digest_body, view, kind, sign)
        except BaseException:
            release()
            raise
        return MemoryBody(view, release), digest

    async def _put(
        self,
        request: UploadRequest,
        counters: Counters,
        body: Body,
        digest: PartDigest,
        progress: Progress,
    ) -> tuple[StoredBody, Checksum, int]:
        where = Where(request.bucket, request.key)
        args = request.extra_args
        token = None
        if args.get("IfNoneMatch") == "*":
            # A conditional PUT whose answer is lost is refused on retry by its own write; a
            # token in the metadata tells that apart from an object someone else wrote.
            token = secrets.token_hex(16)
            args = _with_token(args, token)
        try:
            stored = await self.retrier.run(
                lambda: self._transport.put_object(
                    where, body, digest, self._kind, args, progress.tracker(1)
                ),
                counters,
                reread=partial(self._reread, request.source, body, digest),
            )
        except S3RequestError as exc:
            if token is None or exc.code != "PreconditionFailed" or exc.attempts < 2:
                raise
            head = await self._confirm(request, where, token, body.length, None, counters)
            if head is None:
                raise
            stored = StoredBody(head.get("ETag", ""), head.get("VersionId"), digest.checksum_b64)
        self._check_echo(stored, digest, where)
        progress.finished()
        confirmed = stored.checksum is not None
        checksum = Checksum(self._kind.algorithm, digest.checksum_b64, confirmed=confirmed)
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
                    Where(request.bucket, request.key),
                    plan,
                    self._kind,
                    request.extra_args,
                    _part_args(request),
                    counters,
                    partial(self._abort, reason="a stale interrupted upload", counters=counters),
                )
            skip = resumed.parts if resumed is not None else {}
            counters.resumed_parts = len(skip)
            progress.advance(sum(part.length for part, _, _ in skip.values()))

            async def read_parts(emit: Emit) -> None:
                for part in plan.parts():
                    if part.number not in skip:
                        body, digest = await self._prepare_part(request.source, part)
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
            Where(request.bucket, request.key),
            endpoint=self._transport.endpoint_url,
            transport=self._transport,
            retrier=self.retrier,
        )

    async def _stream(
        self, request: UploadRequest, counters: Counters
    ) -> tuple[StoredBody, Checksum, int, int, str | None]:
        """A stream of unknown size: single PUT if it ends within the first part."""
        base = self._config.part_size
        first, first_digest = await self._prepare_part(request.source, Part(1, 0, base))
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
                body, digest = await self._prepare_part(
                    request.source, Part(number, offset, length)
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

        progress = Progress(None, request.on_progress)
        return await self._run_multipart(request, counters, progress, read_parts)

    async def _create(self, request: UploadRequest, counters: Counters, token: str) -> str:
        kind = self._kind
        create_args = _with_token(
            {k: v for k, v in request.extra_args.items() if k not in _CREATE_EXCLUDED}, token
        )
        where = Where(request.bucket, request.key)
        created = await self.retrier.run(
            lambda: self._transport.call(
                "CreateMultipartUpload",
                where,
                Bucket=request.bucket,
                Key=request.key,
                ChecksumAlgorithm=kind.algorithm,
                ChecksumType=kind.multipart_type,
                **create_args,
            ),
            counters,
        )
        upload_id: str = created["UploadId"]
        return upload_id

    async def _refuse_existing(self, request: UploadRequest, counters: Counters) -> None:
        """With overwrite=False, an existing key is refused before any part is sent (the
        conditional CompleteMultipartUpload still decides a race)."""
        if request.extra_args.get("IfNoneMatch") != "*":
            return
        try:
            exists = await self._head(request, counters) is not None
        except S3RequestError:
            return  # e.g. 403 for a missing key without s3:ListBucket: Complete will decide
        if exists:
            raise _exists(request)

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
        if resumed is not None:
            upload_id, token = resumed.upload_id, resumed.token
            done = dict(resumed.parts)
        else:
            await self._refuse_existing(request, counters)
            token = secrets.token_hex(16)
            upload_id = await self._create(request, counters, token)
            done = {}
        where = Where(request.bucket, request.key, upload_id)
        part_args = _part_args(request)
        try:
            if resumption is not None and resumed is None:
                assert plan is not None
                header = await resumption.describe(
                    where, plan, self._kind, request.extra_args, upload_id, token
                )
                resumption.started(header)
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
                            part_where = Where(request.bucket, request.key, upload_id, part.number)
                            stored = await self.retrier.run(
                                self._part_sender(part_where, body, digest, part_args, progress),
                                counters,
                                reread=partial(self._reread, request.source, body, digest),
                            )
                            self._check_echo(stored, digest, part_where)
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

            if isinstance(request.source, FileSource):
                await anyio.to_thread.run_sync(request.source.check_unchanged)
            ordered = [done[n] for n in sorted(done)]
            size = sum(part.length for part, _, _ in ordered)
            completed, checksum = await self._complete(request, counters, where, ordered, token)
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
            await self._abort(where, reason=type(exc).__name__, counters=counters)
            if resumption is not None:
                resumption.finished()
            raise
        if resumption is not None:
            resumption.finished()
        return completed, checksum, size, len(ordered), upload_id

    async def _complete(
        self,
        request: UploadRequest,
        counters: Counters,
        where: Where,
        parts: list[tuple[Part, StoredBody, PartDigest]],
        token: str,
    ) -> tuple[StoredBody, Checksum]:
        kind = self._kind
        complete_args = {k: v for k, v in request.extra_args.items() if k in _COMPLETE_ARGS}
        listing = [
            {"PartNumber": part.number, "ETag": stored.etag, kind.param: digest.checksum_b64}
            for part, stored, digest in parts
        ]
        if kind.multipart_type == "FULL_OBJECT":
            expected = b64(kind.combine([(d.checksum, p.length) for p, _, d in parts]))
            complete_args[kind.param] = expected
            complete_args["ChecksumType"] = "FULL_OBJECT"
        else:
            expected = composite_checksum([d.checksum for _, _, d in parts])
        try:
            response = await self.retrier.run(
                lambda: self._transport.call(
                    "CompleteMultipartUpload",
                    where,
                    Bucket=where.bucket,
                    Key=where.key,
                    UploadId=where.upload_id,
                    MultipartUpload={"Parts": listing},
                    **complete_args,
                ),
                counters,
                budgeted=False,
                max_attempts=COMPLETE_ATTEMPTS,
            )
        except S3RequestError as exc:
            # An earlier attempt may have completed the upload, its answer lost: then a retry
            # fails (AWS: NoSuchUpload) although the object is there. Only the object itself,
            # carrying this upload's token, shows that.
            size = sum(part.length for part, _, _ in parts)
            confirmed = await self._confirm(request, where, token, size, expected, counters)
            if confirmed is None:
                raise
            logger.info(
                "CompleteMultipartUpload failed (%s) but the object is there: confirmed by "
                "HeadObject for upload %s",
                exc.code or "no answer",
                where.upload_id,
            )
            response = confirmed
        reported = response.get(kind.param)
        if reported is not None and not same_checksum(reported, expected):
            raise IntegrityError(
                f"S3 reports object checksum {kind.algorithm} {reported}, expected {expected}",
                bucket=where.bucket,
                key=where.key,
                upload_id=where.upload_id,
            )
        checksum = Checksum(kind.algorithm, expected, kind.multipart_type, reported is not None)
        stored = StoredBody(
            etag=response.get("ETag", ""),
            version_id=response.get("VersionId"),
            checksum=reported,
        )
        return stored, checksum

    async def _confirm(
        self,
        request: UploadRequest,
        where: Where,
        token: str,
        size: int,
        expected: str | None,
        counters: Counters,
    ) -> dict[str, Any] | None:
        """HeadObject's answer if the object is the one this upload wrote, else None."""
        try:
            head = await self._head(request, counters)
        except S3RequestError:
            return None
        if head is None:
            return None
        reported = head.get(self._kind.param)
        differs = (
            reported is not None and expected is not None and not same_checksum(reported, expected)
        )
        if (
            head.get("Metadata", {}).get(TOKEN_METADATA) != token
            or head.get("ContentLength") != size
            or differs
        ):
            return None
        return head

    async def _head(self, request: UploadRequest, counters: Counters) -> dict[str, Any] | None:
        """The object's HeadObject answer (checksum included), or None if there is none."""
        try:
            head: dict[str, Any] = await self.retrier.run(
                lambda: self._transport.call(
                    "HeadObject",
                    Where(request.bucket, request.key),
                    Bucket=request.bucket,
                    Key=request.key,
                    ChecksumMode="ENABLED",
                    **_part_args(request),
                ),
                counters,
                limited=False,
                budgeted=False,
            )
        except S3RequestError as exc:
            if exc.status == 404:
                return None
            raise
        return head

    async def _verify(
        self, request: UploadRequest, result: UploadResult, counters: Counters
    ) -> None:
        """HeadObject agrees with what was uploaded: size, checksum, number of parts."""
        head = await self._head(request, counters)
        problems = []
        if head is None:
            problems.append("HeadObject finds no object")
        else:
            if head.get("ContentLength") != result.size:
                problems.append(f"size {head.get('ContentLength')}, uploaded {result.size}")
            reported = head.get(self._kind.param)
            if result.checksum and reported and not same_checksum(reported, result.checksum.value):
                problems.append(
                    f"{self._kind.algorithm} {reported}, uploaded {result.checksum.value}"
                )
            etag = str(head.get("ETag", "")).strip('"')
            parts_in_etag = etag.rsplit("-", 1)[1] if "-" in etag else None
            if result.strategy == "multipart" and parts_in_etag not in (None, str(result.parts)):
                problems.append(f"ETag {etag} names another number of parts than {result.parts}")
        if problems:
            raise IntegrityError(
                "verification after the upload failed: " + "; ".join(problems),
                bucket=request.bucket,
                key=request.key,
                upload_id=result.upload_id,
            )

    async def _abort(self, where: Where, *, reason: str, counters: Counters) -> bool:
        """Abort a multipart upload, shielded from cancellation; True if it is gone. An abort
        that fails is remembered in the journal, for the next run or ``resilient-s3 cleanup``."""
        assert where.upload_id is not None
        problem = "it timed out"
        with anyio.CancelScope(shield=True), anyio.move_on_after(ABORT_TIMEOUT):
            try:
                await self.retrier.run(
                    partial(self._transport.abort_multipart_upload, where),
                    counters,
                    limited=False,
                    budgeted=False,
                )
                logger.info(
                    "aborted multipart upload %s for s3://%s/%s after %s",
                    where.upload_id,
                    where.bucket,
                    where.key,
                    reason,
                )
                return True
            except UploadError as exc:
                if isinstance(exc, S3RequestError) and exc.code == "NoSuchUpload":
                    return True
                problem = exc.message
        logger.warning(
            "could not abort multipart upload %s for s3://%s/%s (%s); remembered for "
            "`resilient-s3 cleanup`",
            where.upload_id,
            where.bucket,
            where.key,
            problem,
        )
        self.journal.remember_abort(
            self._transport.endpoint_url, where.bucket, where.key, where.upload_id
        )
        return False

    async def abort_orphan(self, where: Where, header: Header, *, reason: str) -> None:
        """Abort an interrupted upload that cannot be resumed, and forget its journal entry."""
        await self._abort(where, reason=reason, counters=Counters())
        entry = self.journal.open(header.endpoint, header.bucket, header.key, Path(header.path))
        if entry is not None:
            entry.remove()
            entry.close()

    async def retry_remembered_aborts(self, limit: int = 16, seconds: float = 30.0) -> int:
        """One more try at the aborts the journal remembers for this endpoint (at most
        ``limit``, within ``seconds``); the number done. One that S3 refuses for good (no
        permission) is forgotten, with a warning; one that fails for now stays."""
        done = 0
        endpoint = self._transport.endpoint_url
        pending = [(p, a) for p, a in self.journal.pending_aborts() if a.endpoint == endpoint]
        with anyio.move_on_after(seconds):
            for path, remembered in pending[:limit]:
                where = Where(remembered.bucket, remembered.key, remembered.upload_id)
                try:
                    await self.retrier.run(
                        partial(self._transport.abort_multipart_upload, where),
                        Counters(),
                        limited=False,
                        max_attempts=1,
                    )
                except UploadError as exc:
                    gone = isinstance(exc, S3RequestError) and exc.code == "NoSuchUpload"
                    final = isinstance(exc, S3RequestError) and exc.status in (401, 403)
                    if final:
                        logger.warning(
                            "giving up aborting multipart upload %s: %s", where.upload_id, exc
                        )
                    if not (gone or final):
                        continue
                with contextlib.suppress(OSError):
                    path.unlink()
                done += 1
        return done

    # -- helpers -----------------------------------------------------------------------------

    def _part_sender(
        self,
        where: Where,
        body: Body,
        digest: PartDigest,
        args: Mapping[str, Any],
        progress: Progress,
    ) -> Callable[[], Awaitable[StoredBody]]:
        """One attempt at sending a part, with a fresh progress tracker each time."""
        assert where.part_number is not None
        number = where.part_number
        return lambda: self._transport.upload_part(
            where, body, digest, self._kind, args, progress.tracker(number)
        )

    async def _reread(self, source: Source, body: Body, digest: PartDigest) -> None:
        """After a BadDigest: S3 hashed other bytes than were sent. A file part is read and
        hashed again: if the file changed, the upload must not go on; if not, the bytes were
        damaged in transit and are sent again (a buffered stream part is resent as it is)."""
        if not isinstance(body, FileBody):
            return
        fresh = await anyio.to_thread.run_sync(
            digest_file_range,
            source.read_into,
            body.offset,
            body.length,
            self._kind,
            self._sign_payload(),
        )
        if fresh.checksum != digest.checksum:
            raise SourceChangedError(
                f"{body.source.path} changed while it was uploaded (S3 answered BadDigest and "
                "the part reads differently now)"
            )

    async def _refuse_overlong_stream(self, source: Source, offset: int, base: int) -> None:
        probe = memoryview(bytearray(1))
        if await anyio.to_thread.run_sync(source.read_into, probe, offset):
            raise ObjectTooLargeError(
                f"the stream is longer than {format_size(stream_capacity(base))}, the most "
                f"{MAX_PARTS:,} parts starting at {format_size(base)} can hold; "
                "use a larger UploadConfig.part_size for streams this long"
            )

    def _sign_payload(self) -> bool:
        if self._config.sign_payload is not None:
            return self._config.sign_payload
        return not self._transport.is_https

    def _check_echo(self, stored: StoredBody, digest: PartDigest, where: Where) -> None:
        if stored.checksum is not None and stored.checksum != digest.checksum_b64:
            raise IntegrityError(
                f"S3 stored {self._kind.algorithm} {stored.checksum}, sent {digest.checksum_b64}",
                bucket=where.bucket,
                key=where.key,
                upload_id=where.upload_id,
                part_number=where.part_number,
            )


def _exists(request: UploadRequest) -> ObjectExistsError:
    return ObjectExistsError(
        "an object exists at the key and overwrite=False refuses to replace it: nothing was "
        "written",
        bucket=request.bucket,
        key=request.key,
    )


def _with_token(args: Mapping[str, Any], token: str) -> dict[str, Any]:
    """``args`` with this upload's token added to the object's metadata."""
    return {**args, "Metadata": {**args.get("Metadata", {}), TOKEN_METADATA: token}}


def _part_args(request: UploadRequest) -> dict[str, Any]:
    return {k: v for k, v in request.extra_args.items() if k in _PART_ARGS}


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


def _kind(config: UploadConfig) -> ChecksumKind:
    return CHECKSUM_KINDS[config.checksum_algorithm]
