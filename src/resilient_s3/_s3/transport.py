"""S3 requests on resilient-s3's own HTTP path, and the place their failures become errors.

Every request is built from botocore's S3 model (its serializer, its endpoint rules, the few
handlers S3 needs), signed by the injected signer, sent by the lean HTTP/1.1 client (aiohttp
for https) and, for control calls, parsed by botocore's parser. No botocore client pipeline and
no aiobotocore: the event system, retry handlers and request objects cost milliseconds of CPU
per request, and aiobotocore pins botocore to a narrow window that would downgrade a user's
boto3 (``benchmarks/control_calls.py`` measures this path against botocore's client).

Bodies (PutObject, UploadPart) come with their payload hash made beforehand, off the event
loop; their headers are serialized once per set of ``extra_args``. Retrying is decided above.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import anyio
import botocore.handlers
from botocore.awsrequest import HeadersDict, prepare_request_dict
from botocore.exceptions import ParamValidationError
from botocore.httpchecksum import apply_request_checksum, resolve_checksum_context
from botocore.parsers import ResponseParserFactory
from botocore.utils import percent_encode, percent_encode_sequence
from botocore.validate import validate_parameters
from yarl import URL

from .._exceptions import InvalidUploadError, S3RequestError, UploadError
from .._version import __version__
from .errors import Where, http_error, invalid_arguments, network_error, sdk_error
from .http1 import Answer, Body, Http1Client, Payload, body_length

SEND_CHUNK = 256 * 1024
"""Bytes handed to aiohttp at a time (https)."""
USER_AGENT = f"resilient-s3/{__version__}"

# Operations whose parameters carry SSE-C keys: botocore base64s them and adds their MD5.
_SSE_C_OPERATIONS = frozenset(
    {"PutObject", "UploadPart", "CreateMultipartUpload", "CompleteMultipartUpload", "HeadObject"}
)
_ASCII_METADATA_OPERATIONS = frozenset({"PutObject", "CreateMultipartUpload"})


class Signer(Protocol):
    """Signs a request for this transport (the uploader's credentials and clock)."""

    async def sign(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        *,
        region: str,
        payload_sha256: str | None,
    ) -> tuple[dict[str, str], int]:
        """``headers`` plus the SigV4 ones, and the credential generation they came from."""
        ...


@dataclass(frozen=True, slots=True)
class Request:
    """One request, built and ready to sign."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    region: str


class S3Transport:
    """S3 requests for one uploader: botocore's model and rules, a signer, shared connections."""

    def __init__(
        self,
        client: Any,
        signer: Signer,
        *,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        verify: bool | str | None,
        min_speed: float = float("inf"),
    ) -> None:
        self._client = client
        self._signer = signer
        self._model = client.meta.service_model
        self._serializer = client._serializer
        self._parser = ResponseParserFactory().create_parser("rest-xml")
        self._region = client.meta.region_name or "us-east-1"
        self._fixed_timeout = connect_timeout + read_timeout
        self._min_speed = min_speed
        self._endpoints: dict[str, tuple[str, str]] = {}
        self._header_cache: dict[tuple[str, str], dict[str, str]] = {}
        self._max_connections = max_connections
        self._timeouts = (connect_timeout, read_timeout)
        self._verify = verify
        self._http1 = Http1Client(
            connect_timeout=connect_timeout, read_timeout=read_timeout, user_agent=USER_AGENT
        )
        self._https: aiohttp.ClientSession | None = None

    @property
    def endpoint_url(self) -> str:
        return str(self._client.meta.endpoint_url)

    @property
    def is_https(self) -> bool:
        return self.endpoint_url.startswith("https")

    @property
    def region(self) -> str:
        return self._region

    async def close(self) -> None:
        self._http1.close()
        if self._https is not None:
            await self._https.close()

    def attempt_timeout(self, length: int) -> float:
        """Seconds one attempt at sending ``length`` bytes may take: a 5 GiB part on a slow
        link is not a hung connection (stalls are caught sooner, by the read timeout)."""
        return self._fixed_timeout + length / self._min_speed

    # -- bodies ----------------------------------------------------------------------------

    async def send_body(
        self,
        operation: str,
        where: Where,
        extra_args: Mapping[str, Any],
        body: Payload,
        headers: Mapping[str, str],
        *,
        payload_sha256: str | None,
        on_sent: Callable[[int], None],
    ) -> Answer:
        """A PutObject or UploadPart with ``extra_args`` and the ``headers`` given (checksums);
        its successful answer."""
        url, request_headers = await self.prepare_body(operation, extra_args, where)
        request_headers.update(headers)
        request_headers["Content-Length"] = str(body.length)
        signed, generation = await self._signer.sign(
            "PUT",
            url,
            request_headers,
            region=self._signing_region(where.bucket),
            payload_sha256=payload_sha256,
        )
        answer = await self._exchange(
            "PUT", url, signed, body, on_sent, where, operation, generation
        )
        if answer.status != 200:
            raise _failed(answer, where, operation, generation)
        return answer

    async def prepare_body(
        self, operation: str, extra_args: Mapping[str, Any], where: Where
    ) -> tuple[str, dict[str, str]]:
        """The URL and headers (unsigned) of a PutObject or UploadPart."""
        model = self._model.operation_model(operation)
        base = await self._endpoint(where.bucket, model)
        url = base + "/" + percent_encode(where.key, safe="/~")
        if operation == "UploadPart":  # in the order botocore's serializer gives
            query = {"uploadId": where.upload_id, "partNumber": where.part_number}
            url += "?" + percent_encode_sequence(query)
        return url, dict(self._body_headers(operation, extra_args, where, model))

    def _body_headers(
        self, operation: str, extra_args: Mapping[str, Any], where: Where, model: Any
    ) -> dict[str, str]:
        """The headers ``extra_args`` make, serialized by botocore once per set of arguments:
        validating and serializing cost about 0.15 ms per request, a quarter of a small
        file's client CPU (``tests/unit/test_transport.py`` checks that the result is
        botocore's)."""
        cache_key = (operation, _args_key(extra_args))
        cached = self._header_cache.get(cache_key)
        if cached is not None:
            return cached
        params: dict[str, Any] = {**extra_args, "Bucket": where.bucket, "Key": "k"}
        if operation == "UploadPart":
            params.update(UploadId="u", PartNumber=1)
        _prepare_params(model, params, operation, where)
        headers = dict(self._serializer.serialize_to_request(params, model)["headers"])
        if len(self._header_cache) >= 256:
            self._header_cache.clear()
        self._header_cache[cache_key] = headers
        return headers

    async def _endpoint(self, bucket: str, model: Any) -> str:
        cached = self._endpoints.get(bucket)
        if cached is None:
            url, _, properties = self._resolve(model, {"Bucket": bucket, "Key": "k"}, bucket)
            cached = (url.rstrip("/"), signing_region(properties, self._region))
            self._endpoints[bucket] = cached
        return cached[0]

    def _signing_region(self, bucket: str) -> str:
        return self._endpoints[bucket][1]

    def _resolve(
        self, model: Any, params: Mapping[str, Any], bucket: str
    ) -> tuple[str, dict[str, str], dict[str, Any]]:
        """The endpoint rules' URL, extra headers and properties for a request."""
        try:
            url, headers, properties = self._client._resolve_endpoint_ruleset(
                model, dict(params), {}
            )
        except UploadError:
            raise
        except Exception as exc:  # the endpoint rules refuse this bucket or region
            if not type(exc).__module__.startswith("botocore"):
                raise
            raise sdk_error(exc, Where(bucket, ""), model.name, self.endpoint_url) from exc
        return url, headers, properties

    # -- control calls ---------------------------------------------------------------------

    async def call(self, operation: str, where: Where, **params: Any) -> dict[str, Any]:
        """One control call by its S3 name, e.g. ``call("ListParts", where, Bucket=...)``; the
        parsed answer, as botocore's client would return it."""
        model = self._model.operation_model(operation)
        request = self.build(model, params, where)
        signed, generation = await self._signer.sign(
            request.method,
            request.url,
            request.headers,
            region=request.region,
            payload_sha256=hashlib.sha256(request.body).hexdigest(),
        )
        answer = await self._exchange(
            request.method, request.url, signed, request.body, None, where, operation, generation
        )
        if answer.status >= 300 or _error_in_200(model, answer):
            raise _failed(answer, where, operation, generation)
        return self._parse(model, answer)

    def build(self, model: Any, params: Mapping[str, Any], where: Where) -> Request:
        """A control request as botocore's client builds it (its serializer, endpoint rules
        and the handlers S3 needs), unsigned."""
        params = dict(params)
        _prepare_params(model, params, model.name, where)
        url, extra_headers, properties = self._resolve(model, params, where.bucket)
        request_dict = self._serializer.serialize_to_request(params, model)
        request_dict["headers"].update(extra_headers)
        context = {"client_config": self._client.meta.config}
        prepare_request_dict(request_dict, url, context, user_agent=USER_AGENT)
        resolve_checksum_context(request_dict, model, params)
        apply_request_checksum(request_dict)
        body = request_dict["body"]
        if isinstance(body, str):
            body = body.encode()
        headers = {k: str(v) for k, v in request_dict["headers"].items()}
        headers.pop("User-Agent", None)  # the HTTP client sends its own
        if body or request_dict["method"] in ("POST", "PUT"):
            headers["Content-Length"] = str(len(body or b""))
        return Request(
            request_dict["method"],
            request_dict["url"],
            headers,
            bytes(body or b""),
            signing_region(properties, self._region),
        )

    def _parse(self, model: Any, answer: Answer) -> dict[str, Any]:
        response = {
            "status_code": answer.status,
            "headers": HeadersDict(answer.headers),
            "body": answer.body,
        }
        custom: dict[str, Any] = {}
        botocore.handlers.handle_expires_header(model, response, custom)
        parsed: dict[str, Any] = self._parser.parse(response, model.output_shape)
        parsed.update(custom)
        return parsed

    # -- sending ---------------------------------------------------------------------------

    async def _exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body | None,
        on_sent: Callable[[int], None] | None,
        where: Where,
        operation: str,
        generation: int,
    ) -> Answer:
        """Send a signed request; its answer, whatever the status. Network failures become
        S3RequestErrors here."""
        timeout = self.attempt_timeout(body_length(body))
        try:
            if self._lean(url):
                return await self._http1.request(
                    method, url, headers, body, on_sent, time_limit=timeout
                )
            return await self._send_https(method, url, headers, body, on_sent, timeout)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = network_error(exc, where, operation, url)
            error.credential_generation = generation
            raise error from exc

    @staticmethod
    def _lean(url: str) -> bool:
        """Whether the lean HTTP/1.1 client sends to ``url``: plain http; TLS goes by aiohttp."""
        return url.startswith("http://")

    async def _send_https(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body | None,
        on_sent: Callable[[int], None] | None,
        time_limit: float,
    ) -> Answer:
        if self._https is None:
            connect, read = self._timeouts
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                ssl=_ssl_context(self._verify),
                ttl_dns_cache=300,
                enable_cleanup_closed=False,
            )
            self._https = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read),
                auto_decompress=False,
                skip_auto_headers=("Content-Type",),
                headers={"User-Agent": USER_AGENT},
            )
        data: Any = body
        if body is not None and not isinstance(body, bytes):
            data = _chunks(body, on_sent)
        with anyio.fail_after(time_limit):
            async with self._https.request(
                method, URL(url, encoded=True), data=data, headers=headers
            ) as response:
                answer_body = await response.read()
                answer_headers = {k.lower(): v for k, v in response.headers.items()}
                return Answer(response.status, answer_headers, answer_body)


def _prepare_params(model: Any, params: dict[str, Any], operation: str, where: Where) -> None:
    """What botocore's handlers do to S3 parameters before serializing, then validation."""
    # The endpoint ruleset places the bucket, so the model's path must not.
    botocore.handlers.remove_bucket_from_url_paths_from_model(params, model, {})
    try:
        if operation in _SSE_C_OPERATIONS:
            botocore.handlers.sse_md5(params)
        if operation in _ASCII_METADATA_OPERATIONS:
            botocore.handlers.validate_ascii_metadata(params)
        validate_parameters(params, model.input_shape)
    except ParamValidationError as exc:
        raise invalid_arguments(operation, exc, params, where) from None


def _failed(answer: Answer, where: Where, operation: str, generation: int) -> S3RequestError:
    error = http_error(answer.status, answer.body, answer.headers, where, operation)
    error.credential_generation = generation
    return error


def _error_in_200(model: Any, answer: Answer) -> bool:
    """S3 answers some requests (CompleteMultipartUpload) 200 with an ``<Error>`` body."""
    if answer.status != 200 or not answer.body or model.has_streaming_output:
        return False
    if not answer.body.lstrip().startswith((b"<?xml", b"<Error")):
        return False
    try:
        return ET.fromstring(answer.body).tag == "Error"
    except ET.ParseError:
        return False


def signing_region(properties: Mapping[str, Any] | None, default: str) -> str:
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


async def _chunks(
    body: Payload, on_sent: Callable[[int], None] | None
) -> AsyncIterator[bytes | memoryview]:
    for chunk in body.chunks(SEND_CHUNK):
        yield chunk
        if on_sent is not None:
            on_sent(len(chunk))


def _ssl_context(verify: bool | str | None) -> ssl.SSLContext | bool:
    if verify is False:
        return False
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    from botocore.httpsession import get_cert_path

    return ssl.create_default_context(cafile=get_cert_path(True))
