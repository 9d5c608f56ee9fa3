"""Resuming a file's multipart upload after a crash, from its journal entry and ListParts.

A part counts as uploaded when ListParts shows it with the right size and the local bytes
provably match it: the journal recorded it with the same ETag (and the part reads the same
checksum again), or, for a part that landed after the last journal write (a crash with parts in
flight), its listed checksum or its MD5 ETag equals the local part's. Everything else is
uploaded again. The file
must be the same version (size, mtime, inode and a sample hash), cut the same way, with the
same object attributes; otherwise the interrupted upload is aborted and the upload starts over,
never mixing two versions of a file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from .._exceptions import RetriesExhaustedError, S3RequestError
from .._resilience.retry import Counters, Retrier
from .._s3.errors import Where
from .arguments import part_args
from .backend import ListedPart, StoredBody, UploadBackend
from .checksums import ChecksumKind, PartDigest, digest_file_range
from .evidence import Origin
from .journal import (
    SECRET_ARGS,
    Entry,
    Header,
    Journal,
    JournalPart,
    args_digest,
    without_secrets,
)
from .planner import Part, UploadPlan
from .source import FileSource

logger = logging.getLogger("resilient_s3")

SAMPLE = 64 * 1024

Abort = Callable[[Where], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Resumed:
    upload_id: str
    origin: Origin
    """Its token and when it started, as journaled (whether the token was written into the
    object's metadata is not: only a token found there counts)."""
    parts: dict[int, tuple[Part, StoredBody, PartDigest]]


class Resumption:
    """The journal side of one file's multipart upload."""

    def __init__(
        self,
        entry: Entry,
        *,
        source: FileSource,
        endpoint: str,
        backend: UploadBackend,
        retrier: Retrier,
        kind: ChecksumKind | None = None,
    ) -> None:
        self._entry = entry
        self._source = source
        self._endpoint = endpoint
        self._backend = backend
        self._kind = kind or backend.kind  # the upload's (its extra_args may choose it)
        self._retrier = retrier
        self._broken = False
        self._started = False

    @classmethod
    def open(
        cls,
        journal: Journal,
        source: FileSource,
        where: Where,
        *,
        endpoint: str,
        backend: UploadBackend,
        retrier: Retrier,
        kind: ChecksumKind | None = None,
    ) -> Resumption | None:
        entry = journal.open(endpoint, where.bucket, where.key, source.path.resolve())
        if entry is None:
            return None
        return cls(
            entry, source=source, endpoint=endpoint, backend=backend, retrier=retrier, kind=kind
        )

    async def find(
        self,
        where: Where,
        plan: UploadPlan,
        args: Mapping[str, Any],
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

        kind = self._kind
        origin = Origin(header.token, header.created)
        expected = await self.describe(where, plan, args, header.upload_id, origin)
        if _comparable(header) != _comparable(expected):
            await start_over("the file or the upload settings changed")
            return None
        try:
            listed = await self._retrier.run(
                lambda: self._backend.list_parts(stale, part_args(args)), counters
            )
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
        on_server = [
            (part, listed[part.number], journaled.get(part.number))
            for part in plan.parts()
            if part.number in listed and listed[part.number].size == part.length
        ]
        md5_etags = not any(args.get(name) for name in _NOT_MD5_ETAG_ARGS) and (
            args.get("ServerSideEncryption") not in _KMS
        )
        checked = await anyio.to_thread.run_sync(self._check_parts, on_server, kind, md5_etags)
        if checked is None:
            await start_over("the file's content changed")
            return None
        parts = {
            part.number: (part, StoredBody(server.etag, None, digest.checksum_b64), digest)
            for part, server, digest in checked
        }
        logger.info(
            "s3://%s/%s: resuming upload %s with %d of %d parts already uploaded",
            where.bucket,
            where.key,
            header.upload_id,
            len(parts),
            plan.part_count,
        )
        return Resumed(header.upload_id, origin, parts)

    async def describe(
        self,
        where: Where,
        plan: UploadPlan,
        args: Mapping[str, Any],
        upload_id: str,
        origin: Origin,
    ) -> Header:
        fingerprint = self._source.fingerprint
        return Header(
            endpoint=self._endpoint,
            bucket=where.bucket,
            key=where.key,
            path=str(self._source.path.resolve()),
            upload_id=upload_id,
            token=origin.token,
            part_size=plan.part_size,
            algorithm=self._kind.algorithm,
            args=args_digest(dict(args)),
            size=fingerprint.size,
            mtime_ns=fingerprint.mtime_ns,
            inode=fingerprint.inode,
            sample=await anyio.to_thread.run_sync(_sample_sha256, self._source),
            created=origin.started,
            extra_args=without_secrets(dict(args)),
            needs_secrets=any(name in SECRET_ARGS for name in args),
        )

    def _check_parts(
        self,
        on_server: list[tuple[Part, ListedPart, JournalPart | None]],
        kind: ChecksumKind,
        md5_etags: bool,
    ) -> list[tuple[Part, ListedPart, PartDigest]] | None:
        """The parts S3 holds that provably hold this file's bytes, each read once; None if
        a part the journal recorded reads differently now (the file changed in place)."""
        kept = []
        for part, server, record in on_server:
            journaled = record is not None and record.etag == server.etag
            want_md5 = not journaled and server.checksum is None and md5_etags
            if not (journaled or server.checksum is not None or want_md5):
                continue  # nothing to compare the local bytes with: send the part again
            digest = digest_file_range(
                self._source.read_into, part.offset, part.length, kind, False, md5=want_md5
            )
            if journaled:
                assert record is not None
                if digest.checksum_b64 != record.checksum:
                    return None
                kept.append((part, server, digest))
            elif part_matches(server, digest):
                kept.append((part, server, digest))
        return kept

    def started(self, header: Header) -> None:
        self._journaling(lambda: self._entry.start(header))
        self._started = True

    @property
    def resumable(self) -> bool:
        """Whether the journal holds this upload, so that a later run can go on with it."""
        return self._started and not self._broken

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


def part_matches(server: ListedPart, local: PartDigest) -> bool:
    """Whether S3's part holds the local bytes: by its checksum if listed, else by its ETag,
    the MD5 of the part unless it is encrypted with SSE-KMS or SSE-C (``local.md5_hex`` is
    None then, and nothing matches: the part is sent again)."""
    if server.checksum is not None:
        return server.checksum == local.checksum_b64
    return local.md5_hex is not None and server.etag.strip('"').lower() == local.md5_hex


_NOT_MD5_ETAG_ARGS = ("SSECustomerKey", "SSEKMSKeyId")
_KMS = ("aws:kms", "aws:kms:dsse")


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
