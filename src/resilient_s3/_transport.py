"""The S3 calls an upload makes, and the one place their failures become ``S3RequestError``.

Bodies (PutObject, UploadPart) take a lean path: botocore serializes the headers and signs, and
aiohttp sends the bytes straight from the part buffer. aiobotocore's full request pipeline costs
milliseconds of CPU per request and hashes bodies on the event loop; here the hashes are made
in a worker thread beforehand and nothing is copied. The few control calls (create, complete,
abort, list) go through an aiobotocore client with its own retries off: retrying is decided in
one place, above this module.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import anyio
import botocore.handlers
from botocore import xform_name
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import ClientError, NoCredentialsError, ParamValidationError
from botocore.utils import percent_encode, percent_encode_sequence
from botocore.validate import validate_parameters
from yarl import URL

from ._body import Body
from ._checksums import ChecksumKind, PartDigest
from ._credentials import CredentialOwner
from ._errors import (
    Where,
    client_error,
    http_error,
    invalid_arguments,
    network_error,
    no_credentials,
    sdk_error,
)
from ._exceptions import InvalidUploadError, UploadError
from ._http1 import Http1Client
from ._signing import Clock, sign_request, utc_now
from ._version import __version__

SEND_CHUNK = 256 * 1024
"""Bytes handed to aiohttp at a time (https)."""
_SIGV4_HEADERS = frozenset(
    {"authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"}
)


@dataclass(frozen=True, slots=True)
class StoredBody:
    """What S3 answered to a PutObject or UploadPart."""

    etag: str
    version_id: str | None
    checksum: str | None  # base64, as echoed by the server; None if it did not echo one


class S3Transport:
    """S3 requests for one uploader: a control client and a shared HTTP connection pool."""

    def __init__(
        self,
        control: Any,
        credentials: CredentialOwner,
        *,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        verify: bool | str | None,
        min_speed: float = float("inf"),
        now: Clock = utc_now,
    ) -> None:
        self._control = control
        self._credentials = credentials
        self._now = now
        self._fixed_timeout = connect_timeout + read_timeout
        self._min_speed = min_speed
        # The control client is unsigned (see _session); it is signed here, by the same signer,
        # credentials and clock as the data path.
        control.meta.events.register("before-sign.s3", self._sign_control)
        self._model = control.meta.service_model
        self._serializer = control._serializer
        self._region = control.meta.region_name or "us-east-1"
        self._endpoints: dict[str, tuple[str, str]] = {}
        self._header_cache: dict[tuple[str, str], dict[str, str]] = {}
        connector = aiohttp.TCPConnector(
            limit=max_connections,
            ssl=_ssl_context(verify),
            ttl_dns_cache=300,
            enable_cleanup_closed=False,
        )
        self._http1 = Http1Client(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            user_agent=f"resilient-s3/{__version__}",
        )
        self._http = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=connect_timeout, sock_read=read_timeout
            ),
            auto_decompress=False,
            skip_auto_headers=("Content-Type",),
        )

    @property
    def endpoint_url(self) -> str:
        return str(self._control.meta.endpoint_url)

    @property
    def is_https(self) -> bool:
        return str(self._control.meta.endpoint_url).startswith("https")

    async def close(self) -> None:
        self._http1.close()
        await self._http.close()

    # -- bodies ----------------------------------------------------------------------------

    async def put_object(
        self,
        where: Where,
        body: Body,
        digest: PartDigest,
        kind: ChecksumKind,
        extra_args: Mapping[str, Any],
        on_sent: Callable[[int], None],
    ) -> StoredBody:
        return await self._send_body("PutObject", extra_args, where, body, digest, kind, on_sent)

    async def upload_part(
        self,
        where: Where,
        body: Body,
        digest: PartDigest,
        kind: ChecksumKind,
        extra_args: Mapping[str, Any],
        on_sent: Callable[[int], None],
    ) -> StoredBody:
        return await self._send_body("UploadPart", extra_args, where, body, digest, kind, on_sent)

    async def _send_body(
        self,
        operation: str,
        extra_args: Mapping[str, Any],
        where: Where,
        body: Body,
        digest: PartDigest,
        kind: ChecksumKind,
        on_sent: Callable[[int], None],
    ) -> StoredBody:
        url, headers = await self._prepare(operation, extra_args, where)
        # Both, as botocore sends them: some servers (moto) store the checksum only when told
        # the algorithm too.
        headers["x-amz-sdk-checksum-algorithm"] = kind.algorithm
        headers[kind.header] = digest.checksum_b64
        headers["Content-Length"] = str(body.length)
        credentials, generation = await self._get_credentials(where)
        signed = sign_request(
            "PUT",
            url,
            headers,
            credentials=credentials,
            region=self._signing_region(where.bucket),
            payload_sha256=digest.payload_sha256,
            now=self._now,
        )
        try:
            timeout = self.attempt_timeout(body.length)
            if not self.is_https:
                answer = await self._http1.put(url, signed, body, on_sent, time_limit=timeout)
                status, answer_headers, answer_body = answer.status, answer.headers, answer.body
            else:
                with anyio.fail_after(timeout):
                    async with self._http.put(
                        URL(url, encoded=True), data=_chunks(body, on_sent), headers=signed
                    ) as response:
                        status, answer_body = response.status, await response.read()
                        answer_headers = {k.lower(): v for k, v in response.headers.items()}
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = network_error(exc, where, operation, url)
            error.credential_generation = generation
            raise error from exc
        if status != 200:
            error = http_error(status, answer_body, answer_headers, where, operation)
            error.credential_generation = generation
            raise error
        return StoredBody(
            etag=answer_headers.get("etag", ""),
            version_id=answer_headers.get("x-amz-version-id"),
            checksum=answer_headers.get(kind.header),
        )

    def attempt_timeout(self, length: int) -> float:
        """Seconds one attempt at sending ``length`` bytes may take: a 5 GiB part on a slow
        link is not a hung connection (stalls are caught sooner, by the read timeout)."""
        return self._fixed_timeout + length / self._min_speed

    async def _get_credentials(self, where: Where) -> tuple[ReadOnlyCredentials, int]:
        try:
            return await self._credentials.get()
        except NoCredentialsError as exc:
            raise no_credentials(exc, where) from exc

    async def _sign_control(self, request: AWSRequest, **_: Any) -> None:
        credentials, generation = await self._get_credentials(Where("", ""))
        _signed_with.set(generation)
        body = request.body
        if body is None or isinstance(body, bytes | bytearray | str):
            raw = body.encode() if isinstance(body, str) else bytes(body or b"")
            payload: str | None = hashlib.sha256(raw).hexdigest()
        else:
            payload = None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _SIGV4_HEADERS}
        signed = sign_request(
            request.method,
            request.url,
            headers,
            credentials=credentials,
            region=_signing_region(request.context.get("endpoint_properties"), self._region),
            payload_sha256=payload,
            now=self._now,
        )
        for name, value in signed.items():
            if name.lower() in _SIGV4_HEADERS:
                del request.headers[name]
                request.headers[name] = value

    async def _prepare(
        self, operation: str, extra_args: Mapping[str, Any], where: Where
    ) -> tuple[str, dict[str, str]]:
        """The URL and headers (unsigned) of a PutObject or UploadPart."""
        model = self._model.operation_model(operation)
        base = await self._endpoint(where.bucket, model)
        url = base + "/" + percent_encode(where.key, safe="/~")
        if operation == "UploadPart":  # in the order botocore's serializer gives
            query = {"uploadId": where.upload_id, "partNumber": where.part_number}
            url += "?" + percent_encode_sequence(query)
        return url, dict(self._headers(operation, extra_args, where, model))

    def _headers(
        self, operation: str, extra_args: Mapping[str, Any], where: Where, model: Any
    ) -> dict[str, str]:
        """The headers ``extra_args`` make, serialized by botocore once per set of arguments:
        validating and serializing cost about 0.15 ms per request, a quarter of a small
        file's client CPU (``tests/test_transport.py`` checks that the result is botocore's)."""
        cache_key = (operation, _args_key(extra_args))
        cached = self._header_cache.get(cache_key)
        if cached is not None:
            return cached
        params: dict[str, Any] = {**extra_args, "Bucket": where.bucket, "Key": "k"}
        if operation == "UploadPart":
            params.update(UploadId="u", PartNumber=1)
        # Two of the handlers botocore runs before building a request: the endpoint ruleset
        # places the bucket, so the model's path must not; SSE-C keys are base64ed and MD5ed.
        botocore.handlers.remove_bucket_from_url_paths_from_model(params, model, {})
        botocore.handlers.sse_md5(params)
        try:
            validate_parameters(params, model.input_shape)
        except ParamValidationError as exc:
            raise invalid_arguments(operation, exc, params, where) from None
        headers = dict(self._serializer.serialize_to_request(params, model)["headers"])
        if len(self._header_cache) >= 256:
            self._header_cache.clear()
        self._header_cache[cache_key] = headers
        return headers

    async def _endpoint(self, bucket: str, model: Any) -> str:
        cached = self._endpoints.get(bucket)
        if cached is None:
            context: dict[str, Any] = {}
            try:
                resolved = self._control._resolve_endpoint_ruleset(
                    model, {"Bucket": bucket, "Key": "k"}, context
                )
                if asyncio.iscoroutine(resolved):
                    resolved = await resolved
            except Exception as exc:  # the endpoint rules refuse this bucket or region
                if not type(exc).__module__.startswith("botocore"):
                    raise
                where = Where(bucket, "")
                raise sdk_error(exc, where, model.name, self.endpoint_url) from exc
            cached = (resolved[0].rstrip("/"), _signing_region(resolved[2], self._region))
            self._endpoints[bucket] = cached
        return cached[0]

    def _signing_region(self, bucket: str) -> str:
        return self._endpoints[bucket][1]

    # -- control calls ---------------------------------------------------------------------

    async def abort_multipart_upload(self, where: Where) -> None:
        await self.call(
            "AbortMultipartUpload",
            where,
            Bucket=where.bucket,
            Key=where.key,
            UploadId=where.upload_id,
        )

    async def call(self, operation: str, where: Where, **params: Any) -> dict[str, Any]:
        """One control call through aiobotocore, by its S3 name: ``call("ListParts", ...)``."""
        method = getattr(self._control, xform_name(operation))
        _signed_with.set(self._credentials.generation)
        try:
            response: dict[str, Any] = await method(**params)
        except ClientError as exc:
            failure = client_error(exc, where, operation)
            failure.credential_generation = _signed_with.get()
            raise failure from exc
        except ParamValidationError as exc:
            raise invalid_arguments(operation, exc, params, where) from None
        except NoCredentialsError as exc:
            raise no_credentials(exc, where) from exc
        except UploadError:  # from our signing handler: credentials, an unsupported endpoint
            raise
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise network_error(exc, where, operation, self.endpoint_url) from exc
        except Exception as exc:  # botocore's HTTPClientError, EndpointResolutionError & co
            if type(exc).__module__.startswith(("botocore", "aiobotocore")):
                raise sdk_error(exc, where, operation, self.endpoint_url) from exc
            raise
        return response


_signed_with: contextvars.ContextVar[int] = contextvars.ContextVar("signed_with")
"""The credential generation the last control call of this task was signed with."""


def _signing_region(properties: Mapping[str, Any] | None, default: str) -> str:
    """The region to sign for, from the endpoint ruleset's auth scheme (an access point ARN
    may name another region than the client's)."""
    schemes = (properties or {}).get("authSchemes") or [{}]
    scheme = schemes[0]
    name = scheme.get("name", "sigv4")
    if name != "sigv4":
        raise InvalidUploadError(
            f"this endpoint needs {name} signing (S3 Express, multi-region access points, "
            "Outposts), which resilient-s3 does not support yet"
        )
    region: str = scheme.get("signingRegion") or default
    return region


def _args_key(extra_args: Mapping[str, Any]) -> str:
    if not extra_args:
        return ""
    return json.dumps(extra_args, sort_keys=True, default=repr)


async def _chunks(body: Body, on_sent: Callable[[int], None]) -> AsyncIterator[bytes | memoryview]:
    for chunk in body.chunks(SEND_CHUNK):
        yield chunk
        on_sent(len(chunk))


def _ssl_context(verify: bool | str | None) -> ssl.SSLContext | bool:
    if verify is False:
        return False
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    from botocore.httpsession import get_cert_path

    return ssl.create_default_context(cafile=get_cert_path(True))
