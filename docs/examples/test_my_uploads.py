"""Testing your own upload code under faults, with the fixtures resilient-s3 installs.

Run it like any test file (it is part of this project's suite too):

    python -m pip install 'resilient-s3[test]' && python -m pytest docs/examples/test_my_uploads.py
"""

from __future__ import annotations

import io
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from resilient_s3.testing import ChaosProxy, Fault, FaultKind, S3Server


# --- the code under test: yours ------------------------------------------------------------
def backup(client: Any, data: bytes, bucket: str, key: str) -> None:
    """Upload with boto3, relying on its standard retry mode."""
    client.put_object(Bucket=bucket, Key=key, Body=data)


def make_client(endpoint_url: str, server: S3Server, attempts: int) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


# --- the tests ------------------------------------------------------------------------------
def test_backup_survives_throttling(
    s3_server: S3Server, chaos_proxy: ChaosProxy, s3_bucket: str, s3_client: Any
) -> None:
    # The first two PutObject requests are throttled, the third goes through.
    chaos_proxy.add_fault(Fault(FaultKind.SLOWDOWN, operations={"PutObject"}, limit=2))
    client = make_client(chaos_proxy.endpoint_url, s3_server, attempts=3)

    backup(client, b"precious", s3_bucket, "db.dump")

    assert s3_client.get_object(Bucket=s3_bucket, Key="db.dump")["Body"].read() == b"precious"
    assert chaos_proxy.stats.faults == {"slowdown": 2}
    assert chaos_proxy.stats.forwarded == {"PutObject": 1}


def test_backup_gives_up_when_throttling_persists(
    s3_server: S3Server, chaos_proxy: ChaosProxy, s3_bucket: str
) -> None:
    chaos_proxy.add_fault(Fault(FaultKind.SLOWDOWN, operations={"PutObject"}))
    client = make_client(chaos_proxy.endpoint_url, s3_server, attempts=2)

    with pytest.raises(ClientError) as info:
        backup(client, b"precious", s3_bucket, "db.dump")
    assert info.value.response["Error"]["Code"] == "SlowDown"
    assert chaos_proxy.stats.requests == {"PutObject": 2}


def test_a_lost_answer_is_not_a_lost_object(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    # A proxy of your own, for a one-off scenario: every CompleteMultipartUpload answer is lost.
    with ChaosProxy(
        s3_server.endpoint_url, lose_response=1.0, only={"CompleteMultipartUpload"}
    ) as px:
        client = make_client(px.endpoint_url, s3_server, attempts=1)
        config = TransferConfig(multipart_threshold=5 * 1024 * 1024)
        with pytest.raises(Exception):  # noqa: B017, PT011 - boto3 reports a failure...
            client.upload_fileobj(
                io.BytesIO(b"x" * (6 * 1024 * 1024)), s3_bucket, "big", Config=config
            )
    # ...yet the object was written: code that re-uploads or alerts here must check first.
    assert s3_client.head_object(Bucket=s3_bucket, Key="big")["ContentLength"] == 6 * 1024 * 1024
