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
from resilient_s3._clock import ServerClock
from resilient_s3._session import SessionSettings, open_transport
from resilient_s3._transport import S3Transport, Where

pytestmark = pytest.mark.anyio

KEYS = ["k", "a b/ü~x", "/leading", "dir/file name (1).txt", "100%+sure?&=#", "日本/語"]
ARGS: list[dict[str, Any]] = [
    {},
    {"ContentType": "text/plain", "Metadata": {"owner": "me", "n": "1"}},
    {"CacheControl": "max-age=60", "Tagging": "a=b&c=d", "ContentDisposition": "attachment"},
    {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": b"k" * 32},
]


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
    async with contextlib.AsyncExitStack() as stack:
        transport, _ = await open_transport(
            session, settings, UploadConfig(), stack, clock=ServerClock()
        )
        for args in ARGS:
            for key in KEYS:
                where = Where("my-bucket", key)
                got = await transport._prepare("PutObject", args, where)
                params = {**args, "Bucket": "my-bucket", "Key": key}
                assert got == await reference(transport, "PutObject", params), (key, args)

                part_args = {k: v for k, v in args.items() if k.startswith("SSECustomer")}
                part = Where("my-bucket", key, "2~up/load+id=", 7)
                got = await transport._prepare("UploadPart", part_args, part)
                params = {
                    **part_args,
                    "Bucket": "my-bucket",
                    "Key": key,
                    "UploadId": part.upload_id,
                    "PartNumber": 7,
                }
                assert got == await reference(transport, "UploadPart", params), (key, args)


async def test_invalid_extra_args_are_refused_and_secrets_redacted() -> None:
    session = boto3.Session(aws_access_key_id="AK", aws_secret_access_key="SK")
    settings = SessionSettings(endpoint_url="http://127.0.0.1:9", region_name="us-east-1")
    async with contextlib.AsyncExitStack() as stack:
        transport, _ = await open_transport(
            session, settings, UploadConfig(), stack, clock=ServerClock()
        )
        args = {"ContentLength": "not a number", "SSECustomerKey": "super-secret-key-value"}
        with pytest.raises(InvalidUploadError) as raised:
            await transport._prepare("PutObject", args, Where("b", "k"))
        assert "ContentLength" in str(raised.value)
        assert "super-secret" not in str(raised.value)
