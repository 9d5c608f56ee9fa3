"""The command line, end to end against the test server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from resilient_s3._cli import main
from resilient_s3.testing import S3Server


@pytest.fixture
def env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    return ["--endpoint-url", s3_server.endpoint_url, "--quiet"]


def test_put_prints_the_result(
    env: list[str],
    s3_bucket: str,
    s3_client: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "f").write_bytes(b"cli" * 5000)
    code = main(["put", str(tmp_path / "f"), f"s3://{s3_bucket}/a/b", "--part-size", "5MiB", *env])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["key"], result["size"], result["strategy"]) == ("a/b", 15000, "single")
    assert s3_client.get_object(Bucket=s3_bucket, Key="a/b")["Body"].read() == b"cli" * 5000


def test_put_dir(
    env: list[str], s3_bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x").write_bytes(b"1")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "y").write_bytes(b"2")
    assert main(["put-dir", str(tmp_path), f"s3://{s3_bucket}/pre/", *env]) == 0
    keys = sorted(r["key"] for r in json.loads(capsys.readouterr().out))
    assert keys == ["pre/sub/y", "pre/x"]


def test_failure_exits_1_with_the_reason(
    env: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["put", str(tmp_path / "absent"), "s3://bucket/key", *env]) == 1
    assert "no such file" in capsys.readouterr().err


def test_missing_bucket_is_diagnosed(
    env: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    assert main(["put", str(tmp_path / "f"), "s3://no-such-bucket-here/key", *env]) == 1
    err = capsys.readouterr().err
    assert "NoSuchBucket" in err
    assert "no-such-bucket" in err  # the cause, named


def test_bad_destination_is_a_usage_error(env: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["put", str(tmp_path), "bucket/key", *env])
    assert info.value.code == 2
