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
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import botocore.handlers
from botocore.awsrequest import HeadersDict, prepare_request_dict
from botocore.exceptions import ParamValidationError
from botocore.httpchecksum import apply_request_checksum, resolve_checksum_context
from botocore.parsers import ResponseParserFactory
from botocore.utils import percent_encode, percent_encode_sequence
from botocore.validate import validate_parameters

from .._diagnostics.request import SentRequest
from .._exceptions import InvalidUploadError, S3RequestError, UploadError
from .errors import Where, http_error, invalid_arguments, sdk_error
from .hooks import SendHooks
from .http1 import Answer, Payload
from .sender import USER_AGENT, Sender

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
        events: Any = None,
    ) -> None:
        """``events`` is the user's session's event emitter: its ``before-send`` handlers
        (moto's ``mock_aws()``, the user's) see each request first (``hooks.py``)."""
        self._client = client
        self._signer = signer
        self._model = client.meta.service_model
        self._serializer = client._serializer
        self._parser = ResponseParserFactory().create_parser("rest-xml")
        self._region = client.meta.region_name or "us-east-1"
        self._endpoints: dict[str, tuple[str, str]] = {}
        self._header_cache: dict[tuple[str, str], dict[str, str]] = {}
        self.sender = Sender(
            max_connections=max_connections,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            verify=verify,
            min_speed=min_speed,
            hooks=SendHooks.of_emitter(events, self._model.operation_names),
        )

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
        await self.sender.close()

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
            region=self.signing_region(where.bucket),
            payload_sha256=payload_sha256,
        )
        answer = await self.sender.exchange(
            "PUT", url, signed, body, on_sent, where, operation, generation
        )
        if answer.status != 200:
            raise _failed(
                answer, where, operation, generation, SentRequest.read("PUT", url, signed)
            )
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

    def signing_region(self, bucket: str) -> str:
        """The region to sign requests to ``bucket`` for (after its endpoint was resolved)."""
        return self._endpoints[bucket][1]

    async def bucket_url(self, bucket: str) -> str:
        """The URL of ``bucket`` itself (browser form uploads POST to it)."""
        return await self._endpoint(bucket, self._model.operation_model("PutObject")) + "/"

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
        answer = await self.sender.exchange(
            request.method, request.url, signed, request.body, None, where, operation, generation
        )
        if answer.status >= 300 or _error_in_200(model, answer):
            sent = SentRequest.read(request.method, request.url, signed)
            raise _failed(answer, where, operation, generation, sent)
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


def _failed(
    answer: Answer, where: Where, operation: str, generation: int, sent: SentRequest | None
) -> S3RequestError:
    error = http_error(answer.status, answer.body, answer.headers, where, operation, sent)
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
