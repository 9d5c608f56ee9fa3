"""Creating and completing a multipart upload, and knowing for sure that it landed.

When CompleteMultipartUpload fails after an attempt that may have completed it (its answer
lost: a retry may then get NoSuchUpload although the object exists), HeadObject decides, and
ListParts: the object is this upload's only if what it shows proves it (the ETag the parts
make, the checksum; see ``evidence.py``) and the upload is gone. Nothing is added to the
object's metadata for it unless ``UploadConfig(completion_token=True)``. ``verify`` checks an
object after upload.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import anyio

from .._diagnostics.codes import CODES
from .._exceptions import IntegrityError, ObjectExistsError, S3RequestError, UploadError
from .._resilience.retry import Counters, Retrier
from .._result import Checksum, UploadResult
from .._s3.errors import Where
from .arguments import ChecksumChoice, complete_args, part_args
from .backend import CompletedPart, StoredBody, UploadBackend
from .body import Body
from .checksums import PartDigest, b64, same_checksum
from .evidence import (
    TOKEN_METADATA,
    Attempts,
    Expected,
    Judgement,
    Origin,
    body_md5,
    encrypted_args,
    judge,
    multipart_etag,
    needs_body_md5,
)
from .planner import Part, UploadPlan

logger = logging.getLogger("resilient_s3")

COMPLETE_ATTEMPTS = 3
"""CompleteMultipartUpload is sent at most this often; if it still fails (or was never
answered), HeadObject decides whether the object is there."""

# Which extra_args travel with which request: arguments.py (part_args, create_args,
# complete_args), as s3transfer routes them.
_CREATE_EXCLUDED = frozenset({"IfNoneMatch", "IfMatch"})

SentPart = tuple[Part, StoredBody, PartDigest]


def with_token(args: Mapping[str, Any], token: str) -> dict[str, Any]:
    """``args`` with this upload's token added to the object's metadata."""
    return {**args, "Metadata": {**args.get("Metadata", {}), TOKEN_METADATA: token}}


def marked(args: Mapping[str, Any], origin: Origin) -> dict[str, Any]:
    """``args`` with the upload's token in the metadata if it is to be written there
    (``UploadConfig(completion_token=True)``), else ``args`` as the caller gave them."""
    return with_token(args, origin.token) if origin.marked else dict(args)


def exists_error(where: Where) -> ObjectExistsError:
    return ObjectExistsError(
        "an object exists at the key and overwrite=False refuses to replace it: nothing was "
        "written",
        bucket=where.bucket,
        key=where.key,
        diagnosis=CODES["PreconditionFailed"].diagnosis(f"s3://{where.bucket}/{where.key} exists"),
    )


def refuses_overwrite(args: Mapping[str, Any]) -> bool:
    return args.get("IfNoneMatch") == "*"


class Commit:
    """The protocol around the parts: create, complete, confirm, verify."""

    def __init__(
        self,
        backend: UploadBackend,
        retrier: Retrier,
        *,
        completion_token: bool = False,
        checksum: ChecksumChoice | None = None,
    ) -> None:
        self._backend = backend
        self._retrier = retrier
        # One upload's checksum, as its extra_args chose it; else the backend's.
        self._choice = checksum or ChecksumChoice(
            backend.kind, multipart_type=backend.kind.multipart_type
        )
        self._kind = self._choice.kind
        self._completion_token = completion_token

    def with_checksum(self, checksum: ChecksumChoice) -> Commit:
        """The same protocol for one upload whose extra_args chose its checksum."""
        return Commit(
            self._backend,
            self._retrier,
            completion_token=self._completion_token,
            checksum=checksum,
        )

    def origin(self) -> Origin:
        """A new upload's token and start, taken just before its first writing request."""
        return Origin.new(marked=self._completion_token)

    async def create(
        self,
        where: Where,
        args: Mapping[str, Any],
        origin: Origin,
        counters: Counters,
        plan: UploadPlan | None = None,
    ) -> str:
        create_args = marked({k: v for k, v in args.items() if k not in _CREATE_EXCLUDED}, origin)
        return await self._retrier.run(
            lambda: self._backend.create_multipart(where, create_args, plan), counters
        )

    async def refuse_existing(
        self, where: Where, args: Mapping[str, Any], counters: Counters
    ) -> None:
        """With overwrite=False, an existing key is refused before any part is sent (the
        conditional CompleteMultipartUpload still decides a race)."""
        if not refuses_overwrite(args):
            return
        try:
            exists = await self.head(where, args, counters) is not None
        except S3RequestError:
            return  # e.g. 403 for a missing key without s3:ListBucket: Complete will decide
        if exists:
            raise exists_error(where)

    async def complete(
        self,
        where: Where,
        args: Mapping[str, Any],
        parts: Sequence[SentPart],
        origin: Origin,
        counters: Counters,
    ) -> tuple[StoredBody, Checksum]:
        kind, choice = self._kind, self._choice
        completing = complete_args(args, choice)
        if choice.multipart_type == "FULL_OBJECT":
            expected = b64(kind.combine([(d.checksum, p.length) for p, _, d in parts]))
            choice.check_digest(expected, where, "the upload is aborted, nothing was stored")
            # The object's one checksum: the caller's when given (equal to the parts'), which
            # S3 checks against the parts it holds.
            completing[kind.param] = expected
            completing["ChecksumType"] = "FULL_OBJECT"
        else:
            expected = kind.composite([d.checksum for _, _, d in parts])
        listing = [
            CompletedPart(p.number, s.etag, d.checksum_b64, kind.algorithm) for p, s, d in parts
        ]
        attempts = Attempts()
        try:
            response = await self._retrier.run(
                attempts.watch(
                    lambda: self._backend.complete_multipart(where, listing, completing)
                ),
                counters,
                budgeted=False,
                max_attempts=COMPLETE_ATTEMPTS,
            )
        except S3RequestError as exc:
            # An earlier attempt may have completed the upload, its answer lost: then a retry
            # fails (AWS: NoSuchUpload) although the object is there. Only the object itself
            # shows that; an upload every attempt of which was refused outright wrote nothing.
            if not attempts.uncertain:
                raise
            wanted = Expected(
                size=sum(part.length for part, _, _ in parts),
                checksum_param=kind.param,
                checksum=expected,
                parts=len(parts),
                etag=multipart_etag([stored.etag for _, stored, _ in parts]),
                encrypted=encrypted_args(args),
            )
            found = await self.confirm(where, args, origin, wanted, counters)
            if found is None:
                raise
            response, proof = found
            logger.info(
                "CompleteMultipartUpload failed (%s) but the object is there: confirmed by "
                "HeadObject for upload %s (%s)",
                exc.code or "no answer",
                where.upload_id,
                proof,
            )
        reported = response.get(kind.param)
        if reported is not None and not same_checksum(reported, expected):
            raise IntegrityError(
                f"S3 reports object checksum {kind.algorithm} {reported}, expected {expected}",
                bucket=where.bucket,
                key=where.key,
                upload_id=where.upload_id,
            )
        confirmed = reported is not None
        checksum = Checksum(kind.algorithm, expected, choice.multipart_type, confirmed)
        stored = StoredBody(
            etag=response.get("ETag", ""),
            version_id=response.get("VersionId"),
            checksum=reported,
        )
        return stored, checksum

    async def confirm(
        self,
        where: Where,
        args: Mapping[str, Any],
        origin: Origin,
        expected: Expected,
        counters: Counters,
    ) -> tuple[dict[str, Any], str] | None:
        """HeadObject's answer and what proved it, if the object at the key is the one this
        multipart upload wrote and the upload is gone (see ``evidence.py``); else None."""
        head, verdict = await self._judge(where, args, origin, expected, counters)
        if head is None or not verdict.ours:
            return None
        return head, verdict.why

    async def confirm_put(
        self,
        where: Where,
        args: Mapping[str, Any],
        origin: Origin,
        body: Body,
        digest: PartDigest,
        counters: Counters,
    ) -> StoredBody | None:
        """A conditional PUT refused on retry (412) after an attempt whose answer was lost:
        what the object holds, if it is this PUT's (its checksum, else its MD5 ETag, proves
        it: see ``evidence.py``), else None. Its checksum is the one HeadObject reports, None if
        it reports none (then nothing confirmed it); IntegrityError if the object carries this
        PUT's token (``completion_token=True``) but another checksum than was sent."""
        expected = Expected(
            body.length, self._kind.param, digest.checksum_b64, encrypted=encrypted_args(args)
        )
        head, verdict = await self._judge(where, args, origin, expected, counters, body)
        if head is None:
            return None
        if verdict.damaged is not None:
            raise IntegrityError(
                f"HeadObject finds the object this PUT wrote, but {verdict.damaged}",
                bucket=where.bucket,
                key=where.key,
            )
        if not verdict.ours:
            return None
        logger.info(
            "PutObject refused on retry (PreconditionFailed) but the object is this PUT's: "
            "confirmed by HeadObject (%s)",
            verdict.why,
        )
        return StoredBody(
            head.get("ETag", ""), head.get("VersionId"), head.get(expected.checksum_param)
        )

    async def _judge(
        self,
        where: Where,
        args: Mapping[str, Any],
        origin: Origin,
        expected: Expected,
        counters: Counters,
        body: Body | None = None,
    ) -> tuple[dict[str, Any] | None, Judgement]:
        try:
            head = await self.head(where, args, counters)
        except S3RequestError as exc:
            return None, Judgement(False, f"HeadObject failed: {exc.code or exc}")
        if head is None:
            verdict = Judgement(False, "HeadObject finds no object")
        else:
            md5 = None
            if body is not None and needs_body_md5(head, expected, origin):
                md5 = await anyio.to_thread.run_sync(body_md5, body)
            verdict = judge(head, expected, origin, md5)
            if verdict.ours and not origin.marked and await self._still_open(where, args, counters):
                verdict = Judgement(
                    False, f"upload {where.upload_id} is still open: never completed"
                )
        if not verdict.ours:
            logger.info(
                "s3://%s/%s: not confirmed as this upload's object: %s",
                where.bucket,
                where.key,
                verdict.why,
            )
        return head, verdict

    async def _still_open(self, where: Where, args: Mapping[str, Any], counters: Counters) -> bool:
        """Whether ListParts still lists the multipart upload (then it never completed); False
        when it is gone, when there is none (a single PUT), or when ListParts is refused."""
        if where.upload_id is None:
            return False
        try:
            await self._retrier.run(
                lambda: self._backend.list_parts(where, part_args(args)),
                counters,
                limited=False,
                budgeted=False,
                max_attempts=COMPLETE_ATTEMPTS,
            )
        except UploadError:
            return False  # NoSuchUpload: completed (or aborted); or no s3:ListMultipartUploadParts
        return True

    async def head(
        self, where: Where, args: Mapping[str, Any], counters: Counters
    ) -> dict[str, Any] | None:
        """The object's HeadObject answer (checksum included), or None if there is none."""
        target = Where(where.bucket, where.key)
        return await self._retrier.run(
            lambda: self._backend.head_object(target, part_args(args)),
            counters,
            limited=False,
            budgeted=False,
        )

    async def verify(
        self, where: Where, args: Mapping[str, Any], result: UploadResult, counters: Counters
    ) -> None:
        """HeadObject agrees with what was uploaded: size, checksum, number of parts."""
        head = await self.head(where, args, counters)
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
                bucket=where.bucket,
                key=where.key,
                upload_id=result.upload_id,
            )
