"""Every fault of the chaos proxy happens as configured, against the real server.

Plain boto3 with its retries off is the client: it must see exactly the injected failure.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from resilient_s3.testing import (
    ChaosProxy,
    CredentialVendor,
    Fault,
    FaultKind,
    S3Server,
    classify,
    skewed_clock,
)

MiB = 1024 * 1024
NO_RETRIES = Config(
    retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=10, connect_timeout=5
)


@pytest.fixture
def client(s3_server: S3Server, chaos_proxy: ChaosProxy) -> Iterator[Any]:
    """boto3 through the proxy, no retries."""
    c = s3_server.boto3_client(endpoint_url=chaos_proxy.endpoint_url, config=NO_RETRIES)
    yield c
    c.close()


def error_code(exc: ClientError) -> tuple[str, int]:
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [
        (FaultKind.SLOWDOWN, "SlowDown", 503),
        (FaultKind.TOO_MANY, "TooManyRequests", 429),
        (FaultKind.INTERNAL_ERROR, "InternalError", 500),
    ],
)
def test_error_answers_are_not_forwarded(
    client: Any,
    chaos_proxy: ChaosProxy,
    s3_bucket: str,
    s3_client: Any,
    kind: FaultKind,
    code: str,
    status: int,
) -> None:
    chaos_proxy.add_fault(Fault(kind, operations={"PutObject"}))
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket=s3_bucket, Key="k", Body=b"x" * 100)
    assert error_code(info.value) == (code, status)
    stats = chaos_proxy.stats
    assert stats.faults == {kind.value: 1}
    assert stats.faults_by_operation == {("PutObject", kind.value): 1}
    assert stats.statuses == {status: 1}
    assert "PutObject" not in stats.forwarded
    assert s3_client.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0
    # Other operations pass untouched, on a connection that still works.
    client.list_objects_v2(Bucket=s3_bucket)


def test_shorthand_probabilities_and_filters(s3_server: S3Server, s3_bucket: str) -> None:
    with ChaosProxy(s3_server.endpoint_url, slowdown=1.0, only={"UploadPart"}) as proxy:
        client = s3_server.boto3_client(endpoint_url=proxy.endpoint_url, config=NO_RETRIES)
        client.put_object(Bucket=s3_bucket, Key="small", Body=b"fine")
        upload = client.create_multipart_upload(Bucket=s3_bucket, Key="big")
        with pytest.raises(ClientError) as info:
            client.upload_part(
                Bucket=s3_bucket, Key="big", UploadId=upload["UploadId"], PartNumber=1, Body=b"p"
            )
        assert error_code(info.value) == ("SlowDown", 503)
        client.abort_multipart_upload(Bucket=s3_bucket, Key="big", UploadId=upload["UploadId"])
        assert proxy.stats.faults == {"slowdown": 1}


def test_complete_answers_200_with_an_error_body(
    client: Any, chaos_proxy: ChaosProxy, s3_bucket: str, s3_client: Any
) -> None:
    chaos_proxy.add_fault(Fault(FaultKind.COMPLETE_ERROR))
    upload = client.create_multipart_upload(Bucket=s3_bucket, Key="k")
    part = client.upload_part(
        Bucket=s3_bucket, Key="k", UploadId=upload["UploadId"], PartNumber=1, Body=b"data"
    )
    with pytest.raises(ClientError) as info:
        client.complete_multipart_upload(
            Bucket=s3_bucket,
            Key="k",
            UploadId=upload["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
    # botocore turns the 200-with-<Error> into a 500 ClientError; the wire said 200.
    assert info.value.response["Error"]["Code"] == "InternalError"
    assert chaos_proxy.stats.statuses == {200: 3}
    assert chaos_proxy.stats.faults == {"complete_error": 1}
    # Nothing was completed: the upload is still open and the object absent.
    uploads = s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
    assert [u["UploadId"] for u in uploads] == [upload["UploadId"]]
    assert s3_client.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0


def test_reset_cuts_the_body_mid_way(
    client: Any, chaos_proxy: ChaosProxy, s3_bucket: str, s3_client: Any
) -> None:
    chaos_proxy.add_fault(Fault(FaultKind.RESET, after_bytes=100_000, operations={"PutObject"}))
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        client.put_object(Bucket=s3_bucket, Key="k", Body=os.urandom(MiB))
    stats = chaos_proxy.stats
    head_bytes = stats.bytes_up - 100_000
    assert 0 < head_bytes < 4096, "exactly 100,000 body bytes (and the head) went upstream"
    assert "PutObject" not in stats.forwarded
    assert s3_client.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0


def test_reset_never_delivers_a_whole_small_body(
    client: Any, chaos_proxy: ChaosProxy, s3_bucket: str, s3_client: Any
) -> None:
    chaos_proxy.add_fault(Fault(FaultKind.RESET, after_bytes=1_000_000))
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        client.put_object(Bucket=s3_bucket, Key="k", Body=b"short body")
    assert s3_client.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0


def test_lost_complete_answer_still_writes_the_object(
    client: Any, chaos_proxy: ChaosProxy, s3_bucket: str, s3_client: Any
) -> None:
    chaos_proxy.add_fault(Fault(FaultKind.LOSE_RESPONSE, operations={"CompleteMultipartUpload"}))
    upload = client.create_multipart_upload(Bucket=s3_bucket, Key="k")
    part = client.upload_part(
        Bucket=s3_bucket, Key="k", UploadId=upload["UploadId"], PartNumber=1, Body=b"landed"
    )
    with pytest.raises(ConnectionClosedError):
        client.complete_multipart_upload(
            Bucket=s3_bucket,
            Key="k",
            UploadId=upload["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
    assert chaos_proxy.stats.forwarded["CompleteMultipartUpload"] == 1
    assert s3_client.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"landed"


def test_delay_holds_a_request(client: Any, chaos_proxy: ChaosProxy, s3_bucket: str) -> None:
    chaos_proxy.add_fault(Fault(FaultKind.DELAY, seconds=0.4, operations={"HeadBucket"}))
    started = time.monotonic()
    client.head_bucket(Bucket=s3_bucket)
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    client.list_objects_v2(Bucket=s3_bucket)
    assert chaos_proxy.stats.faults == {"delay": 1}


def test_bandwidth_limit(s3_server: S3Server, s3_bucket: str, s3_client: Any) -> None:
    with ChaosProxy(s3_server.endpoint_url, bandwidth=2 * MiB) as proxy:
        client = s3_server.boto3_client(endpoint_url=proxy.endpoint_url, config=NO_RETRIES)
        started = time.monotonic()
        client.put_object(Bucket=s3_bucket, Key="k", Body=os.urandom(MiB))
        assert time.monotonic() - started >= 0.45  # 1 MiB at 2 MiB/s
    assert s3_client.head_object(Bucket=s3_bucket, Key="k")["ContentLength"] == MiB


def test_limit_caps_how_often_a_fault_fires(
    client: Any, chaos_proxy: ChaosProxy, s3_bucket: str
) -> None:
    chaos_proxy.add_fault(Fault(FaultKind.SLOWDOWN, limit=2, operations={"HeadBucket"}))
    outcomes = []
    for _ in range(4):
        try:
            client.head_bucket(Bucket=s3_bucket)
            outcomes.append("ok")
        except ClientError:
            outcomes.append("503")
    assert outcomes == ["503", "503", "ok", "ok"]


def test_a_seed_reproduces_the_draws(s3_server: S3Server, s3_bucket: str) -> None:
    def run(seed: int) -> list[bool]:
        with ChaosProxy(s3_server.endpoint_url, internal_error=0.5, seed=seed) as proxy:
            client = s3_server.boto3_client(endpoint_url=proxy.endpoint_url, config=NO_RETRIES)
            failed = []
            for _ in range(20):
                try:
                    client.head_bucket(Bucket=s3_bucket)
                    failed.append(False)
                except ClientError:
                    failed.append(True)
            return failed

    first = run(7)
    assert run(7) == first
    assert 2 < sum(first) < 18


def test_expired_keys_get_expired_token(
    s3_server: S3Server,
    chaos_proxy: ChaosProxy,
    credential_vendor: CredentialVendor,
    s3_bucket: str,
) -> None:
    credential_vendor.lifetime = 2.0
    credential_vendor.server_early = 1.0
    issued = credential_vendor.issue()
    client = s3_server.boto3_client(
        endpoint_url=chaos_proxy.endpoint_url,
        aws_access_key_id=issued.access_key,
        aws_secret_access_key=issued.secret_key,
        config=NO_RETRIES,
    )
    client.put_object(Bucket=s3_bucket, Key="k", Body=b"in time")
    time.sleep(1.1)  # past the server's expiry, before the client's
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket=s3_bucket, Key="k", Body=b"too late")
    assert error_code(info.value) == ("ExpiredToken", 400)
    assert chaos_proxy.stats.faults == {"expired_token": 1}


def test_expiries_from_a_json_file(
    s3_server: S3Server, chaos_proxy: ChaosProxy, s3_bucket: str, tmp_path: Path
) -> None:
    (tmp_path / "expiries.json").write_text(
        json.dumps({s3_server.access_key: "2001-01-01T00:00:00Z"})
    )
    chaos_proxy.load_expiries(tmp_path / "expiries.json")
    client = s3_server.boto3_client(endpoint_url=chaos_proxy.endpoint_url, config=NO_RETRIES)
    with pytest.raises(ClientError) as info:
        client.head_bucket(Bucket=s3_bucket)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_vendor_credentials_rotate_through_a_refreshable_session(
    chaos_proxy: ChaosProxy, credential_vendor: CredentialVendor, s3_bucket: str
) -> None:
    credential_vendor.lifetime = 1.5
    session = credential_vendor.boto3_session(refresh_margin=1.0)
    client = session.client("s3", endpoint_url=chaos_proxy.endpoint_url, config=NO_RETRIES)
    for n in range(3):
        client.put_object(Bucket=s3_bucket, Key=f"k{n}", Body=b"x")
        time.sleep(0.6)
    assert len(credential_vendor.issued) >= 3


@pytest.mark.parametrize("minutes", [20, -20])
def test_skewed_clock_gets_a_real_request_time_too_skewed(
    client: Any, s3_bucket: str, minutes: int
) -> None:
    with skewed_clock(minutes * 60), pytest.raises(ClientError) as info:
        client.head_object(Bucket=s3_bucket, Key="anything")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with skewed_clock(minutes * 60), pytest.raises(ClientError) as info:
        client.put_object(Bucket=s3_bucket, Key="k", Body=b"x")
    assert error_code(info.value) == ("RequestTimeTooSkewed", 403)
    client.put_object(Bucket=s3_bucket, Key="k", Body=b"x")  # the clock is back


def test_stats_count_operations_and_bytes(
    client: Any, chaos_proxy: ChaosProxy, s3_bucket: str
) -> None:
    client.put_object(Bucket=s3_bucket, Key="k", Body=b"x" * 1000)
    client.get_object(Bucket=s3_bucket, Key="k")["Body"].read()
    client.head_object(Bucket=s3_bucket, Key="k")
    stats = chaos_proxy.stats
    assert stats.requests == {"PutObject": 1, "GetObject": 1, "HeadObject": 1}
    assert stats.forwarded == stats.requests
    assert stats.statuses == {200: 3}
    assert stats.bytes_down == 1000
    assert stats.bytes_up > 1000
    chaos_proxy.reset_stats()
    assert chaos_proxy.stats.total_requests == 0


@pytest.mark.parametrize(
    ("method", "target", "operation"),
    [
        ("PUT", "/b/k", "PutObject"),
        ("PUT", "/b/a/b/c?x-id=PutObject", "PutObject"),
        ("POST", "/b/k?uploads", "CreateMultipartUpload"),
        ("PUT", "/b/k?partNumber=3&uploadId=u", "UploadPart"),
        ("POST", "/b/k?uploadId=u", "CompleteMultipartUpload"),
        ("DELETE", "/b/k?uploadId=u", "AbortMultipartUpload"),
        ("GET", "/b/k?uploadId=u", "ListParts"),
        ("GET", "/b?uploads", "ListMultipartUploads"),
        ("HEAD", "/b/k", "HeadObject"),
        ("GET", "/b/k", "GetObject"),
        ("GET", "/b?list-type=2", "ListObjects"),
        ("HEAD", "/b", "HeadBucket"),
        ("GET", "/", "ListBuckets"),
    ],
)
def test_classify(method: str, target: str, operation: str) -> None:
    assert classify(method, target) == operation


def test_cli_runs_a_proxy_and_reports(s3_server: S3Server, s3_bucket: str) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "resilient_s3",
            "chaos",
            "--upstream",
            s3_server.endpoint_url,
            "--slowdown",
            "1",
            "--only",
            "PutObject",
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        client = s3_server.boto3_client(endpoint_url=first["endpoint_url"], config=NO_RETRIES)
        with pytest.raises(ClientError):
            client.put_object(Bucket=s3_bucket, Key="k", Body=b"x")
        client.head_bucket(Bucket=s3_bucket)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    final = json.loads(out.strip().splitlines()[-1])
    assert final["faults"] == {"slowdown": 1}
    assert final["requests"] == {"PutObject": 1, "HeadBucket": 1}


def test_chunked_bodies_are_relayed_and_the_connection_reused(
    s3_server: S3Server, chaos_proxy: ChaosProxy, s3_bucket: str
) -> None:
    port = int(chaos_proxy.endpoint_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        # Unsigned, so the server refuses it: what matters is that the relay kept the framing.
        conn.request("PUT", f"/{s3_bucket}/chunked", body=iter([b"abc", b"defg"]))
        first = conn.getresponse()
        first.read()
        conn.request("GET", f"/{s3_bucket}/chunked")
        second = conn.getresponse()
        second.read()
    finally:
        conn.close()
    assert first.status == second.status == 403
    assert chaos_proxy.stats.requests == {"PutObject": 1, "GetObject": 1}
    assert chaos_proxy.stats.connections == 1


def test_many_concurrent_connections(
    s3_server: S3Server, chaos_proxy: ChaosProxy, s3_bucket: str, s3_client: Any
) -> None:
    client = s3_server.boto3_client(
        endpoint_url=chaos_proxy.endpoint_url,
        config=NO_RETRIES.merge(Config(max_pool_connections=32)),
    )

    def put(n: int) -> None:
        client.put_object(Bucket=s3_bucket, Key=f"k{n}", Body=b"%d" % n * 1000)

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        list(pool.map(put, range(128)))
    assert chaos_proxy.stats.statuses == {200: 128}
    assert chaos_proxy.stats.connections >= 8
    listed = s3_client.list_objects_v2(Bucket=s3_bucket)["KeyCount"]
    assert listed == 128
