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
        kind = digest.kind or self.kind
        # Both, as botocore sends them: some servers (moto) store the checksum only when told
        # the algorithm too. ``args`` hold no checksum argument (``arguments.put_object_args``):
        # this is the body's one checksum header.
        headers = {kind.header: digest.checksum_b64}
        if kind.named:
            headers["x-amz-sdk-checksum-algorithm"] = kind.algorithm
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
        # The upload's checksum algorithm and type come in ``args`` (``arguments.create_args``);
        # one dict, so that no argument can collide with another as a keyword.
        params = {
            "ChecksumAlgorithm": self.kind.algorithm,
            "ChecksumType": self.kind.multipart_type,
            **args,
            "Bucket": where.bucket,
            "Key": where.key,
        }
        created = await self.transport.call("CreateMultipartUpload", where, **params)
        upload_id: str = created["UploadId"]
        return upload_id

    async def complete_multipart(
        self, where: Where, parts: Sequence[CompletedPart], args: Mapping[str, Any]
    ) -> dict[str, Any]:
        listing = [
            {"PartNumber": p.number, "ETag": p.etag, _param(p.algorithm, self.kind): p.checksum}
            for p in parts
        ]
        params = {
            **args,
            "Bucket": where.bucket,
            "Key": where.key,
            "UploadId": where.upload_id,
            "MultipartUpload": {"Parts": listing},
        }
        return await self.transport.call("CompleteMultipartUpload", where, **params)

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
            params = {
                **args,
                "Bucket": where.bucket,
                "Key": where.key,
                "UploadId": where.upload_id,
                "PartNumberMarker": marker,
            }
            page = await self.transport.call("ListParts", where, **params)
            for part in page.get("Parts", []):
                listed[part["PartNumber"]] = ListedPart(part["ETag"], part["Size"], _checksum(part))
            if not page.get("IsTruncated"):
                return listed
            marker = page["NextPartNumberMarker"]

    async def head_object(self, where: Where, args: Mapping[str, Any]) -> dict[str, Any] | None:
        params = {**args, "Bucket": where.bucket, "Key": where.key, "ChecksumMode": "ENABLED"}
        try:
            return await self.transport.call("HeadObject", where, **params)
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


def _param(algorithm: str | None, default: ChecksumKind) -> str:
    return f"Checksum{algorithm}" if algorithm else default.param


def _checksum(part: dict[str, Any]) -> str | None:
    """A listed part's checksum, in the algorithm its upload was created with (one per
    upload; this backend's own or one an upload's extra_args chose)."""
    found = (v for k, v in part.items() if k.startswith("Checksum") and k != "ChecksumType")
    value = next(found, None)
    return str(value) if value is not None else None
