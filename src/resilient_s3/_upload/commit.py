"""Creating and completing a multipart upload, and knowing for sure that it landed.

Every multipart upload (and every conditional PUT) writes a random token into the object's
metadata. When CompleteMultipartUpload fails, or its answer is lost (a retry may then get
NoSuchUpload although the object exists), HeadObject decides: the object is this upload's only
if it carries the token, the size and the checksum. ``verify`` checks an object after upload.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from .._diagnostics.codes import CODES
from .._exceptions import IntegrityError, ObjectExistsError, S3RequestError
from .._resilience.retry import Counters, Retrier
from .._result import Checksum, UploadResult
from .._s3.errors import Where
from .backend import CompletedPart, StoredBody, UploadBackend
from .checksums import PartDigest, b64, composite_checksum, same_checksum
from .planner import Part, UploadPlan

logger = logging.getLogger("resilient_s3")

COMPLETE_ATTEMPTS = 3
"""CompleteMultipartUpload is sent at most this often; if it still fails (or was never
answered), HeadObject decides whether the object is there."""

TOKEN_METADATA = "resilient-s3-upload"
"""Object metadata key holding a token unique to each multipart upload: HeadObject shows
whether the object there was written by that upload."""

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

SentPart = tuple[Part, StoredBody, PartDigest]


def part_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """The extra_args UploadPart, ListParts and HeadObject take (SSE-C keys, payer)."""
    return {k: v for k, v in args.items() if k in _PART_ARGS}


def with_token(args: Mapping[str, Any], token: str) -> dict[str, Any]:
    """``args`` with this upload's token added to the object's metadata."""
    return {**args, "Metadata": {**args.get("Metadata", {}), TOKEN_METADATA: token}}


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

    def __init__(self, backend: UploadBackend, retrier: Retrier) -> None:
        self._backend = backend
        self._retrier = retrier
        self._kind = backend.kind

    async def create(
        self,
        where: Where,
        args: Mapping[str, Any],
        token: str,
        counters: Counters,
        plan: UploadPlan | None = None,
    ) -> str:
        create_args = with_token(
            {k: v for k, v in args.items() if k not in _CREATE_EXCLUDED}, token
        )
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
        token: str,
        counters: Counters,
    ) -> tuple[StoredBody, Checksum]:
        kind = self._kind
        complete_args = {k: v for k, v in args.items() if k in _COMPLETE_ARGS}
        if kind.multipart_type == "FULL_OBJECT":
            expected = b64(kind.combine([(d.checksum, p.length) for p, _, d in parts]))
            complete_args[kind.param] = expected
            complete_args["ChecksumType"] = "FULL_OBJECT"
        else:
            expected = composite_checksum([d.checksum for _, _, d in parts])
        listing = [CompletedPart(p.number, s.etag, d.checksum_b64) for p, s, d in parts]
        try:
            response = await self._retrier.run(
                lambda: self._backend.complete_multipart(where, listing, complete_args),
                counters,
                budgeted=False,
                max_attempts=COMPLETE_ATTEMPTS,
            )
        except S3RequestError as exc:
            # An earlier attempt may have completed the upload, its answer lost: then a retry
            # fails (AWS: NoSuchUpload) although the object is there. Only the object itself,
            # carrying this upload's token, shows that.
            size = sum(part.length for part, _, _ in parts)
            confirmed = await self.confirm(where, args, token, size, expected, counters)
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

    async def confirm(
        self,
        where: Where,
        args: Mapping[str, Any],
        token: str,
        size: int,
        expected: str | None,
        counters: Counters,
    ) -> dict[str, Any] | None:
        """HeadObject's answer if the object is the one this upload wrote, else None."""
        try:
            head = await self.head(where, args, counters)
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

    async def confirm_put(
        self,
        where: Where,
        args: Mapping[str, Any],
        token: str,
        size: int,
        digest: PartDigest,
        counters: Counters,
    ) -> StoredBody | None:
        """A conditional PUT refused on retry by its own first attempt (whose answer was lost):
        what the object holds, if it carries this PUT's token and size, else None. Its checksum
        is the one HeadObject reports, None if it reports none (then nothing confirmed it);
        IntegrityError if it reports another than was sent."""
        head = await self.confirm(where, args, token, size, None, counters)
        if head is None:
            return None
        reported = head.get(self._kind.param)
        sent = digest.checksum_b64
        if reported is not None and not same_checksum(reported, sent):
            raise IntegrityError(
                f"HeadObject reports {self._kind.algorithm} {reported} for the object this PUT "
                f"wrote, sent {sent}",
                bucket=where.bucket,
                key=where.key,
            )
        return StoredBody(head.get("ETag", ""), head.get("VersionId"), reported)

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
