"""The data path's request building equals botocore's, although it serializes headers once per
set of extra_args (no server needed: nothing is sent)."""

from __future__ import annotations

import contextlib
from typing import Any

import boto3
import botocore.handlers
import pytest
from botocore.utils import percent_encode_sequence
from botocore.validate import validate_parameters

from resilient_s3 import InvalidUploadError, UploadConfig
from resilient_s3._s3.errors import Where
from resilient_s3._s3.session import SessionSettings, make_client, resolve_session
from resilient_s3._s3.transport import S3Transport

pytestmark = pytest.mark.anyio

KEYS = ["k", "a b/ü~x", "/leading", "dir/file name (1).txt", "100%+sure?&=#", "日本/語"]
ARGS: list[dict[str, Any]] = [
    {},
    {"ContentType": "text/plain", "Metadata": {"owner": "me", "n": "1"}},
    {"CacheControl": "max-age=60", "Tagging": "a=b&c=d", "ContentDisposition": "attachment"},
    {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": b"k" * 32},
]


class Unsigned:
    async def sign(self, method: str, url: str, headers: Any, **_: Any) -> tuple[Any, int]:
        return dict(headers), 0


async def make_transport(session: Any, settings: SessionSettings) -> S3Transport:
    resolved = await resolve_session(session)
    client = make_client(resolved, settings, timeouts=UploadConfig())
    return S3Transport(
        client, Unsigned(), max_connections=1, connect_timeout=1, read_timeout=1, verify=None
    )


async def reference(
    transport: S3Transport, operation: str, params: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    """What botocore builds for these params, the long way."""
    model = transport._model.operation_model(operation)
    params = dict(params)
    botocore.handlers.remove_bucket_from_url_paths_from_model(params, model, {})
    botocore.handlers.sse_md5(params)
    validate_parameters(params, model.input_shape)
    request = transport._serializer.serialize_to_request(params, model)
    url = await transport._endpoint(params["Bucket"], model) + request["url_path"]
    if request["query_string"]:
        url += "?" + percent_encode_sequence(request["query_string"])
    return url, dict(request["headers"])


@pytest.mark.parametrize("addressing", ["path", "virtual"])
async def test_requests_are_built_as_botocore_builds_them(addressing: str) -> None:
    from botocore.config import Config

    session = boto3.Session(aws_access_key_id="AK", aws_secret_access_key="SK")
    settings = SessionSettings(
        endpoint_url="http://127.0.0.1:9",
        region_name="eu-west-1",
        botocore_config=Config(s3={"addressing_style": addressing}),
    )
    transport = await make_transport(session, settings)
    try:
        for args in ARGS:
            for key in KEYS:
                where = Where("my-bucket", key)
                got = await transport.prepare_body("PutObject", args, where)
                params = {**args, "Bucket": "my-bucket", "Key": key}
                assert got == await reference(transport, "PutObject", params), (key, args)

                part_args = {k: v for k, v in args.items() if k.startswith("SSECustomer")}
                part = Where("my-bucket", key, "2~up/load+id=", 7)
                got = await transport.prepare_body("UploadPart", part_args, part)
                params = {
                    **part_args,
                    "Bucket": "my-bucket",
                    "Key": key,
                    "UploadId": part.upload_id,
                    "PartNumber": 7,
                }
                assert got == await reference(transport, "UploadPart", params), (key, args)
    finally:
        await transport.close()


async def test_invalid_extra_args_are_refused_and_secrets_redacted() -> None:
    session = boto3.Session(aws_access_key_id="AK", aws_secret_access_key="SK")
    settings = SessionSettings(endpoint_url="http://127.0.0.1:9", region_name="us-east-1")
    transport = await make_transport(session, settings)
    args = {"ContentLength": "not a number", "SSECustomerKey": "super-secret-key-value"}
    with pytest.raises(InvalidUploadError) as raised:
        await transport.prepare_body("PutObject", args, Where("b", "k"))
    await transport.close()
    assert "ContentLength" in str(raised.value)
    assert "super-secret" not in str(raised.value)


CONTROL_CALLS: list[tuple[str, dict[str, Any]]] = [
    (
        "CreateMultipartUpload",
        {
            "ChecksumAlgorithm": "CRC64NVME",
            "ChecksumType": "FULL_OBJECT",
            "ContentType": "video/mp4",
            "Metadata": {"resilient-s3-upload": "token"},
            "SSECustomerAlgorithm": "AES256",
            "SSECustomerKey": b"k" * 32,
        },
    ),
    (
        "CompleteMultipartUpload",
        {
            "UploadId": "2~up/load+id=",
            "ChecksumCRC64NVME": "AAAAAAAAAAA=",
            "ChecksumType": "FULL_OBJECT",
            "IfNoneMatch": "*",
            "MultipartUpload": {
                "Parts": [
                    {"PartNumber": 1, "ETag": '"abc"', "ChecksumCRC64NVME": "AAAAAAAAAAE="},
                    {"PartNumber": 2, "ETag": '"def"', "ChecksumCRC64NVME": "AAAAAAAAAAI="},
                ]
            },
        },
    ),
    ("ListParts", {"UploadId": "u", "PartNumberMarker": 1000}),
    ("AbortMultipartUpload", {"UploadId": "u"}),
    (
        "HeadObject",
        {"ChecksumMode": "ENABLED", "SSECustomerAlgorithm": "AES256", "SSECustomerKey": b"k" * 32},
    ),
]


@pytest.mark.parametrize(("operation", "params"), CONTROL_CALLS, ids=[c[0] for c in CONTROL_CALLS])
async def test_control_calls_are_built_as_botocore_sends_them(
    operation: str, params: dict[str, Any]
) -> None:
    """The control path builds what botocore's own client sends (no aiobotocore, no client
    pipeline): method, URL, body and every header but the signature's and the user agent."""
    from botocore import UNSIGNED, xform_name
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config

    session = boto3.Session(aws_access_key_id="AK", aws_secret_access_key="SK")
    settings = SessionSettings(endpoint_url="http://127.0.0.1:9", region_name="eu-west-1")
    transport = await make_transport(session, settings)
    key = "dir/file name (1).txt"
    full = {"Bucket": "my-bucket", "Key": key, **params}
    try:
        ours = transport.build(transport._model.operation_model(operation), full, Where("b", key))
    finally:
        await transport.close()

    client = session.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="eu-west-1",
        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}),
    )
    sent: list[Any] = []

    def capture(request: Any, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 500, {}, None)

    client.meta.events.register_first("before-send.s3", capture)
    with contextlib.suppress(Exception):
        getattr(client, xform_name(operation))(**full)
    [theirs] = sent
    skip = {"user-agent", "amz-sdk-invocation-id", "amz-sdk-request", "content-length"}
    their_headers = {k.lower(): v for k, v in theirs.headers.items() if k.lower() not in skip}
    their_headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in their_headers.items()}
    our_headers = {k.lower(): v for k, v in ours.headers.items() if k.lower() not in skip}
    assert (ours.method, ours.url) == (theirs.method, theirs.url)
    assert ours.body == (theirs.body or b"")
    assert our_headers == their_headers


def test_the_users_s3_options_survive_the_merge() -> None:
    from botocore.config import Config

    from resilient_s3 import UploadConfig
    from resilient_s3._s3.session import SessionSettings, _client_config

    user = Config(s3={"use_dualstack_endpoint": True})
    custom = _client_config(UploadConfig(), SessionSettings("http://127.0.0.1:9000", None, user))
    assert custom.s3 == {"use_dualstack_endpoint": True, "addressing_style": "path"}
    aws = _client_config(UploadConfig(), SessionSettings(None, None, user))
    assert aws.s3 == {"use_dualstack_endpoint": True}
    virtual = Config(s3={"addressing_style": "virtual"})
    kept = _client_config(UploadConfig(), SessionSettings("http://127.0.0.1:9000", None, virtual))
    assert kept.s3 == {"addressing_style": "virtual"}
