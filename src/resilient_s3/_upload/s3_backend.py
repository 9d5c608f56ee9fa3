"""The backend that talks to S3 with credentials, over the S3 transport."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._exceptions import S3RequestError
from .._s3.errors import Where
from .._s3.transport import S3Transport
from .backend import CompletedPart, ListedPart, StoredBody
from .body import Body
from .checksums import ChecksumKind, PartDigest
from .planner import UploadPlan


class S3Backend:
    """Uploads through an :class:`S3Transport`; see :class:`UploadBackend`."""

    has_credentials = True

    def __init__(self, transport: S3Transport, kind: ChecksumKind, *, sign_payload: bool) -> None:
        self.transport = transport
        self.kind = kind
        self._sign_payload = sign_payload

    @property
    def endpoint_url(self) -> str:
        return self.transport.endpoint_url

    @property
    def signs_payload(self) -> bool:
        return self._sign_payload

    def placed(self, where: Where) -> Where:
        return where

    async def put_object(
        self,
        where: Where,
        body: Body,
        digest: PartDigest,
        args: Mapping[str, Any],
        on_sent: Callable[[int], None],
    ) -> StoredBody:
        return await self._send("PutObject", where, body, digest, args, on_sent)

    async def upload_part(
        self,
        where: Where,
        body: Body,
        digest: PartDigest,
        args: Mapping[str, Any],
        on_sent: Callable[[int], None],
    ) -> StoredBody:
        return await self._send("UploadPart", where, body, digest, args, on_sent)

    async def _send(
        self,
        operation: str,
        where: Where,
        body: Body,
        digest: PartDigest,
        args: Mapping[str, Any],
        on_sent: Callable[[int], None],
    ) -> StoredBody:
        kind = self.kind
        # Both, as botocore sends them: some servers (moto) store the checksum only when told
        # the algorithm too.
        headers = {"x-amz-sdk-checksum-algorithm": kind.algorithm, kind.header: digest.checksum_b64}
        answer = await self.transport.send_body(
            operation,
            where,
            args,
            body,
            headers,
            payload_sha256=digest.payload_sha256,
            on_sent=on_sent,
        )
        return StoredBody(
            etag=answer.headers.get("etag", ""),
            version_id=answer.headers.get("x-amz-version-id"),
            checksum=answer.headers.get(kind.header),
        )

    async def create_multipart(
        self, where: Where, args: Mapping[str, Any], plan: UploadPlan | None = None
    ) -> str:
        created = await self.transport.call(
            "CreateMultipartUpload",
            where,
            Bucket=where.bucket,
            Key=where.key,
            ChecksumAlgorithm=self.kind.algorithm,
            ChecksumType=self.kind.multipart_type,
            **args,
        )
        upload_id: str = created["UploadId"]
        return upload_id

    async def complete_multipart(
        self, where: Where, parts: Sequence[CompletedPart], args: Mapping[str, Any]
    ) -> dict[str, Any]:
        listing = [
            {"PartNumber": p.number, "ETag": p.etag, self.kind.param: p.checksum} for p in parts
        ]
        return await self.transport.call(
            "CompleteMultipartUpload",
            where,
            Bucket=where.bucket,
            Key=where.key,
            UploadId=where.upload_id,
            MultipartUpload={"Parts": listing},
            **args,
        )

    async def abort_multipart(self, where: Where) -> None:
        try:
            await self.transport.call(
                "AbortMultipartUpload",
                where,
                Bucket=where.bucket,
                Key=where.key,
                UploadId=where.upload_id,
            )
        except S3RequestError as exc:
            if exc.code != "NoSuchUpload":  # gone already: that is what was asked
                raise

    async def list_parts(self, where: Where, args: Mapping[str, Any]) -> dict[int, ListedPart]:
        listed: dict[int, ListedPart] = {}
        marker = 0
        while True:
            page = await self.transport.call(
                "ListParts",
                where,
                Bucket=where.bucket,
                Key=where.key,
                UploadId=where.upload_id,
                PartNumberMarker=marker,
                **args,
            )
            for part in page.get("Parts", []):
                listed[part["PartNumber"]] = ListedPart(
                    part["ETag"], part["Size"], part.get(self.kind.param)
                )
            if not page.get("IsTruncated"):
                return listed
            marker = page["NextPartNumberMarker"]

    async def head_object(self, where: Where, args: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            return await self.transport.call(
                "HeadObject",
                where,
                Bucket=where.bucket,
                Key=where.key,
                ChecksumMode="ENABLED",
                **args,
            )
        except S3RequestError as exc:
            if exc.status == 404:
                return None
            raise

    async def list_multipart_uploads(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        """Every incomplete multipart upload below ``prefix``, all pages."""
        uploads: list[dict[str, Any]] = []
        markers: dict[str, str] = {}
        while True:
            page = await self.transport.call(
                "ListMultipartUploads",
                Where(bucket, prefix),
                Bucket=bucket,
                Prefix=prefix,
                **markers,
            )
            uploads.extend(page.get("Uploads", []))
            if not page.get("IsTruncated"):
                return uploads
            markers = {
                "KeyMarker": page.get("NextKeyMarker", ""),
                "UploadIdMarker": page.get("NextUploadIdMarker", ""),
            }
