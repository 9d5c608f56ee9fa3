"""Resuming a file's multipart upload after a crash, from its journal entry and ListParts.

A part counts as uploaded when the journal recorded it (with the checksum that was sent) *and*
ListParts shows it with the same ETag and size. Everything else is uploaded again. The file
must be the same version (size, mtime, inode and a sample hash), cut the same way, with the
same object attributes; otherwise the interrupted upload is aborted and the upload starts over,
never mixing two versions of a file.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from ._checksums import ChecksumKind, PartDigest, digest_file_range
from ._exceptions import RetriesExhaustedError, S3RequestError
from ._journal import (
    SECRET_ARGS,
    Entry,
    Header,
    Journal,
    JournalPart,
    args_digest,
    without_secrets,
)
from ._planner import Part, UploadPlan
from ._retry import Counters, Retrier
from ._source import FileSource
from ._transport import S3Transport, StoredBody, Where

logger = logging.getLogger("resilient_s3")

SAMPLE = 64 * 1024

Abort = Callable[[Where], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Resumed:
    upload_id: str
    token: str
    parts: dict[int, tuple[Part, StoredBody, PartDigest]]


class Resumption:
    """The journal side of one file's multipart upload."""

    def __init__(
        self,
        entry: Entry,
        *,
        source: FileSource,
        endpoint: str,
        transport: S3Transport,
        retrier: Retrier,
    ) -> None:
        self._entry = entry
        self._source = source
        self._endpoint = endpoint
        self._transport = transport
        self._retrier = retrier
        self._broken = False

    @classmethod
    def open(
        cls,
        journal: Journal,
        source: FileSource,
        where: Where,
        *,
        endpoint: str,
        transport: S3Transport,
        retrier: Retrier,
    ) -> Resumption | None:
        entry = journal.open(endpoint, where.bucket, where.key, source.path.resolve())
        if entry is None:
            return None
        return cls(entry, source=source, endpoint=endpoint, transport=transport, retrier=retrier)

    async def find(
        self,
        where: Where,
        plan: UploadPlan,
        kind: ChecksumKind,
        args: Mapping[str, Any],
        part_args: Mapping[str, Any],
        counters: Counters,
        abort: Abort,
    ) -> Resumed | None:
        """The interrupted upload to go on with, or None (a stale one is aborted first)."""
        found = self._entry.read()
        if found is None:
            return None
        header, journaled = found
        stale = Where(where.bucket, where.key, header.upload_id)

        async def start_over(what_changed: str) -> None:
            logger.info(
                "s3://%s/%s: %s since the interrupted upload %s; aborting it and starting over",
                where.bucket,
                where.key,
                what_changed,
                header.upload_id,
            )
            await abort(stale)
            self._entry.remove()

        expected = await self.describe(where, plan, kind, args, header.upload_id, header.token)
        if _comparable(header) != _comparable(expected):
            await start_over("the file or the upload settings changed")
            return None
        try:
            listed = await self._list_parts(stale, counters, part_args)
        except RetriesExhaustedError:
            raise  # S3 is unwell: try again later, the entry stays
        except S3RequestError as exc:
            # NoSuchUpload, or no permission to list parts: this upload cannot be resumed.
            if exc.code != "NoSuchUpload":
                logger.info(
                    "cannot resume upload %s (%s); starting over", header.upload_id, exc.code
                )
                await abort(stale)
            self._entry.remove()
            return None
        candidates = [
            (part, journaled[part.number])
            for part in plan.parts()
            if part.number in journaled
            and listed.get(part.number) == (journaled[part.number].etag, part.length)
        ]
        # The fingerprint samples the file; the parts to keep are read in full, so that a
        # change it missed cannot be mixed into the object.
        if not await anyio.to_thread.run_sync(self._unchanged, candidates, kind):
            await start_over("the file's content changed")
            return None
        parts = {}
        for part, record in candidates:
            digest = PartDigest(checksum=base64.b64decode(record.checksum), payload_sha256=None)
            parts[part.number] = (part, StoredBody(record.etag, None, record.checksum), digest)
        logger.info(
            "s3://%s/%s: resuming upload %s with %d of %d parts already uploaded",
            where.bucket,
            where.key,
            header.upload_id,
            len(parts),
            plan.part_count,
        )
        return Resumed(header.upload_id, header.token, parts)

    async def describe(
        self,
        where: Where,
        plan: UploadPlan,
        kind: ChecksumKind,
        args: Mapping[str, Any],
        upload_id: str,
        token: str,
    ) -> Header:
        fingerprint = self._source.fingerprint
        return Header(
            endpoint=self._endpoint,
            bucket=where.bucket,
            key=where.key,
            path=str(self._source.path.resolve()),
            upload_id=upload_id,
            token=token,
            part_size=plan.part_size,
            algorithm=kind.algorithm,
            args=args_digest(dict(args)),
            size=fingerprint.size,
            mtime_ns=fingerprint.mtime_ns,
            inode=fingerprint.inode,
            sample=await anyio.to_thread.run_sync(_sample_sha256, self._source),
            created=time.time(),
            extra_args=without_secrets(dict(args)),
            needs_secrets=any(name in SECRET_ARGS for name in args),
        )

    def _unchanged(self, candidates: list[tuple[Part, JournalPart]], kind: ChecksumKind) -> bool:
        for part, record in candidates:
            digest = digest_file_range(
                self._source.read_into, part.offset, part.length, kind, False
            )
            if digest.checksum_b64 != record.checksum:
                return False
        return True

    def started(self, header: Header) -> None:
        self._journaling(lambda: self._entry.start(header))

    def part_done(self, part: Part, stored: StoredBody, digest: PartDigest) -> None:
        record = JournalPart(part.number, stored.etag, digest.checksum_b64, part.length)
        self._journaling(lambda: self._entry.add_part(record))

    def _journaling(self, write: Callable[[], None]) -> None:
        """The journal is an aid: if it cannot be written (full disk, read-only directory),
        the upload goes on without it."""
        if self._broken:
            return
        try:
            write()
        except (OSError, TypeError, ValueError) as exc:
            self._broken = True
            logger.warning(
                "the journal cannot be written (%s): this upload will not resume after a crash",
                exc,
            )
            self._entry.remove()

    def finished(self) -> None:
        """The upload completed, or was aborted: nothing to resume."""
        self._entry.remove()

    def close(self) -> None:
        self._entry.close()

    async def _list_parts(
        self, where: Where, counters: Counters, args: Mapping[str, Any]
    ) -> dict[int, tuple[str, int]]:
        listed: dict[int, tuple[str, int]] = {}
        marker = 0
        while True:
            page = await self._retrier.run(
                lambda marker=marker: self._transport.call(  # type: ignore[misc]
                    "list_parts",
                    where,
                    Bucket=where.bucket,
                    Key=where.key,
                    UploadId=where.upload_id,
                    PartNumberMarker=marker,
                    **args,
                ),
                counters,
            )
            for part in page.get("Parts", []):
                listed[part["PartNumber"]] = (part["ETag"], part["Size"])
            if not page.get("IsTruncated"):
                return listed
            marker = page["NextPartNumberMarker"]


_NOT_COMPARED = frozenset({"upload_id", "token", "created", "extra_args", "needs_secrets"})
"""Header fields that name the interrupted upload rather than what it uploads (extra_args is
compared through its digest, ``args``)."""


def _comparable(header: Header) -> tuple[Any, ...]:
    """The fields that must match for an upload to be resumed: all the others."""
    return tuple(
        getattr(header, f.name) for f in dataclasses.fields(header) if f.name not in _NOT_COMPARED
    )


def _sample_sha256(source: FileSource) -> str:
    """SHA-256 of the file's first, middle and last 64 KiB (all of it when smaller)."""
    size = source.fingerprint.size
    digest = hashlib.sha256()
    for offset in sorted({0, max(0, size // 2 - SAMPLE // 2), max(0, size - SAMPLE)}):
        digest.update(source.read_bytes(offset, min(SAMPLE, size - offset)))
    return digest.hexdigest()
