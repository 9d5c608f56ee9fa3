"""Aborting multipart uploads: the one owner of how, and of what happens when it fails.

An abort runs shielded from cancellation, with the uploader's fresh credentials, retried like
any request. One that still fails is remembered in the journal and tried again when the next
uploader opens for the endpoint, or by ``cleanup``. The policy, the same everywhere: an upload
that is gone already counts as aborted; a refusal for good (401/403: these credentials may not
abort it) forgets the remembered abort with a warning, since ``cleanup`` finds every stale
upload by listing anyway; anything else keeps it for the next try. A client without
credentials (presigned URLs) could never try again: its failed abort is not remembered, and
the warning says who can abort the upload.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path

import anyio

from .._exceptions import S3RequestError, UploadError
from .._resilience.retry import Counters, Retrier
from .._s3.errors import Where
from .backend import UploadBackend
from .journal import Header, Journal, PendingAbort

logger = logging.getLogger("resilient_s3")

ABORT_TIMEOUT = 60.0


class Aborts:
    """Aborts for one backend and its journal."""

    def __init__(self, backend: UploadBackend, retrier: Retrier, journal: Journal) -> None:
        self._backend = backend
        self._retrier = retrier
        self._journal = journal

    async def abort(
        self, where: Where, *, reason: str, counters: Counters, remember: bool = True
    ) -> str | None:
        """Abort a multipart upload, shielded from cancellation: None if it is gone, else why
        not. An abort that fails is remembered in the journal (unless ``remember`` is false),
        for the next run or ``resilient-s3 cleanup``."""
        assert where.upload_id is not None
        problem = "it timed out"
        with anyio.CancelScope(shield=True), anyio.move_on_after(ABORT_TIMEOUT):
            try:
                await self._retrier.run(
                    partial(self._backend.abort_multipart, where),
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
                return None
            except UploadError as exc:
                problem = exc.message
        if not remember:
            return problem
        if not self._backend.has_credentials:
            self._left_open(where, problem)
            return problem
        logger.warning(
            "could not abort multipart upload %s for s3://%s/%s (%s); remembered for "
            "`resilient-s3 cleanup`",
            where.upload_id,
            where.bucket,
            where.key,
            problem,
        )
        self._journal.remember_abort(
            self._backend.endpoint_url, where.bucket, where.key, where.upload_id
        )
        return problem

    def _left_open(self, where: Where, problem: str) -> None:
        placed = self._backend.placed(where)
        target = f"s3://{placed.bucket}/{placed.key}" if placed.bucket else f"key {placed.key}"
        logger.warning(
            "could not abort multipart upload %s of %s through the backend (%s): it stays "
            "open, its parts stored and billed until it is aborted. This client has no "
            "credentials to abort it; the backend's operator can, with `resilient-s3 cleanup "
            "%s` (or a lifecycle rule that aborts incomplete multipart uploads)",
            where.upload_id,
            target,
            problem,
            f"s3://{placed.bucket or 'BUCKET'}/{placed.key}",
        )

    async def abort_orphan(self, where: Where, header: Header, *, reason: str) -> None:
        """Abort an interrupted upload that cannot be resumed, and forget its journal entry."""
        await self.abort(where, reason=reason, counters=Counters())
        entry = self._journal.open(header.endpoint, header.bucket, header.key, Path(header.path))
        if entry is not None:
            entry.remove()
            entry.close()

    async def retry_remembered(
        self,
        *,
        wanted: Callable[[PendingAbort], bool] = lambda pending: True,
        limit: int | None = None,
        seconds: float | None = None,
        max_attempts: int | None = None,
    ) -> int:
        """Another try at the aborts the journal remembers for this endpoint (those ``wanted``,
        at most ``limit``, within ``seconds``); the number now aborted."""
        done = 0
        endpoint = self._backend.endpoint_url
        pending = [
            (path, remembered)
            for path, remembered in self._journal.pending_aborts()
            if remembered.endpoint == endpoint and wanted(remembered)
        ]
        with anyio.move_on_after(seconds if seconds is not None else float("inf")):
            for path, remembered in pending[:limit]:
                where = Where(remembered.bucket, remembered.key, remembered.upload_id)
                try:
                    await self._retrier.run(
                        partial(self._backend.abort_multipart, where),
                        Counters(),
                        limited=False,
                        budgeted=False,
                        max_attempts=max_attempts,
                    )
                except UploadError as exc:
                    if not (isinstance(exc, S3RequestError) and exc.status in (401, 403)):
                        continue  # for now: remembered still
                    logger.warning(
                        "giving up aborting multipart upload %s: %s", where.upload_id, exc
                    )
                else:
                    done += 1
                with contextlib.suppress(OSError):
                    path.unlink()
        return done
