"""Each cause reproduced for real where the test server can: the answer comes from SeaweedFS
(or from the chaos proxy in front of it, for ExpiredToken and throttling), and is diagnosed as
a boto3 ``ClientError``, as a raw HTTP answer (the same answer, as it crossed the wire), and as
resilient-s3's own error. Then
``doctor`` against a healthy setup, and against a read-only identity on a skewed clock.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials

from resilient_s3 import (
    Presigner,
    ResilientUploader,
    UploadConfig,
    UploadError,
    diagnose,
    doctor,
)
from resilient_s3._auth.sigv4 import sign_request
from resilient_s3.testing import ChaosProxy, Fault, FaultKind, S3Server
from s3_helpers import (
    admin_session,
    client_error,
    form,
    installed,
    open_uploads,
    reader_session,
    send,
)

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
ORIGIN = "https://app.example"


def boto3_error(call: Any) -> Any:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    return raised.value


def on_the_wire(client: Any) -> dict[str, Any]:
    """What ``client`` sends and receives from now on, as it crosses the wire (the last
    request and answer): the raw HTTP a browser or ``curl`` would show."""
    seen: dict[str, Any] = {}

    def sent(request: Any, **_: Any) -> None:
        seen["url"], seen["method"] = request.url, request.method
        seen["request_headers"] = {
            name: value.decode() if isinstance(value, bytes) else value
            for name, value in request.headers.items()
        }

    def answered(http_response: Any, **_: Any) -> None:
        seen["status"] = http_response.status_code
        seen["headers"] = dict(http_response.headers)
        seen["body"] = http_response.content

    client.meta.events.register("before-send.s3", sent)
    client.meta.events.register("after-call.s3", answered)
    return seen


def diagnose_raw(seen: dict[str, Any]) -> Any:
    """diagnose() given the raw answer ``seen`` and its request, as a non-boto3 client would."""
    return diagnose(
        status=seen["status"],
        headers=seen["headers"],
        body=seen["body"],
        url=seen["url"],
        method=seen["method"],
        request_headers=seen["request_headers"],
    )


def upload_error(session: boto3.Session, server: S3Server | ChaosProxy, bucket: str) -> UploadError:
    config = UploadConfig(max_attempts=2)
    with (
        ResilientUploader(session, endpoint_url=server.endpoint_url, config=config) as up,
        pytest.raises(UploadError) as raised,
    ):
        up.upload_fileobj(_Bytes(b"diagnose me"), bucket, "k")
    return raised.value


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> bytes:
        chunk, self.data = (self.data, b"") if size < 0 else (self.data[:size], self.data[size:])
        return chunk


def text_of(diagnosis: Any) -> str:
    return "\n".join([diagnosis.summary, *diagnosis.evidence, *diagnosis.fixes])


def test_an_expired_presigned_url_from_its_raw_answer(s3_server: S3Server, s3_bucket: str) -> None:
    with Presigner(admin_session(s3_server), endpoint_url=s3_server.endpoint_url) as signer:
        put = signer.presign_put(s3_bucket, "late.bin", expires_in=1)
    time.sleep(2.2)
    status, headers, body = send("PUT", put.url, dict(put.headers), b"too late")
    assert status == 403
    raw = diagnose(status=status, headers=dict(headers), body=body, url=put)
    as_client_error = diagnose(client_error(status, dict(headers), body), url=put.url)
    for diagnosis in (raw, as_client_error):
        assert diagnosis.cause == "presigned-url-expired"
        assert "before it was used (the server's time" in text_of(diagnosis)
        assert "valid 1 s" in diagnosis.summary
        assert diagnosis.retryable


def test_a_skewed_client_clock(s3_server: S3Server, s3_bucket: str) -> None:
    url = f"{s3_server.endpoint_url}/{s3_bucket}/skewed"
    body = b"thirty minutes late"
    headers = sign_request(
        "PUT",
        url,
        {"Content-Length": str(len(body))},
        credentials=ReadOnlyCredentials(s3_server.access_key, s3_server.secret_key, None),
        region=s3_server.region,
        payload_sha256=hashlib.sha256(body).hexdigest(),
        now=lambda: (
            datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
            - datetime.timedelta(minutes=30)
        ),
    )
    status, answer_headers, answer = send("PUT", url, headers, body)
    assert status == 403
    for diagnosis in (
        diagnose(status=status, headers=dict(answer_headers), body=answer, request_headers=headers),
        diagnose(client_error(status, dict(answer_headers), answer), request_headers=headers),
    ):
        assert diagnosis.cause == "clock-skew"
        assert "behind the server's" in diagnosis.summary
        assert "30 min" in diagnosis.summary or "29 min" in diagnosis.summary
        assert s3_server.secret_key not in text_of(diagnosis)


def test_a_wrong_secret_key(s3_server: S3Server, s3_bucket: str) -> None:
    wrong = admin_session(s3_server, secret="not-the-secret-key")
    client = wrong.client("s3", endpoint_url=s3_server.endpoint_url, config=NO_RETRIES)
    seen = on_the_wire(client)
    error = boto3_error(lambda: client.put_object(Bucket=s3_bucket, Key="k", Body=b"x"))
    assert diagnose(error).cause == "signature-mismatch"
    raw = diagnose_raw(seen)
    assert raw.cause == "signature-mismatch"
    assert "not-the-secret-key" not in text_of(raw)
    ours = upload_error(wrong, s3_server, s3_bucket)
    assert ours.diagnosis is not None
    assert ours.diagnosis.cause == "signature-mismatch"
    assert ours.diagnosis.fixes[0] == "check the secret access key"
    assert "not-the-secret-key" not in str(ours) + text_of(ours.diagnosis)


def test_an_unknown_access_key(s3_server: S3Server, s3_bucket: str) -> None:
    unknown = boto3.Session(
        aws_access_key_id="AKIAUNKNOWNKEY000001", aws_secret_access_key="x", region_name="us-east-1"
    )
    client = unknown.client("s3", endpoint_url=s3_server.endpoint_url, config=NO_RETRIES)
    seen = on_the_wire(client)
    error = boto3_error(lambda: client.put_object(Bucket=s3_bucket, Key="k", Body=b"x"))
    assert diagnose(error).cause == "invalid-access-key"
    raw = diagnose_raw(seen)
    assert raw.cause == "invalid-access-key"
    assert "AKIA****0001" in text_of(raw)
    assert "AKIAUNKNOWNKEY000001" not in text_of(raw)
    ours = upload_error(unknown, s3_server, s3_bucket)
    assert ours.diagnosis is not None
    assert ours.diagnosis.cause == "invalid-access-key"
    assert "AKIA****0001" in text_of(ours.diagnosis)
    assert "AKIAUNKNOWNKEY000001" not in text_of(ours.diagnosis)


def test_a_missing_bucket(s3_server: S3Server, s3_client: Any) -> None:
    seen = on_the_wire(s3_client)
    error = boto3_error(lambda: s3_client.put_object(Bucket="no-such-bkt", Key="k", Body=b"x"))
    assert diagnose(error).cause == "no-such-bucket"
    raw = diagnose_raw(seen)
    assert raw.cause == "no-such-bucket"
    assert "bucket: no-such-bkt" in raw.evidence
    ours = upload_error(admin_session(s3_server), s3_server, "no-such-bkt")
    assert ours.diagnosis is not None
    assert ours.diagnosis.cause == "no-such-bucket"
    assert "bucket: no-such-bkt" in ours.diagnosis.evidence


def test_a_part_too_small(s3_bucket: str, s3_client: Any) -> None:
    upload = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="small")["UploadId"]
    parts = [
        {
            "PartNumber": n,
            "ETag": s3_client.upload_part(
                Bucket=s3_bucket, Key="small", UploadId=upload, PartNumber=n, Body=b"x" * 1000
            )["ETag"],
        }
        for n in (1, 2)
    ]
    seen = on_the_wire(s3_client)
    error = boto3_error(
        lambda: s3_client.complete_multipart_upload(
            Bucket=s3_bucket, Key="small", UploadId=upload, MultipartUpload={"Parts": parts}
        )
    )
    raw = diagnose_raw(seen)  # before the abort's answer replaces it
    s3_client.abort_multipart_upload(Bucket=s3_bucket, Key="small", UploadId=upload)
    for diagnosis in (diagnose(error), raw):
        assert diagnosis.cause == "entity-too-small"
        assert "at least 5 MiB" in text_of(diagnosis)


def test_a_read_only_identity(s3_server: S3Server, s3_bucket: str) -> None:
    reader = reader_session(s3_server)
    client = reader.client("s3", endpoint_url=s3_server.endpoint_url, config=NO_RETRIES)
    seen = on_the_wire(client)
    error = boto3_error(lambda: client.put_object(Bucket=s3_bucket, Key="k", Body=b"x"))
    assert diagnose(error).cause == "permission-denied"
    raw = diagnose_raw(seen)
    assert raw.cause == "permission-denied"
    ours = upload_error(reader, s3_server, s3_bucket)
    assert ours.diagnosis is not None
    assert ours.diagnosis.cause == "permission-denied"
    key = reader.get_credentials().access_key
    masked = f"{key[:4]}****{key[-4:]}"
    for text in (text_of(ours.diagnosis), text_of(raw)):
        assert "S3 gave no reason" in text
        assert masked in text
        assert key not in text
    assert f"doctor s3://{s3_bucket}/PREFIX" in text_of(ours.diagnosis)


def test_a_content_type_other_than_signed_names_both_values(
    s3_server: S3Server, s3_bucket: str
) -> None:
    with Presigner(admin_session(s3_server), endpoint_url=s3_server.endpoint_url) as signer:
        put = signer.presign_put(s3_bucket, "photo.jpg", content_type="image/jpeg")
    sent = {"Content-Type": "image/png"}
    status, headers, body = send("PUT", put.url, sent, b"x" * 100)
    assert status == 403
    diagnosis = diagnose(
        status=status, headers=dict(headers), body=body, url=put, request_headers=sent
    )
    assert diagnosis.cause == "signature-mismatch"
    assert "Content-Type sent ('image/png') differs from the one signed ('image/jpeg')" in (
        diagnosis.summary
    )
    assert diagnosis.fixes[0].startswith("send Content-Type: image/jpeg exactly as signed")


def curl_i(status: int, headers: Any, body: bytes) -> str:
    """The answer as ``curl -i`` prints it, for pasting into ``resilient-s3 explain``."""
    lines = [f"HTTP/1.1 {status} {'Forbidden' if status == 403 else 'Bad Request'}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return "\r\n".join(lines) + "\r\n\r\n" + body.decode()


def test_a_url_presigned_with_a_wrong_secret_is_the_backends_to_fix(
    s3_server: S3Server, s3_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19: the client sent exactly what the URL signs; only its signer can fix this.
    And ``explain ANSWER URL`` reads the answer it is given, the URL beside it."""
    wrong = admin_session(s3_server, secret="not-the-secret-key")
    with Presigner(wrong, endpoint_url=s3_server.endpoint_url) as signer:
        put = signer.presign_put(s3_bucket, "photo.jpg", content_type="image/jpeg")
    sent = dict(put.headers)
    status, headers, body = send("PUT", put.url, sent, b"x" * 100)
    assert status == 403
    diagnosis = diagnose(
        status=status, headers=dict(headers), body=body, url=put, request_headers=sent
    )
    assert diagnosis.cause == "signature-mismatch"
    assert "backend that presigned the URL must fix its credentials" in diagnosis.summary
    assert diagnosis.fixes[0].startswith("the URL was signed with a wrong secret key")
    assert "check the secret access key" not in diagnosis.fixes
    assert "not-the-secret-key" not in text_of(diagnosis)

    from resilient_s3._cli.main import main

    assert main(["explain", curl_i(status, headers, body), put.url]) == 0
    out = capsys.readouterr().out
    assert "cause: signature-mismatch" in out
    assert "HEAD" not in out
    assert "1. send every header the URL signs (X-Amz-SignedHeaders)" in out
    assert "Content-Type" in out.split("1. ", 1)[1].split("\n")[0]


def test_a_part_other_than_its_signed_checksum_is_not_worth_sending_again(
    s3_server: S3Server, s3_bucket: str
) -> None:
    data = b"the bytes the backend signed for"
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    with Presigner(admin_session(s3_server), endpoint_url=s3_server.endpoint_url) as signer:
        upload = signer.create_multipart(s3_bucket, "summed", checksum_algorithm="CRC32")
        part = signer.presign_part(
            s3_bucket, "summed", upload.upload_id, 1, checksum=("CRC32", crc)
        )
        sent = dict(part.headers)
        status, headers, body = send("PUT", part.url, sent, b"other bytes, the same length!!!!")
        signer.abort_multipart(s3_bucket, "summed", upload.upload_id)
    assert status == 400
    for url in (part, part.url):
        diagnosis = diagnose(
            status=status, headers=dict(headers), body=body, url=url, request_headers=sent
        )
        assert diagnosis.cause == "checksum-mismatch"
        assert "other bytes than the backend signed for" in diagnosis.summary
        assert "the URL signs X-Amz-Checksum-Crc32" in text_of(diagnosis)
        assert not diagnosis.retryable
        assert "read again" not in text_of(diagnosis)


def test_completing_with_a_wrong_etag_says_to_read_them_with_list_parts(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    upload = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="etags")["UploadId"]
    s3_client.upload_part(Bucket=s3_bucket, Key="etags", UploadId=upload, PartNumber=1, Body=b"x")
    wrong = {"Parts": [{"PartNumber": 1, "ETag": '"0123456789abcdef0123456789abcdef"'}]}
    seen = on_the_wire(s3_client)
    error = boto3_error(
        lambda: s3_client.complete_multipart_upload(
            Bucket=s3_bucket, Key="etags", UploadId=upload, MultipartUpload=wrong
        )
    )
    raw = diagnose_raw(seen)
    with (
        Presigner(admin_session(s3_server), endpoint_url=s3_server.endpoint_url) as signer,
        pytest.raises(UploadError) as ours,
    ):
        signer.complete_multipart(
            s3_bucket, "etags", upload, parts=[(1, '"0123456789abcdef0123456789abcdef"')]
        )
    s3_client.abort_multipart_upload(Bucket=s3_bucket, Key="etags", UploadId=upload)
    for diagnosis in (diagnose(error), raw, ours.value.diagnosis):
        assert diagnosis is not None
        assert (diagnosis.cause, diagnosis.retryable) == ("invalid-part", False)
        assert "ListParts (Presigner.list_parts" in diagnosis.fixes[0]
        assert "extra_args" not in text_of(diagnosis)


@pytest.mark.parametrize(
    ("size", "cause", "says"),
    [(200, "entity-too-large", "sets a maximum size"), (2, "entity-too-small", "sets a minimum")],
)
def test_a_form_outside_its_size_range_is_told_the_policys_range(
    s3_server: S3Server, s3_bucket: str, size: int, cause: str, says: str
) -> None:
    """SeaweedFS names no limit (AWS adds MaxSizeAllowed): the request says it was a form."""
    with Presigner(admin_session(s3_server), endpoint_url=s3_server.endpoint_url) as signer:
        post = signer.presign_post(s3_bucket, "form.bin", size_range=(10, 100))
    body, content_type = form(dict(post.fields), b"z" * size)
    sent = {"Content-Type": content_type}
    status, headers, answer = send("POST", post.url, sent, body)
    assert status == 400
    diagnosis = diagnose(
        status=status, headers=dict(headers), body=answer, url=post.url, request_headers=sent
    )
    assert diagnosis.cause == cause
    assert diagnosis.fixes[0].startswith(f"the form's POST policy {says}")
    assert "content-length-range" in diagnosis.fixes[0]
    assert "5 GiB" not in text_of(diagnosis)
    assert "5 MiB" not in text_of(diagnosis)


@pytest.fixture
def proxy(s3_server: S3Server, request: pytest.FixtureRequest) -> Iterator[ChaosProxy]:
    fault: Fault = request.param
    with ChaosProxy(s3_server.endpoint_url, faults=[fault]) as chaos:
        yield chaos


TOKEN = "FQoGZXIvYXdzEXAMPLEsessionTOKENthatMustNotLeak"


@pytest.mark.parametrize("proxy", [Fault(FaultKind.EXPIRED_TOKEN, 1.0)], indirect=True)
def test_an_expired_token_through_the_proxy(
    proxy: ChaosProxy, s3_server: S3Server, s3_bucket: str
) -> None:
    temporary = boto3.Session(
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        aws_session_token=TOKEN,
        region_name=s3_server.region,
    )
    client = temporary.client("s3", endpoint_url=proxy.endpoint_url, config=NO_RETRIES)
    seen = on_the_wire(client)
    error = boto3_error(lambda: client.put_object(Bucket=s3_bucket, Key="k", Body=b"x"))
    assert TOKEN in json.dumps(error.response)  # AWS echoes it (Token-0): boto3 keeps it
    assert TOKEN.encode() in seen["body"]
    diagnosis = diagnose(error)
    raw = diagnose_raw(seen)
    for each in (diagnosis, raw):
        assert each.cause == "credentials-expired"
        assert "S3 echoed the session token it refused (Token-0, not shown)" in each.evidence
        assert each.retryable
    ours = upload_error(temporary, proxy, s3_bucket)
    assert ours.diagnosis is not None
    assert ours.diagnosis.cause == "credentials-expired"
    for text in (text_of(diagnosis), text_of(raw), text_of(ours.diagnosis), str(ours), repr(ours)):
        assert TOKEN not in text


@pytest.mark.parametrize("proxy", [Fault(FaultKind.EXPIRED_TOKEN, 1.0)], indirect=True)
def test_the_uploader_adds_when_its_credentials_expire(
    proxy: ChaosProxy, s3_server: S3Server, s3_bucket: str
) -> None:
    expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)

    def credentials() -> dict[str, Any]:
        return {
            "access_key": s3_server.access_key,
            "secret_key": s3_server.secret_key,
            "token": TOKEN,
            "expiry_time": expiry.isoformat(),
        }

    with (
        ResilientUploader(
            endpoint_url=proxy.endpoint_url,
            region_name=s3_server.region,
            credentials=credentials,
            config=UploadConfig(max_attempts=3),
        ) as up,
        pytest.raises(UploadError) as raised,
    ):
        up.upload_fileobj(_Bytes(b"x"), s3_bucket, "k")
    diagnosis = raised.value.diagnosis
    assert diagnosis is not None
    assert diagnosis.cause == "credentials-expired"
    assert f"expire(d) at {expiry:%Y-%m-%d %H:%M}" in text_of(diagnosis)


@pytest.mark.parametrize("proxy", [Fault(FaultKind.SLOWDOWN, 1.0)], indirect=True)
def test_throttling_through_the_proxy(
    proxy: ChaosProxy, s3_server: S3Server, s3_bucket: str
) -> None:
    session = admin_session(s3_server)
    client = session.client("s3", endpoint_url=proxy.endpoint_url, config=NO_RETRIES)
    seen = on_the_wire(client)
    error = boto3_error(lambda: client.put_object(Bucket=s3_bucket, Key="k", Body=b"x"))
    assert diagnose(error).cause == "throttled"
    raw = diagnose_raw(seen)
    assert (raw.cause, raw.retryable) == ("throttled", True)
    ours = upload_error(session, proxy, s3_bucket)
    assert ours.diagnosis is not None
    assert ours.diagnosis.cause == "throttled"
    assert ours.diagnosis.retryable
    assert "gave up after 2 attempts" in str(ours)


# -- doctor ------------------------------------------------------------------------------------


def test_doctor_on_a_healthy_setup_is_all_green(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    s3_client.put_bucket_cors(
        Bucket=s3_bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [ORIGIN],
                    "AllowedMethods": ["GET", "PUT", "POST", "HEAD"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                }
            ]
        },
    )
    report = doctor(
        f"s3://{s3_bucket}/incoming/",
        session=admin_session(s3_server),
        endpoint_url=s3_server.endpoint_url,
        origin=ORIGIN,
    )
    assert report.ok, str(report)
    assert [check.status for check in report.checks] == ["ok"] * len(report.checks), str(report)
    assert [check.name for check in report.checks] == [
        "credentials",
        "clock",
        "bucket",
        "region",
        "write",
        "multipart",
        "presigned-put",
        "cors",
        "encryption",
    ]
    assert str(report).endswith("all good")
    # It leaves nothing behind.
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", []) == []
    assert open_uploads(s3_client, s3_bucket) == []


def test_doctor_names_a_read_only_identity_and_a_skewed_clock_in_one_run(
    s3_server: S3Server, s3_bucket: str
) -> None:
    faketime = installed("faketime", "faketime")
    if faketime is None:
        pytest.skip("faketime is not installed and could not be (Debian: apt-get install faketime)")
    reader = reader_session(s3_server).get_credentials()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": reader.access_key,
        "AWS_SECRET_ACCESS_KEY": reader.secret_key,
        "AWS_REGION": s3_server.region,
    }
    env.pop("AWS_PROFILE", None)
    command = [sys.executable, "-m", "resilient_s3", "doctor", f"s3://{s3_bucket}/in/"]
    command += ["--endpoint-url", s3_server.endpoint_url, "--json"]
    done = subprocess.run(
        [faketime, "-f", "-30m", *command], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["clock"]["status"] == "problem"
    assert "behind the server's" in checks["clock"]["summary"]
    assert checks["write"]["status"] == "problem"
    assert checks["write"]["diagnosis"]["cause"] == "permission-denied"
    assert checks["multipart"]["status"] == "problem"
    assert checks["credentials"]["status"] == "ok"
    assert reader.secret_key not in done.stdout + done.stderr
    assert reader.access_key not in done.stdout


def test_doctor_without_an_origin_skips_cors_and_reads_a_missing_bucket(
    s3_server: S3Server,
) -> None:
    report = doctor(
        "s3://no-such-bkt", session=admin_session(s3_server), endpoint_url=s3_server.endpoint_url
    )
    assert not report.ok
    bucket = report.check("bucket")
    assert bucket.status == "problem"
    assert bucket.diagnosis is not None
    assert bucket.diagnosis.cause == "no-such-bucket"
    assert report.check("cors").status == "skipped"


def test_doctor_refuses_a_bad_target_before_any_request(s3_server: S3Server) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "resilient_s3",
            "doctor",
            "s3://Bad_Bucket/x",
            "--endpoint-url",
            s3_server.endpoint_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"},
    )
    assert done.returncode == 2
    assert "invalid bucket name" in done.stderr
