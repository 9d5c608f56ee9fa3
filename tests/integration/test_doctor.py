"""``doctor`` against SeaweedFS as the user of issue 19 met it: credentials S3 refuses, a missing
bucket, a skewed clock and CORS rules that stop a browser are each reported once, with evidence
that adds to the summary, and the checks that could only meet the same problem again are
skipped, saying why. ``test_diagnostics.py`` has the healthy setup and a read-only identity."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import boto3
import pytest

from resilient_s3 import doctor
from resilient_s3._api.doctor import async_doctor
from resilient_s3._auth.sigv4 import utc_now
from resilient_s3._cli import main
from resilient_s3.testing import S3Server
from s3_helpers import admin_session

ORIGIN = "https://app.example"
AFTER_CREDENTIALS = (
    "bucket",
    "region",
    "write",
    "multipart",
    "presigned-put",
    "cors",
    "encryption",
)


def unknown_key(server: S3Server) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="AKIDNOSUCHKEY0000000",
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
    )


@pytest.mark.parametrize(
    ("session_of", "cause", "code"),
    [
        (lambda server: admin_session(server, "not-the-secret"), "signature-mismatch", "Signature"),
        (unknown_key, "invalid-access-key", "InvalidAccessKeyId"),
    ],
    ids=["wrong-secret", "unknown-access-key"],
)
def test_credentials_s3_refuses_are_the_one_problem(
    s3_server: S3Server, s3_bucket: str, session_of: Any, cause: str, code: str
) -> None:
    report = doctor(
        f"s3://{s3_bucket}/in/",
        session=session_of(s3_server),
        endpoint_url=s3_server.endpoint_url,
        origin=ORIGIN,
    )
    credentials = report.check("credentials")
    assert credentials.status == "problem", str(report)
    assert credentials.diagnosis is not None
    assert credentials.diagnosis.cause == cause
    assert credentials.summary.startswith("S3 does not accept them")
    assert any(code in line for line in credentials.evidence)
    assert [check.name for check in report.problems] == ["credentials"]
    for name in AFTER_CREDENTIALS:
        check = report.check(name)
        assert check.status == "skipped", str(report)
        assert check.summary == "not run: S3 does not accept the credentials (see credentials)"
    text = str(report)
    assert text.count(code) == 1, text  # one refusal, told once
    fixes = [fix for check in report.checks for fix in check.fixes]
    assert fixes
    assert not [fix for fix in fixes if "resilient-s3 doctor" in fix]  # it is what runs


def test_a_missing_bucket_is_reported_once_and_nothing_needing_it_runs(
    s3_server: S3Server,
) -> None:
    report = doctor(
        "s3://missing-bucket-19",
        session=admin_session(s3_server),
        endpoint_url=s3_server.endpoint_url,
        origin=ORIGIN,
    )
    assert [check.name for check in report.problems] == ["bucket"], str(report)
    bucket = report.check("bucket")
    assert bucket.diagnosis is not None
    assert bucket.diagnosis.cause == "no-such-bucket"
    assert report.check("credentials").status == "ok"
    for name in AFTER_CREDENTIALS[1:]:  # encryption included: it said "ok" before
        check = report.check(name)
        assert check.status == "skipped", str(report)
        assert check.summary == "not run: the bucket does not exist (see bucket)"
    assert str(report).count("no-such-bucket") == 1, str(report)  # once, not once per check


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("skew", "status", "words"),
    [(-1800, "problem", "behind"), (120, "warning", "ahead of")],
    ids=["behind", "ahead"],
)
async def test_the_clock_says_which_way_it_is_off_with_no_sign_to_misread(
    s3_server: S3Server, s3_bucket: str, skew: int, status: str, words: str
) -> None:
    def skewed() -> datetime.datetime:
        return utc_now() + datetime.timedelta(seconds=skew)

    report = await async_doctor(
        s3_bucket,
        session=admin_session(s3_server),
        endpoint_url=s3_server.endpoint_url,
        _clock=skewed,
    )
    clock = report.check("clock")
    assert clock.status == status, str(report)
    # The server's Date has whole seconds: 30 min may read 29 min 59 s.
    assert re.match(
        rf"this machine's clock is \d+ min( \d+ s)? {words} the server's", clock.summary
    )
    [evidence] = clock.evidence
    times = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", evidence)
    server, local = (datetime.datetime.fromisoformat(t) for t in times)
    assert "server's clock" in evidence.split(times[0])[0]
    assert abs((local - server).total_seconds() - skew) <= 2, evidence
    assert not re.search(r"[+-]\d+ s", evidence)


def test_a_cors_problem_has_the_rules_as_evidence_not_its_summary_again(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    rule = {
        "AllowedOrigins": [ORIGIN],
        "AllowedMethods": ["PUT"],
        "AllowedHeaders": ["content-type"],
        "ExposeHeaders": [],
    }
    s3_client.put_bucket_cors(Bucket=s3_bucket, CORSConfiguration={"CORSRules": [rule]})
    report = doctor(
        s3_bucket,
        session=admin_session(s3_server),
        endpoint_url=s3_server.endpoint_url,
        origin=ORIGIN,
    )
    cors = report.check("cors")
    assert cors.status == "problem", str(report)
    assert "cannot read the ETag header" in cors.summary
    assert cors.evidence == (
        "GetBucketCors: 1 rule",
        f"rule 1: origins {ORIGIN}; methods PUT; headers content-type; exposes none",
    )
    for line in cors.evidence:
        assert line not in cors.summary


def test_doctor_takes_a_bare_bucket_name(
    s3_server: S3Server,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    where = ["--endpoint-url", s3_server.endpoint_url]
    assert main(["doctor", s3_bucket, "--json", *where]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["target"] == f"s3://{s3_bucket}/"
    # A bucket and a prefix need the URL: said in the command's own form.
    with pytest.raises(SystemExit) as exit:
        main(["doctor", f"{s3_bucket}/in/", *where])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert f"expected s3://bucket[/prefix] or a bucket name, got '{s3_bucket}/in/'" in err
    assert "s3://bucket/key" not in err


def test_doctor_refuses_an_invalid_bucket_name_at_the_environments_endpoint(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # AWS_ENDPOINT_URL is a custom server, as --endpoint-url: AWS's legacy names do not exist.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    assert main(["doctor", "s3://Bad_Bucket/x"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("resilient-s3: invalid bucket name 'Bad_Bucket'")
