"""Presigning: a server with credentials lets a client without them upload.

Every URL is signed with the credentials of one credential owner at the server's time (the
offset read when the presigner opens and every hour after, and from any skew answer), so a
signer whose clock is off still issues URLs S3 accepts. A URL never outlives its signing
credentials: its lifetime is clamped to their expiry, and to AWS's 7 days, and the result says
so (``presign_rules`` has those rules, and what is refused before anything is signed). The
control calls a client cannot make itself (create, list, complete, abort) go through the same
transport and retrier as the uploaders'.

Over 500 lines because it holds the async core and its blocking face, and one short method per
request a client cannot sign for itself; they share the lifetime and clock rules above.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio

from .._auth.clock import ServerClock
from .._auth.sigv4 import Clock, presign_url, sign_post_policy, utc_now
from .._config import UploadConfig
from .._diagnostics.answer import parse_time
from .._diagnostics.cors import CorsReport, UploadMode, check_cors_rules
from .._exceptions import InvalidUploadError, S3RequestError
from .._limits import (
    MAX_PART_SIZE,
    MAX_SINGLE_PUT_SIZE,
    MIN_PART_SIZE,
    MiB,
    size_text,
)
from .._presigned import (
    CompletedUpload,
    PresignedMultipart,
    PresignedPart,
    PresignedPost,
    PresignedRequest,
    SignAnswer,
    SignRequest,
    UploadedPart,
)
from .._resilience.concurrency import AdaptiveLimiter
from .._resilience.retry import Counters, RetryBudget
from .._s3.errors import Where, check_endpoint_url
from .._s3.session import SessionSettings
from .._s3.session import _is_aws as is_aws_endpoint
from .._s3.transport import S3Transport
from .._types import BotocoreConfigLike, CredentialsCallable, SessionLike
from .._upload.planner import UploadPlan, plan_upload
from .connection import Connection, connect
from .opening import OpenedOnFirstUse
from .portal import Blocking
from .presign_rules import (
    Lifetime,
    Parts,
    check_checksum,
    check_part,
    check_post,
    check_target,
    checksum_kind,
    completed_listing,
    object_args,
    url_lifetime,
)

logger = logging.getLogger("resilient_s3")

PUT_EXPIRES = 900
"""A single PUT's URL lives 15 minutes by default."""
PART_EXPIRES = 3600
"""A part's URL lives an hour by default (a part is at most 5 GiB)."""
SERVER_TIME_RECHECK = 3600.0
"""Seconds after which the server's time is read again, before the next URL is signed: a
backend that only presigns makes no other request that would show its clock drifting."""
PART_SIZE = 16 * MiB
"""Parts of presigned multipart uploads: fewer URLs to ask for than the uploaders' 8 MiB."""
CREATE_PART_URLS = 64
"""Part URLs a ``create`` answer carries (1 GiB of 16 MiB parts): all of a 5 TiB upload's
made a 5.4 MB answer of 9,987 URLs; the client asks for later ones as it goes."""
SINGLE_PUT_LIMIT = 100 * MiB
"""Above it, a client uploads in parts (Uppy's default too): a part that fails is sent again,
not the whole file, and no single URL must outlive the whole upload."""


class AsyncPresigner(OpenedOnFirstUse[Connection]):
    """Presigns S3 uploads for clients without credentials. Use ``async with`` or ``aclose``.

    ``session``, ``endpoint_url``, ``region_name``, ``credentials``, ``botocore_config`` and
    ``verify`` are the uploaders' (see :class:`AsyncResilientUploader`).
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
        _clock: Clock = utc_now,
        _sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
    ) -> None:
        super().__init__()
        check_endpoint_url(endpoint_url)
        self.server_clock_read = False
        """Whether the server's Date was read (else ``clock_offset`` is 0)."""
        self._clock_read_at = -SERVER_TIME_RECHECK
        self.config = config or UploadConfig()
        self._session = session
        self._credentials = credentials
        self._settings = SessionSettings(endpoint_url, region_name, botocore_config, verify)
        self._clock = ServerClock(_clock)
        self._sleep = _sleep

    def __repr__(self) -> str:
        return f"<AsyncPresigner endpoint={self._settings.endpoint_url or 'aws'}>"

    async def open(self) -> None:
        """Connect now: read the session, and learn the server's clock."""
        await self._ensure_open()

    @property
    def clock_offset(self) -> float:
        """Seconds the server's clock is ahead of this machine's (signatures use its time)."""
        return self._clock.offset

    async def _open(self, stack: contextlib.AsyncExitStack) -> Connection:
        connection = await connect(
            self._session,
            self._settings,
            self.config,
            stack,
            credentials=self._credentials,
            clock=self._clock,
            limiter=AdaptiveLimiter(self.config.max_concurrency),
            budget=RetryBudget(),
            sleep=self._sleep,
        )
        await self._learn_server_time(connection.transport)
        return connection

    async def _control(
        self,
        operation: str,
        where: Where,
        *,
        retry: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """One control call, retried (``retry``: the retrier's options)."""
        connection = await self._ensure_open()
        return await connection.retrier.run(
            lambda: connection.transport.call(operation, where, **params),
            Counters(),
            **(retry or {}),
        )

    async def _learn_server_time(self, transport: S3Transport) -> None:
        """A presigned URL is checked against the server's clock, later, by someone else: no
        answer will come back to correct it. So the server's time is read now, from the Date of
        any answer to an anonymous HEAD of the endpoint."""
        self._clock_read_at = time.monotonic()
        try:
            answer = await transport.sender.exchange(
                "HEAD",
                transport.endpoint_url.rstrip("/") + "/",
                {},
                None,
                None,
                Where("", ""),
                "HeadEndpoint",
            )
        except S3RequestError as exc:
            reason = exc.diagnosis.summary if exc.diagnosis else exc.message
            logger.warning("could not read the server's time (%s): signing with this clock", reason)
            return
        server_time = parse_time(answer.headers.get("date"))
        if server_time is not None:
            self._clock.learn(server_time)
            self.server_clock_read = True
            if abs(self._clock.offset) >= 60:
                logger.warning(
                    "the local clock is off by %+.0f s from the server's; presigning with the "
                    "server's time",
                    -self._clock.offset,
                )

    # -- single PUT and POST -----------------------------------------------------------------

    async def presign_put(
        self,
        bucket: str,
        key: str,
        *,
        size: int | None = None,
        content_type: str | None = None,
        checksum: tuple[str, str] | None = None,
        extra_args: Mapping[str, Any] | None = None,
        expires_in: int = PUT_EXPIRES,
    ) -> PresignedRequest:
        """A URL for one PUT of the whole object. ``headers`` in the result are exactly what
        the client must send (Content-Type, the checksum, ``extra_args`` such as metadata or
        SSE: all signed). ``checksum`` is (algorithm, base64 value) when the caller knows it:
        S3 then refuses other bytes. ``size`` signs the Content-Length: S3 then refuses a body
        of any other length (how a backend holds a client to a size limit). Objects above
        5 GiB need :meth:`create_multipart` (``resilient-s3 presign multipart``)."""
        await self._check(bucket, key)
        check_checksum(checksum)
        if size is not None and size < 0:
            raise InvalidUploadError(f"size must be 0 or more bytes, not {size}")
        if size is not None and size > MAX_SINGLE_PUT_SIZE:
            raise InvalidUploadError(
                f"a single PUT holds at most 5 GiB, this object has {size_text(size)}: "
                "presign a multipart upload (create_multipart, resilient-s3 presign multipart)",
                bucket=bucket,
                key=key,
            )
        args = object_args(content_type, extra_args)
        if size is not None:
            args = {**args, "ContentLength": size}
        return await self._presign("PutObject", Where(bucket, key), args, checksum, expires_in)

    async def presign_upload(
        self,
        bucket: str,
        key: str,
        size: int,
        *,
        content_type: str | None = None,
        extra_args: Mapping[str, Any] | None = None,
        single_put_limit: int = SINGLE_PUT_LIMIT,
    ) -> PresignedRequest | PresignedMultipart:
        """What a client needs to upload ``size`` bytes, the way practice has it: up to
        ``single_put_limit`` (100 MiB) one PUT whose URL lives 15 minutes, above it a
        multipart upload with 16 MiB parts (more when 10,000 would not hold the file), every
        part's URL living an hour."""
        if size <= single_put_limit:
            return await self.presign_put(
                bucket, key, size=size, content_type=content_type, extra_args=extra_args
            )
        return await self.create_multipart(
            bucket, key, size=size, content_type=content_type, extra_args=extra_args
        )

    async def presign_post(
        self,
        bucket: str,
        key: str | None = None,
        *,
        key_prefix: str | None = None,
        content_type: str | None = None,
        content_type_prefix: str | None = None,
        size_range: tuple[int, int] | None = None,
        fields: Mapping[str, str] | None = None,
        expires_in: int = PUT_EXPIRES,
    ) -> PresignedPost:
        """A browser form upload (POST). Either ``key`` (exactly) or ``key_prefix`` (any key
        starting with it; the form's ``key`` field says which). The policy pins
        ``content_type`` (or ``content_type_prefix``), the ``size_range`` in bytes, and every
        extra field in ``fields`` to its value (botocore leaves the conditions of extra fields
        to the caller). With ``content_type_prefix``, ``fields`` carries ``Content-Type`` set
        to the prefix, named in ``client_fields``: the client puts the file's type there."""
        check_post(key, key_prefix, content_type, content_type_prefix, size_range)
        await self._check(bucket, key or f"{key_prefix}x")
        connection = await self._ensure_open()
        transport = connection.transport
        url = await transport.bucket_url(bucket)
        lifetime, credentials = await self._lifetime(connection, expires_in)
        form: dict[str, str] = {**(fields or {})}
        conditions: list[Any] = [{"bucket": bucket}]
        if key is not None:
            form["key"] = key
            conditions.append({"key": key})
        else:
            form["key"] = f"{key_prefix}${{filename}}"
            conditions.append(["starts-with", "$key", key_prefix])
        if content_type is not None:
            form["Content-Type"] = content_type
            conditions.append({"Content-Type": content_type})
        elif content_type_prefix is not None:
            # Filled in, so that the fields as they are meet the policy (S3 refuses a form
            # without the field); the client replaces it with the file's type.
            form["Content-Type"] = content_type_prefix
            conditions.append(["starts-with", "$Content-Type", content_type_prefix])
        if size_range is not None:
            conditions.append(["content-length-range", *size_range])
        conditions += [{name: value} for name, value in (fields or {}).items()]
        expiration = f"{lifetime.expires_at:%Y-%m-%dT%H:%M:%SZ}"
        policy = {"expiration": expiration, "conditions": conditions}
        signed = sign_post_policy(
            policy,
            credentials=credentials,
            region=transport.signing_region(bucket),
            now=self._clock.now,
        )
        return PresignedPost(
            url=url,
            fields={**form, **signed},
            expires_at=lifetime.expires_at,
            expires_in=lifetime.seconds,
            bucket=bucket,
            key=key or "",
            conditions=tuple(conditions),
            clamped=lifetime.clamped,
            client_fields=("Content-Type",) if content_type_prefix is not None else (),
        )

    # -- multipart ---------------------------------------------------------------------------

    async def create_multipart(
        self,
        bucket: str,
        key: str,
        *,
        size: int | None = None,
        part_size: int | None = None,
        content_type: str | None = None,
        checksum_algorithm: str | None = None,
        extra_args: Mapping[str, Any] | None = None,
        expires_in: int = PART_EXPIRES,
        part_urls: int | None = None,
    ) -> PresignedMultipart:
        """Create a multipart upload for a client. With ``size``, every part's URL comes with
        its offset and length, cut by the planner as the uploaders cut (``part_size``, 16 MiB
        by default, grown to fit 10,000 parts); ``part_urls`` bounds how many (the first
        ones): the client asks for the others with :meth:`presign_part`. With
        ``checksum_algorithm``, every part the client sends must carry its checksum (ask for
        part URLs with :meth:`presign_part`)."""
        await self._check(bucket, key)
        connection = await self._ensure_open()
        args = dict(object_args(content_type, extra_args))
        if checksum_algorithm is not None:
            kind = checksum_kind(checksum_algorithm)
            args.update(ChecksumAlgorithm=kind.algorithm, ChecksumType=kind.multipart_type)
        # Everything that can fail is decided before the upload exists: nothing to abort.
        chosen, plan = _cut(size, part_size)
        lifetime, _ = await self._lifetime(connection, expires_in)
        created = await self._control(
            "CreateMultipartUpload", Where(bucket, key), Bucket=bucket, Key=key, **args
        )
        upload_id: str = created["UploadId"]
        parts: list[PresignedPart] = []
        if plan is not None and checksum_algorithm is None:
            for part in itertools.islice(plan.parts(), part_urls):
                request = await self.presign_part(
                    bucket, key, upload_id, part.number, size=part.length, expires_in=expires_in
                )
                parts.append(
                    PresignedPart(
                        part.number,
                        request.url,
                        part.offset,
                        part.length,
                        request.expires_at,
                        request.headers,
                    )
                )
        return PresignedMultipart(
            bucket=bucket,
            key=key,
            upload_id=upload_id,
            part_size=chosen,
            size=size,
            parts=tuple(parts),
            expires_at=lifetime.expires_at,
            expires_in=lifetime.seconds,
            clamped=lifetime.clamped,
        )

    async def presign_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        size: int | None = None,
        checksum: tuple[str, str] | None = None,
        expires_in: int = PART_EXPIRES,
    ) -> PresignedRequest:
        """The URL of one part (again, when the first expired). ``size`` signs the part's
        Content-Length: S3 then refuses any other length at once (the wrong part's bytes),
        not at completion. ``checksum`` (algorithm, base64 value) makes the client send the
        part's checksum, and S3 check it."""
        await self._check(bucket, key)
        check_part(part_number, size)
        check_checksum(checksum)
        where = Where(bucket, key, upload_id, part_number)
        args = {"ContentLength": size} if size is not None else {}
        return await self._presign("UploadPart", where, args, checksum, expires_in)

    async def list_parts(self, bucket: str, key: str, upload_id: str) -> list[UploadedPart]:
        """Every part S3 holds for the upload (all pages)."""
        await self._check(bucket, key)
        listed: list[UploadedPart] = []
        marker = 0
        where = Where(bucket, key, upload_id)
        while True:
            page = await self._control(
                "ListParts",
                where,
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumberMarker=marker,
            )
            for part in page.get("Parts", []):
                listed.append(
                    UploadedPart(part["PartNumber"], part["ETag"], part["Size"], _checksum_of(part))
                )
            if not page.get("IsTruncated"):
                return listed
            marker = page["NextPartNumberMarker"]

    async def complete_multipart(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Parts,
        *,
        checksum: tuple[str, str] | None = None,
        extra_args: Mapping[str, Any] | None = None,
    ) -> CompletedUpload:
        """Complete with (part number, ETag[, checksum]) for every part, in any order; ETags
        with or without their quotes. ``checksum`` is the whole object's (algorithm, base64),
        when the upload was created with an algorithm. An empty list, a part named twice or
        a number outside 1..10,000 is refused before anything is sent."""
        await self._check(bucket, key)
        listing = completed_listing(parts, checksum)
        args = dict(extra_args or {})
        if checksum is not None:
            kind = checksum_kind(checksum[0])
            args[kind.param] = checksum[1]
            args["ChecksumType"] = kind.multipart_type
        where = Where(bucket, key, upload_id)
        response = await self._control(
            "CompleteMultipartUpload",
            where,
            retry={"budgeted": False, "max_attempts": 3},
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": listing},
            **args,
        )
        return CompletedUpload(
            bucket=bucket,
            key=key,
            etag=response.get("ETag", ""),
            version_id=response.get("VersionId"),
            checksum=checksum and response.get(checksum_kind(checksum[0]).param),
            location=response.get("Location"),
        )

    async def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        """Abort; an upload that is gone already counts as aborted."""
        await self._check(bucket, key)
        where = Where(bucket, key, upload_id)
        try:
            await self._control(
                "AbortMultipartUpload",
                where,
                retry={"budgeted": False},
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
            )
        except S3RequestError as exc:
            if exc.code != "NoSuchUpload":
                raise

    async def check_bucket(self, bucket: str) -> None:
        """Raise :class:`S3RequestError` (``no-such-bucket``, ``permission-denied``...) unless
        the bucket exists and these credentials reach it: a form URL is signed without asking
        S3, so a backend checks once that its bucket is there before handing URLs out."""
        await self._check(bucket, None)
        await self._control("HeadBucket", Where(bucket, ""), Bucket=bucket)

    async def head(self, bucket: str, key: str) -> CompletedUpload | None:
        """The object's size, ETag, checksum and metadata, or None if there is none."""
        await self._check(bucket, key)
        where = Where(bucket, key)
        try:
            head = await self._control(
                "HeadObject",
                where,
                retry={"limited": False},
                Bucket=bucket,
                Key=key,
                ChecksumMode="ENABLED",
            )
        except S3RequestError as exc:
            if exc.status == 404:
                return None
            raise
        checksum = _checksum_of(head)
        return CompletedUpload(
            bucket=bucket,
            key=key,
            etag=head.get("ETag", ""),
            version_id=head.get("VersionId"),
            checksum=checksum,
            size=head.get("ContentLength"),
            metadata=head.get("Metadata", {}),
        )

    async def delete_object(self, bucket: str, key: str, *, version_id: str | None = None) -> None:
        """Delete the object (that version of it, with ``version_id``): how a backend takes
        back what a client completed against its rules."""
        await self._check(bucket, key)
        version = {"VersionId": version_id} if version_id else {}
        await self._control(
            "DeleteObject",
            Where(bucket, key),
            retry={"budgeted": False},
            Bucket=bucket,
            Key=key,
            **version,
        )

    async def check_cors(
        self, bucket: str, origin: str, mode: UploadMode = "multipart", headers: Sequence[str] = ()
    ) -> CorsReport:
        """Whether a browser at ``origin`` can upload to ``bucket`` in ``mode`` (``"put"``,
        ``"multipart"``, ``"post"``, or ``"uppy"``: what stock Uppy sends), sending ``headers``
        besides the signed ones: the bucket's CORS rules read as S3 reads them (see
        :func:`resilient_s3.check_cors_rules`)."""
        await self._check(bucket, None)
        try:
            answer = await self._control("GetBucketCors", Where(bucket, ""), Bucket=bucket)
            rules: list[dict[str, Any]] | None = answer.get("CORSRules", [])
        except S3RequestError as exc:
            if exc.code != "NoSuchCORSConfiguration":
                raise
            rules = None
        return check_cors_rules(rules, origin=origin, mode=mode, headers=headers)

    # -- the PresignedUploader's backend ------------------------------------------------------

    async def answer(
        self,
        request: SignRequest,
        *,
        bucket: str | None = None,
        put_expires_in: int = PUT_EXPIRES,
        part_expires_in: int = PART_EXPIRES,
        part_urls: int | None = CREATE_PART_URLS,
    ) -> SignAnswer:
        """Answer what a :class:`PresignedUploader` asks (see :class:`SignRequest`): the
        handler behind your backend's route. ``bucket`` fixes the bucket (else the request
        names it); a ``create`` answer carries the first ``part_urls`` parts' URLs (the
        client asks for the others one by one). Decide before calling it whether this client
        may have what it asks for: this only checks that the request is well formed."""
        target = bucket or request.bucket
        if not target:
            raise InvalidUploadError("the sign request names no bucket and none is fixed")
        key = request.key
        checksum = (
            (request.checksum_algorithm, request.checksum)
            if request.checksum_algorithm and request.checksum
            else None
        )
        extra = {"Metadata": dict(request.metadata)} if request.metadata else None
        if request.action == "put":
            return await self.presign_put(
                target,
                key,
                size=request.size,
                content_type=request.content_type,
                checksum=checksum,
                extra_args=extra,
                expires_in=put_expires_in,
            )
        if request.action == "create":
            return await self.create_multipart(
                target,
                key,
                size=request.size if request.checksum_algorithm is None else None,
                part_size=request.part_size,
                content_type=request.content_type,
                checksum_algorithm=request.checksum_algorithm,
                extra_args=extra,
                expires_in=part_expires_in,
                part_urls=part_urls,
            )
        upload_id = request.upload_id
        if request.action == "head":
            return await self.head(target, key)
        if not upload_id:
            raise InvalidUploadError(f"a {request.action!r} sign request needs an upload_id")
        if request.action == "part":
            if request.part_number is None:
                raise InvalidUploadError("a 'part' sign request needs a part_number")
            return await self.presign_part(
                target,
                key,
                upload_id,
                request.part_number,
                size=request.size,
                checksum=checksum,
                expires_in=part_expires_in,
            )
        if request.action == "list":
            return await self.list_parts(target, key, upload_id)
        if request.action == "complete":
            return await self.complete_multipart(
                target, key, upload_id, request.parts, checksum=checksum
            )
        if request.action == "abort":
            await self.abort_multipart(target, key, upload_id)
            return None
        raise InvalidUploadError(f"unknown sign request action {request.action!r}")

    # -- signing -----------------------------------------------------------------------------

    async def _presign(
        self,
        operation: str,
        where: Where,
        args: Mapping[str, Any],
        checksum: tuple[str, str] | None,
        expires_in: int,
    ) -> PresignedRequest:
        connection = await self._ensure_open()
        transport = connection.transport
        url, headers = await transport.prepare_body(operation, args, where)
        if checksum is not None:
            kind = checksum_kind(checksum[0])
            headers["x-amz-sdk-checksum-algorithm"] = kind.algorithm
            headers[kind.header] = checksum[1]
        lifetime, credentials = await self._lifetime(connection, expires_in)
        signed_url = presign_url(
            "PUT",
            url,
            headers,
            credentials=credentials,
            region=transport.signing_region(where.bucket),
            expires_in=lifetime.seconds,
            now=self._clock.now,
        )
        return PresignedRequest(
            method="PUT",
            url=signed_url,
            headers=headers,
            expires_at=lifetime.expires_at,
            expires_in=lifetime.seconds,
            bucket=where.bucket,
            key=where.key,
            clamped=lifetime.clamped,
        )

    async def _lifetime(self, connection: Connection, asked: int) -> tuple[Lifetime, Any]:
        """How long a URL signed now may live, and the credentials to sign it with."""
        if time.monotonic() - self._clock_read_at >= SERVER_TIME_RECHECK:
            await self._learn_server_time(connection.transport)
        credentials, _ = await connection.owner.get()
        now = self._clock.now().replace(tzinfo=datetime.UTC)
        return url_lifetime(asked, connection.owner.expires_at, now), credentials

    async def _check(self, bucket: str, key: str | None) -> None:
        """The bucket and key, judged before anything is sent. The names of buckets made
        before March 2018 exist on AWS's own endpoint only: refused for an endpoint given
        here (the uploaders' rule) and, once open, for one the session resolved
        (AWS_ENDPOINT_URL, a profile's endpoint_url), where a URL for them could never work."""
        aws = self._settings.endpoint_url is None
        check_target(bucket, key, legacy=aws)
        if aws and not is_aws_endpoint((await self._ensure_open()).transport.endpoint_url):
            check_target(bucket, key, legacy=False)


def _cut(size: int | None, part_size: int | None) -> tuple[int, UploadPlan | None]:
    """The part size, and with ``size`` the plan that cuts the object as the uploaders do."""
    chosen = part_size or PART_SIZE
    if size is None:
        if not MIN_PART_SIZE <= chosen <= MAX_PART_SIZE:
            raise InvalidUploadError(f"part_size must be 5 MiB to 5 GiB, not {chosen}")
        return chosen, None
    plan = plan_upload(size, multipart_threshold=1, part_size=chosen)
    return plan.part_size, plan


def _checksum_of(answer: Mapping[str, Any]) -> str | None:
    """The checksum S3 reports (``ChecksumCRC64NVME``, ``ChecksumSHA256``...), if any."""
    return next(
        (v for k, v in answer.items() if k.startswith("Checksum") and k != "ChecksumType"), None
    )


class Presigner(Blocking):
    """The blocking face of :class:`AsyncPresigner`; same arguments, same behaviour (for
    Django, Flask and other synchronous backends)."""

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
        **seams: Any,
    ) -> None:
        self._async: AsyncPresigner = AsyncPresigner(
            session,
            endpoint_url,
            region_name,
            config,
            credentials=credentials,
            botocore_config=botocore_config,
            verify=verify,
            **seams,
        )
        super().__init__(self._async)

    @property
    def clock_offset(self) -> float:
        """See :attr:`AsyncPresigner.clock_offset`."""
        return self._async.clock_offset

    def presign_put(self, bucket: str, key: str, **options: Any) -> PresignedRequest:
        """See :meth:`AsyncPresigner.presign_put`."""
        return self._call(self._async.presign_put, bucket, key, **options)

    def presign_upload(
        self, bucket: str, key: str, size: int, **options: Any
    ) -> PresignedRequest | PresignedMultipart:
        """See :meth:`AsyncPresigner.presign_upload`."""
        return self._call(self._async.presign_upload, bucket, key, size, **options)

    def presign_post(self, bucket: str, key: str | None = None, **options: Any) -> PresignedPost:
        """See :meth:`AsyncPresigner.presign_post`."""
        return self._call(self._async.presign_post, bucket, key, **options)

    def create_multipart(self, bucket: str, key: str, **options: Any) -> PresignedMultipart:
        """See :meth:`AsyncPresigner.create_multipart`."""
        return self._call(self._async.create_multipart, bucket, key, **options)

    def presign_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, **options: Any
    ) -> PresignedRequest:
        """See :meth:`AsyncPresigner.presign_part`."""
        return self._call(self._async.presign_part, bucket, key, upload_id, part_number, **options)

    def list_parts(self, bucket: str, key: str, upload_id: str) -> list[UploadedPart]:
        """See :meth:`AsyncPresigner.list_parts`."""
        return self._call(self._async.list_parts, bucket, key, upload_id)

    def complete_multipart(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Parts,
        **options: Any,
    ) -> CompletedUpload:
        """See :meth:`AsyncPresigner.complete_multipart`."""
        return self._call(self._async.complete_multipart, bucket, key, upload_id, parts, **options)

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        """See :meth:`AsyncPresigner.abort_multipart`."""
        self._call(self._async.abort_multipart, bucket, key, upload_id)

    def check_bucket(self, bucket: str) -> None:
        """See :meth:`AsyncPresigner.check_bucket`."""
        self._call(self._async.check_bucket, bucket)

    def head(self, bucket: str, key: str) -> CompletedUpload | None:
        """See :meth:`AsyncPresigner.head`."""
        return self._call(self._async.head, bucket, key)

    def delete_object(self, bucket: str, key: str, *, version_id: str | None = None) -> None:
        """See :meth:`AsyncPresigner.delete_object`."""
        self._call(self._async.delete_object, bucket, key, version_id=version_id)

    def check_cors(
        self, bucket: str, origin: str, mode: UploadMode = "multipart", headers: Sequence[str] = ()
    ) -> CorsReport:
        """See :meth:`AsyncPresigner.check_cors`."""
        return self._call(self._async.check_cors, bucket, origin, mode, headers)

    def answer(self, request: SignRequest, **options: Any) -> SignAnswer:
        """See :meth:`AsyncPresigner.answer`."""
        return self._call(self._async.answer, request, **options)
