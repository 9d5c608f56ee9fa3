"""The command line, end to end against the test server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from resilient_s3._cli import main
from resilient_s3._upload.journal import Header, Journal
from resilient_s3.testing import ChaosProxy, Fault, FaultKind, S3Server
from s3_helpers import open_uploads, stored_sha256, write_random

MiB = 1024 * 1024


@pytest.fixture
def env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    return ["--endpoint-url", s3_server.endpoint_url]


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_put_prints_the_result(
    env: list[str],
    s3_bucket: str,
    s3_client: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "f").write_bytes(b"cli" * 5000)
    argv = ["put", str(tmp_path / "f"), f"s3://{s3_bucket}/a/b", "--part-size", "5MiB", *env]
    assert main([*argv, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # one JSON document, on one line
    result = json.loads(out)
    assert (result["key"], result["size"], result["strategy"]) == ("a/b", 15000, "single")
    assert s3_client.get_object(Bucket=s3_bucket, Key="a/b")["Body"].read() == b"cli" * 5000


def test_put_dir(
    env: list[str], s3_bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x").write_bytes(b"1")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "y").write_bytes(b"2")
    assert main(["put-dir", str(tmp_path), f"s3://{s3_bucket}/pre/", *env, "--json"]) == 0
    *files, summary = json_lines(capsys.readouterr().out)
    assert sorted(r["key"] for r in files) == ["pre/sub/y", "pre/x"]
    assert {r["status"] for r in files} == {"uploaded"}
    assert (summary["status"], summary["uploaded"], summary["files"]) == ("summary", 2, 2)


def test_a_missing_source_exits_2_with_the_reason(
    env: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing was sent: the command cannot run as given (exit 2, not 1: see --help).
    assert main(["put", str(tmp_path / "absent"), "s3://bucket/key", *env]) == 2
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


def keys_in(client: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


@pytest.mark.parametrize(
    ("destination", "key"),
    [("s3://{b}/dir/", "dir/f.txt"), ("s3://{b}", "f.txt"), ("s3://{b}/", "f.txt")],
)
def test_put_into_a_prefix_appends_the_file_name(
    env: list[str],
    s3_bucket: str,
    s3_client: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    destination: str,
    key: str,
) -> None:
    (tmp_path / "f.txt").write_bytes(b"data")
    argv = ["put", str(tmp_path / "f.txt"), destination.format(b=s3_bucket), *env, "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["key"] == key
    assert keys_in(s3_client, s3_bucket) == [key]  # nothing at "dir/" itself


@pytest.mark.parametrize("destination", ["s3://{b}", "s3://{b}/dir/"])
def test_stdin_without_a_key_is_refused(
    env: list[str],
    s3_bucket: str,
    s3_client: Any,
    capsys: pytest.CaptureFixture[str],
    destination: str,
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["put", "-", destination.format(b=s3_bucket), *env])
    assert info.value.code == 2
    assert "standard input has no file name: give the whole key" in capsys.readouterr().err
    assert keys_in(s3_client, s3_bucket) == []


def test_put_dir_treats_the_destination_as_a_prefix(
    env: list[str],
    s3_bucket: str,
    s3_client: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "x").write_bytes(b"1")
    assert main(["put-dir", str(tmp_path), f"s3://{s3_bucket}/pfx", *env]) == 0
    assert keys_in(s3_client, s3_bucket) == ["pfx/x"]  # the / is added, as aws s3 cp does


def test_put_of_a_directory_names_put_dir(
    env: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["put", str(tmp_path), "s3://bucket/key", *env])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"use `resilient-s3 put-dir {tmp_path} s3://bucket/key`" in err
    assert "upload_directory" not in err


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ("abc", "not a size: 'abc'"),
        ("5M", "'5M' is ambiguous: write 5MiB for powers of 1024 or 5MB"),
    ],
)
def test_bad_sizes_are_named_plainly(
    env: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], size: str, message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["put", str(tmp_path), "s3://bucket/key", "--part-size", size, *env])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "_size" not in err


def test_decimal_size_units_mean_powers_of_1000(
    env: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    # 5MB is 5,000,000 bytes, below S3's 5 MiB minimum part size: refused, not read as 5 MiB,
    # and in the flag's name (a usage error, before anything is sent), not the setting's.
    with pytest.raises(SystemExit) as info:
        main(["put", str(tmp_path / "f"), "s3://bucket/key", "--part-size", "5MB", *env])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --part-size: a part must be between 5 MiB and 5 GiB, got 5 MB" in err
    assert "part_size" not in err


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["put", "--help"], ["put-dir", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
        out = capsys.readouterr().out
        for code in ("0 ", "1 ", "2 ", "130", "143"):
            assert f"  {code}" in out, (argv, code)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--endpoint-url", "127.0.0.1:9000"], "endpoint URL '127.0.0.1:9000' is not an http://"),
        (["--endpoint-url", "ftp://127.0.0.1:9000"], "'ftp://127.0.0.1:9000' is not an http://"),
        (["--profile", "nosuch"], "AWS profile 'nosuch' not found"),
    ],
)
def test_configuration_mistakes_are_one_line_and_exit_2(
    s3_server: S3Server,
    tmp_path: Path,
    option: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    if option[0] == "--profile":
        option += ["--endpoint-url", s3_server.endpoint_url]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "resilient_s3._cli",
            "put",
            str(tmp_path / "f"),
            "s3://b-b/k",
            *option,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.startswith("resilient-s3: ")


def test_no_overwrite_names_the_flag_and_the_url_once(
    env: list[str],
    s3_bucket: str,
    s3_client: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key="k", Body=b"old")
    (tmp_path / "f").write_bytes(b"new")
    assert main(["put", str(tmp_path / "f"), f"s3://{s3_bucket}/k", "--no-overwrite", *env]) == 1
    err = capsys.readouterr().err
    assert err.count(f"s3://{s3_bucket}/k") == 1
    assert "--no-overwrite" in err
    assert "overwrite=False" not in err
    assert s3_client.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"old"


def test_put_dir_reports_every_file_and_each_failure(
    env: list[str],
    s3_bucket: str,
    s3_client: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for n in range(58):
        (tmp_path / f"f{n:02d}").write_bytes(b"%d" % n)
    deep = tmp_path.joinpath(*["d" * 200] * 6)  # its key is over S3's 1,024 bytes
    deep.mkdir(parents=True)
    (deep / "too-long").write_bytes(b"x")
    assert main(["put-dir", str(tmp_path), f"s3://{s3_bucket}/p/", *env, "--json"]) == 1
    captured = capsys.readouterr()
    *files, summary = json_lines(captured.out)
    uploaded = [r for r in files if r["status"] == "uploaded"]
    failed = [r for r in files if r["status"] == "failed"]
    assert len(uploaded) == 58
    assert len(failed) == 1
    assert failed[0]["key"].endswith("/too-long")
    assert "1024 bytes" in failed[0]["error"]
    assert (summary["files"], summary["uploaded"], summary["failed"]) == (59, 58, 1)
    assert f"{failed[0]['key']}: " in captured.err  # each failure on stderr, with its cause
    assert len(keys_in(s3_client, s3_bucket)) == 58


def test_cleanup_dry_run_says_would_abort(
    env: list[str], s3_bucket: str, s3_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    upload_id = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="k")["UploadId"]
    argv = ["cleanup", f"s3://{s3_bucket}", "--older-than", "0", "--dry-run", *env, "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert [u["upload_id"] for u in report["would_abort"]] == [upload_id]
    assert report["aborted"] == []
    assert len(open_uploads(s3_client, s3_bucket)) == 1


@pytest.mark.parametrize("as_json", [False, True])
def test_cleanup_exits_1_when_an_abort_fails(
    as_json: bool,
    env: list[str],
    s3_server: S3Server,
    s3_bucket: str,
    s3_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    upload_id = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="k")["UploadId"]
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    faults = [Fault(FaultKind.INTERNAL_ERROR, 1.0, {"AbortMultipartUpload"})]
    with ChaosProxy(s3_server.endpoint_url, faults=faults) as proxy:
        argv = ["cleanup", f"s3://{s3_bucket}", "--older-than", "0"]
        argv += ["--endpoint-url", proxy.endpoint_url, *(["--json"] if as_json else [])]
        assert main(argv) == 1
        assert proxy.stats.requests.get("AbortMultipartUpload") == 1
    out = capsys.readouterr().out
    if as_json:
        report = json.loads(out)
        assert list(report["failed"]) == [upload_id]
        assert report["aborted"] == []
    else:
        assert f"could not abort {upload_id}" in out
    assert len(open_uploads(s3_client, s3_bucket)) == 1


def test_resume_names_the_endpoints_the_journal_holds(
    env: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = Journal()
    entry = journal.open("http://elsewhere:9000", "b", "k", tmp_path / "f")
    assert entry is not None
    fields: dict[str, Any] = dict.fromkeys(Header.__dataclass_fields__, "x")
    fields.update(endpoint="http://elsewhere:9000", bucket="b", key="k", part_size=1, size=1)
    fields.update(mtime_ns=1, inode=1, created=1.0, extra_args={}, needs_secrets=False, version=1)
    entry.start(Header(**fields))
    entry.close()
    try:
        assert main(["resume", *env, "--json"]) == 0
        captured = capsys.readouterr()
        assert captured.out == ""
        assert "http://elsewhere:9000 (1)" in captured.err
        assert "--endpoint-url" in captured.err
    finally:
        for found, _, _ in journal.entries():
            found.remove()


def test_sigterm_keeps_the_upload_to_resume(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "big"
    digest = write_random(path, 96 * MiB)
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
        "AWS_DEFAULT_REGION": s3_server.region,
        "RESILIENT_S3_JOURNAL_DIR": str(tmp_path / "journal"),
    }
    with ChaosProxy(s3_server.endpoint_url, bandwidth=24 * MiB) as proxy:
        argv = [sys.executable, "-m", "resilient_s3._cli", "put", str(path)]
        argv += [f"s3://{s3_bucket}/big", "--endpoint-url", proxy.endpoint_url, "--quiet"]
        child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while proxy.stats.forwarded.get("UploadPart", 0) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
        assert child.returncode == 143, err.decode()
        assert out == b""
        assert f"terminated (SIGTERM); kept to resume: s3://{s3_bucket}/big" in err.decode()
        assert "Traceback" not in err.decode()
        assert len(open_uploads(s3_client, s3_bucket)) == 1  # kept, not aborted

        resumed = subprocess.run(
            [
                sys.executable,
                "-m",
                "resilient_s3._cli",
                "resume",
                "--json",
                "--endpoint-url",
                proxy.endpoint_url,
            ],
            env=env,
            capture_output=True,
            timeout=120,
        )
    assert resumed.returncode == 0, resumed.stderr.decode()
    [result] = json_lines(resumed.stdout.decode())
    assert result["resumed_parts"] >= 3
    assert stored_sha256(s3_client, s3_bucket, "big") == digest
    assert open_uploads(s3_client, s3_bucket) == []
