"""The backend for clients without credentials: every request through a URL its server signed.

The client asks its backend (a callable, in practice a call to your server, which answers with
:meth:`Presigner.answer`) for what it needs, one :class:`SignRequest` at a time, and sends the
bodies itself. A URL is asked for again when S3 says it has expired, and before that when it
will expire before its part can be sent at the speed measured so far. A URL that expires
before its request reaches S3 however often it is renewed is the backend's setting to change:
the final error says which, with the seconds.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

import anyio

from .._diagnostics.model import Cause
from .._diagnostics.request import SentRequest
from .._exceptions import InvalidUploadError, S3RequestError, UploadError
from .._presigned import (
    CompletedUpload,
    PresignedMultipart,
    PresignedPart,
    PresignedRequest,
    SignAnswer,
    SignRequest,
    UploadedPart,
)
from .._resilience.retry import Fix
from .._s3.errors import Where, http_error, network_error
from .._s3.sender import Sender
from .backend import CompletedPart, ListedPart, StoredBody
from .body import Body
from .checksums import ChecksumKind, PartDigest
from .planner import UploadPlan

SignCallable = Callable[[SignRequest], "SignAnswer | Awaitable[SignAnswer]"]
"""Asks the backend for a :class:`SignRequest`; sync or async."""

RENEW_MARGIN = 2.0
"""Seconds of a URL's life kept in reserve: one that would have less left once its body is sent
(at the measured speed) is asked for again first."""


Slot = tuple[str, int | None]
"""What a URL is for: (key, None) for a single PUT, (upload id, part number) for a part."""


class PresignedBackend:
    """See :class:`UploadBackend`. ``checksums``: ask for URLs that carry each body's
    checksum (the backend must sign them; Uppy's Companion routes cannot)."""

    signs_payload = False
    has_credentials = False

    def __init__(
        self,
        sign: SignCallable,
        sender: Sender,
        kind: ChecksumKind,
        *,
        name: str,
        bucket: str | None,
        checksums: bool = True,
    ) -> None:
        self.kind = kind
        self._sign = sign
        self._sender = sender
        self._name = name
        self._bucket = bucket
        self._checksums = checksums
        self._urls: dict[Slot, tuple[PresignedRequest, float]] = {}
        """Each slot's URL, and when it arrived (``time.monotonic``)."""
        self._late: dict[Slot, tuple[int, float]] = {}
        """The last URL S3 refused as expired, by slot: the seconds it was signed for, and
        those from its arrival to S3's answer."""
        self._sent_bytes = 0
        self._sending_seconds = 0.0
        self.renewed_urls = 0
        """URLs asked for again: expired, or about to."""
        self.located: dict[str, tuple[str, str]] = {}
        """The bucket and key the backend chose, by requested key."""

    @property
    def endpoint_url(self) -> str:
        return f"presigned:{self._name}"

    def placed(self, where: Where) -> Where:
        bucket, key = self.located.get(where.key, (where.bucket, where.key))
        return dataclasses.replace(where, bucket=bucket or where.bucket, key=key or where.key)

    def renew_fix(self) -> Fix:
        """The fix for an expired URL: forget it, so that the next attempt asks again."""

        async def forget(error: S3RequestError) -> None:
            self._urls.pop(_slot(error), None)
            self.renewed_urls += 1

        return Fix("URL renewals", forget, limit=3)

    def explain(self, error: S3RequestError) -> None:
        """A final failure: if S3 refused its URL as expired, renewing did not help, so the
        backend's URLs live shorter than a request takes. Say so, with the seconds, and which
        setting to raise (the code table's first fix, to ask for a new URL, is what failed)."""
        late = self._late.pop(_slot(error), None)
        diagnosis = error.diagnosis
        if late is None or diagnosis is None or diagnosis.cause != Cause.PRESIGNED_URL_EXPIRED:
            return
        lived, took = late
        setting = "put_expires_in" if error.operation == "PutObject" else "part_expires_in"
        fix = (
            f"raise the lifetime of the backend's URLs above how long a request takes: they "
            f"live {lived} s, and this request took {took:.1f} s from receiving its URL to "
            f"S3's answer; set the backend's {setting} (uppy_app, Presigner.answer), or "
            "expires_in of the Presigner calls it makes"
        )
        error.diagnosis = dataclasses.replace(
            diagnosis,
            summary="the backend's URLs expire before a request reaches S3: asking for new "
            "ones cannot help",
            fixes=(fix, *diagnosis.fixes[1:]),
        )

    # -- bodies ------------------------------------------------------------------------------

    async def put_object(
        self,
        where: Where,
        body: Body,
        digest: PartDigest,
        args: Mapping[str, Any],
        on_sent: Callable[[int], None],
    ) -> StoredBody:
        request = self._request(
            "put",
            where,
            size=body.length,
            content_type=args.get("ContentType"),
            metadata=args.get("Metadata"),
            checksum=digest,
        )
        slot = (where.key, None)
        url = await self._url(slot, request, body.length)
        return await self._send(url, slot, where, "PutObject", body, on_sent)

    async def upload_part(
        self,
        where: Where,
        body: Body,
        digest: PartDigest,
        args: Mapping[str, Any],
        on_sent: Callable[[int], None],
    ) -> StoredBody:
        assert where.upload_id is not None
        # The size lets the backend sign the part's Content-Length (Presigner.answer does).
        request = self._request(
            "part", where, size=body.length, part_number=where.part_number, checksum=digest
        )
        slot = (where.upload_id, where.part_number)
        url = await self._url(slot, request, body.length)
        return await self._send(url, slot, where, "UploadPart", body, on_sent)

    async def _url(self, slot: Slot, request: SignRequest, length: int) -> PresignedRequest:
        """A URL for ``slot`` that will still be good when ``length`` bytes are sent."""
        cached = self._urls.get(slot)
        if cached is not None:
            url, arrived = cached
            left = arrived + url.expires_in - time.monotonic()
            if left >= self._expected_seconds(length) + RENEW_MARGIN:
                return url
            self.renewed_urls += 1
        answer = await self._ask(request)
        if not isinstance(answer, PresignedRequest):
            raise _odd_answer(request, answer)
        self._urls[slot] = (answer, time.monotonic())
        self.located[request.key] = (answer.bucket, answer.key)
        return answer

    def _expected_seconds(self, length: int) -> float:
        if not self._sent_bytes or not self._sending_seconds:
            return 0.0
        return length / (self._sent_bytes / self._sending_seconds)

    async def _send(
        self,
        url: PresignedRequest,
        slot: Slot,
        where: Where,
        operation: str,
        body: Body,
        on_sent: Callable[[int], None],
    ) -> StoredBody:
        headers = {k: v for k, v in url.headers.items() if k.lower() != "content-length"}
        headers["Content-Length"] = str(body.length)
        started = time.monotonic()
        answer = await self._sender.exchange(
            url.method, url.url, headers, body, on_sent, where, operation
        )
        if answer.status != 200:
            sent = SentRequest.read(url.method, url.url, headers, url.headers)
            error = http_error(answer.status, answer.body, answer.headers, where, operation, sent)
            if error.diagnosis is not None and error.diagnosis.cause == Cause.PRESIGNED_URL_EXPIRED:
                self._late[slot] = (url.expires_in, time.monotonic() - self._urls[slot][1])
            raise error
        self._late.pop(slot, None)
        self._sent_bytes += body.length
        self._sending_seconds += time.monotonic() - started
        return StoredBody(
            etag=answer.headers.get("etag", ""),
            version_id=answer.headers.get("x-amz-version-id"),
            checksum=answer.headers.get(self.kind.header),
        )

    # -- control, through the backend --------------------------------------------------------

    async def create_multipart(
        self, where: Where, args: Mapping[str, Any], plan: UploadPlan | None = None
    ) -> str:
        request = self._request(
            "create",
            where,
            size=plan.size if plan is not None else None,
            part_size=plan.part_size if plan is not None else None,
            content_type=args.get("ContentType"),
            metadata=args.get("Metadata"),
            checksum_algorithm=self.kind.algorithm if self._checksums else None,
        )
        answer = await self._ask(request)
        if not isinstance(answer, PresignedMultipart):
            raise _odd_answer(request, answer)
        self.located[where.key] = (answer.bucket, answer.key)
        arrived = time.monotonic()
        for part in answer.parts:
            if not _fits(part, plan):
                continue  # asked for again when its part is sent
            url = PresignedRequest(
                "PUT", part.url, part.headers, part.expires_at, answer.expires_in
            )
            self._urls[(answer.upload_id, part.part_number)] = (url, arrived)
        return answer.upload_id

    async def complete_multipart(
        self, where: Where, parts: Sequence[CompletedPart], args: Mapping[str, Any]
    ) -> dict[str, Any]:
        full = args.get(self.kind.param) if self._checksums else None
        request = self._request(
            "complete",
            where,
            parts=tuple((p.number, p.etag, p.checksum if self._checksums else None) for p in parts),
            checksum_algorithm=self.kind.algorithm if full else None,
            checksum_value=full,
        )
        answer = await self._ask(request)
        if not isinstance(answer, CompletedUpload):
            raise _odd_answer(request, answer)
        self.located[where.key] = (answer.bucket, answer.key)
        return self._object(answer)

    async def abort_multipart(self, where: Where) -> None:
        await self._ask(self._request("abort", where))

    async def list_parts(self, where: Where, args: Mapping[str, Any]) -> dict[int, ListedPart]:
        request = self._request("list", where)
        answer = await self._ask(request)
        if not isinstance(answer, list):
            raise _odd_answer(request, answer)
        listed: list[UploadedPart] = answer
        checksums = self._checksums
        return {
            p.part_number: ListedPart(p.etag, p.size, p.checksum if checksums else None)
            for p in listed
        }

    async def head_object(self, where: Where, args: Mapping[str, Any]) -> dict[str, Any] | None:
        answer = await self._ask(self._request("head", where))
        if answer is None:
            return None
        if not isinstance(answer, CompletedUpload):
            raise _odd_answer(SignRequest("head", where.key), answer)
        return {**self._object(answer), "ContentLength": answer.size, "Metadata": answer.metadata}

    def _object(self, answer: CompletedUpload) -> dict[str, Any]:
        found: dict[str, Any] = {"ETag": answer.etag, "VersionId": answer.version_id}
        if answer.checksum is not None:
            found[self.kind.param] = answer.checksum
        return found

    # -- asking ------------------------------------------------------------------------------

    def _request(
        self,
        action: Any,
        where: Where,
        *,
        size: int | None = None,
        part_size: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        part_number: int | None = None,
        parts: tuple[tuple[int, str, str | None], ...] = (),
        checksum: PartDigest | None = None,
        checksum_algorithm: str | None = None,
        checksum_value: str | None = None,
    ) -> SignRequest:
        if checksum is not None and self._checksums:
            checksum_algorithm, checksum_value = self.kind.algorithm, checksum.checksum_b64
        return SignRequest(
            action=action,
            key=where.key,
            bucket=self._bucket,
            size=size,
            part_size=part_size,
            content_type=content_type,
            upload_id=where.upload_id,
            part_number=part_number,
            parts=parts,
            checksum_algorithm=checksum_algorithm,
            checksum=checksum_value,
            metadata=dict(metadata or {}),
        )

    async def _ask(self, request: SignRequest) -> SignAnswer:
        """The backend's answer; its failures as errors the retrier understands."""
        where = Where(self._bucket or "", request.key, request.upload_id, request.part_number)
        try:
            answer: Any
            if inspect.iscoroutinefunction(self._sign):
                answer = await self._sign(request)
            else:  # a blocking call to the backend: off the loop
                answer = await anyio.to_thread.run_sync(self._sign, request)
                if inspect.isawaitable(answer):
                    answer = await answer
            return cast(SignAnswer, answer)
        except UploadError:
            raise
        except (OSError, TimeoutError) as exc:
            raise network_error(exc, where, f"sign {request.action}") from exc
        except Exception as exc:
            raise UploadError(
                f"the backend failed to answer a {request.action!r} sign request: "
                f"{type(exc).__name__}: {exc}",
                bucket=where.bucket,
                key=where.key,
                upload_id=where.upload_id,
                last_exception=exc,
            ) from exc


def _fits(part: PresignedPart, plan: UploadPlan | None) -> bool:
    """Whether this client's part may go to the URL: one that signs a Content-Length takes
    only a part as long as the backend cut it, which may not be how this client cuts."""
    signed = next((v for k, v in part.headers.items() if k.lower() == "content-length"), None)
    if signed is None:
        return True
    if plan is None or not 1 <= part.part_number <= plan.part_count:
        return False
    return signed == str(plan.part(part.part_number).length)


def _slot(error: S3RequestError) -> Slot:
    return (error.upload_id or error.key or "", error.part_number)


def _odd_answer(request: SignRequest, answer: object) -> InvalidUploadError:
    return InvalidUploadError(
        f"the backend answered a {request.action!r} sign request with "
        f"{type(answer).__name__}, not what it asks for (see SignRequest)"
    )
