"""The command line as people meet it: progress on a real terminal, JSON for machines, the AWS
CLI's environment, put-dir's filters and skip-unchanged, and no secret in any output, even at
--debug through faults."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from resilient_s3._cli import main
from resilient_s3.testing import ChaosProxy, Fault, FaultKind, S3Server
from s3_helpers import cli_env, open_uploads, write_random

MiB = 1024 * 1024
CLI = [sys.executable, "-m", "resilient_s3"]


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def keys_in(client: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def run_in_terminal(argv: list[str], env: dict[str, str], timeout: float = 90) -> tuple[int, str]:
    """``argv`` with a pseudo-terminal as its stdout and stderr: what a person's screen shows."""
    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.execvpe(argv[0], argv, {**env, "TERM": "xterm-256color", "COLUMNS": "120"})
    screen = b""
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                break
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), screen.decode(errors="replace")


def test_a_terminal_shows_percentage_rate_and_time_left(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    write_random(tmp_path / "big.bin", 40 * MiB)
    throttled = Fault(FaultKind.SLOWDOWN, 1.0, {"UploadPart"}, limit=1)
    with ChaosProxy(s3_server.endpoint_url, bandwidth=12 * MiB, faults=[throttled]) as proxy:
        argv = [*CLI, "put", str(tmp_path / "big.bin"), f"s3://{s3_bucket}/big.bin"]
        code, screen = run_in_terminal(
            [*argv, "--endpoint-url", proxy.endpoint_url], cli_env(s3_server)
        )
        injected = proxy.stats.faults_by_operation.get(("UploadPart", "slowdown"), 0)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    assert code == 0, plain[-2000:]
    assert injected == 1
    # The retry, on a line of its own above the bars (the summary's "retried: throttled 1"
    # does not count).
    notes = [line.strip() for line in plain.splitlines() if "retrying in" in line]
    retry_line = re.compile(r"part [1-5] throttled, retrying in \d+\.\d s")
    assert any(retry_line.fullmatch(note) for note in notes), plain[-2000:]
    assert re.search(r"\b\d{1,2}%", plain), plain[-2000:]  # a percentage below 100
    assert "100%" in plain
    assert re.search(r"\d+\.\d MiB/s", plain)  # the rate
    assert re.search(r"0:00:0[1-9]", plain)  # time left, while it was being sent
    assert "40.0 MiB" in plain
    assert f"uploaded {tmp_path / 'big.bin'} to s3://{s3_bucket}/big.bin" in plain


def test_no_progress_when_output_is_not_a_terminal(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    write_random(tmp_path / "f", 10 * MiB)
    argv = [*CLI, "put", str(tmp_path / "f"), f"s3://{s3_bucket}/f"]
    done = subprocess.run(
        [*argv, "--endpoint-url", s3_server.endpoint_url, "--json"],
        env=cli_env(s3_server),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    [document] = json_lines(done.stdout)
    assert (document["status"], document["key"], document["parts"]) == ("uploaded", "f", 2)


def test_put_dir_filters_guesses_content_types_and_skips_what_is_unchanged(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    (site / "img").mkdir(parents=True)
    (site / "index.html").write_text("<h1>hi</h1>")
    (site / "img" / "a.png").write_bytes(b"\x89PNG" + os.urandom(100))
    (site / "img" / "b.jpg").write_bytes(os.urandom(100))
    (site / "notes.tmp").write_text("scratch")
    (site / "big.bin").write_bytes(os.urandom(9 * MiB))  # a multipart upload
    argv = [*CLI, "put-dir", str(site), f"s3://{s3_bucket}/www", "--json"]
    argv += ["--endpoint-url", s3_server.endpoint_url, "--exclude", "*.tmp"]

    first = subprocess.run(argv, env=cli_env(s3_server), capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    *files, summary = json_lines(first.stdout)
    assert summary["uploaded"] == 4
    assert summary["skipped"] == 0
    assert keys_in(s3_client, s3_bucket) == [
        "www/big.bin",
        "www/img/a.png",
        "www/img/b.jpg",
        "www/index.html",
    ]
    content_type = s3_client.head_object(Bucket=s3_bucket, Key="www/index.html")["ContentType"]
    assert content_type == "text/html"
    png = s3_client.head_object(Bucket=s3_bucket, Key="www/img/a.png")["ContentType"]
    assert png == "image/png"

    (site / "index.html").write_text("<h1>changed</h1>")
    second = subprocess.run(
        [*argv, "--skip-unchanged"], env=cli_env(s3_server), capture_output=True, text=True
    )
    assert second.returncode == 0, second.stderr
    *files, summary = json_lines(second.stdout)
    statuses = {f["key"]: f["status"] for f in files}
    assert statuses == {
        "www/index.html": "uploaded",  # changed
        "www/img/a.png": "skipped",
        "www/img/b.jpg": "skipped",
        "www/big.bin": "skipped",  # a multipart object, compared by its full-object checksum
    }
    assert (summary["uploaded"], summary["skipped"]) == (1, 3)

    third = subprocess.run(
        [*argv, "--skip-unchanged", "--include", "img/*"],
        env=cli_env(s3_server),
        capture_output=True,
        text=True,
    )
    *files, summary = json_lines(third.stdout)
    assert sorted(f["key"] for f in files) == ["www/img/a.png", "www/img/b.jpg"]
    assert (summary["uploaded"], summary["skipped"]) == (0, 2)  # a run that uploads nothing


def test_put_dir_reports_a_failing_file_while_the_others_land(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).write_text(name)
    s3_client.put_object(Bucket=s3_bucket, Key="d/b", Body=b"keep me")
    argv = [*CLI, "put-dir", str(tmp_path), f"s3://{s3_bucket}/d/", "--no-overwrite"]
    done = subprocess.run(
        [*argv, "--endpoint-url", s3_server.endpoint_url],
        env=cli_env(s3_server),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("uploaded 2 of 3 files")
    assert "1 failed" in lines[-1]
    assert sum(line.startswith("uploaded ") for line in lines[:-1]) == 2  # one line per file
    assert [line for line in lines if line.startswith("failed ")] == [
        f"failed {tmp_path / 'b'} to s3://{s3_bucket}/d/b: an object exists there; "
        "nothing was written (--no-overwrite)"
    ]
    assert f"s3://{s3_bucket}/d/b exists; nothing was written (--no-overwrite)" in done.stderr
    assert keys_in(s3_client, s3_bucket) == ["d/a", "d/b", "d/c"]
    assert s3_client.get_object(Bucket=s3_bucket, Key="d/b")["Body"].read() == b"keep me"


def test_the_aws_cli_environment_is_honoured(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    (tmp_path / "f").write_text("x")
    # AWS_ENDPOINT_URL_S3 instead of --endpoint-url
    env = cli_env(s3_server, AWS_ENDPOINT_URL_S3=s3_server.endpoint_url)
    done = subprocess.run(
        [*CLI, "put", str(tmp_path / "f"), f"s3://{s3_bucket}/by-env"], env=env, text=True
    )
    assert done.returncode == 0
    # A profile from the config files: its keys, region and endpoint_url.
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text(
        f"[profile uploads]\nregion = {s3_server.region}\nendpoint_url = {s3_server.endpoint_url}\n"
    )
    credentials.write_text(
        f"[uploads]\naws_access_key_id = {s3_server.access_key}\n"
        f"aws_secret_access_key = {s3_server.secret_key}\n"
    )
    env = cli_env(
        s3_server, AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials)
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        env.pop(name)
    done = subprocess.run(
        [*CLI, "put", str(tmp_path / "f"), f"s3://{s3_bucket}/by-profile"],
        env={**env, "AWS_PROFILE": "uploads"},
        text=True,
    )
    assert done.returncode == 0
    assert keys_in(s3_client, s3_bucket) == ["by-env", "by-profile"]


def test_aws_max_attempts_bounds_the_retries(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    (tmp_path / "f").write_text("x")
    with ChaosProxy(s3_server.endpoint_url, faults=[Fault(FaultKind.SLOWDOWN, 1.0)]) as proxy:
        argv = [*CLI, "put", str(tmp_path / "f"), f"s3://{s3_bucket}/f"]
        done = subprocess.run(
            [*argv, "--endpoint-url", proxy.endpoint_url],
            env=cli_env(s3_server, AWS_MAX_ATTEMPTS="2"),
            capture_output=True,
            text=True,
        )
        assert proxy.stats.requests.get("PutObject") == 2
    assert done.returncode == 1
    assert "gave up after 2 attempts" in done.stderr
    assert "cause: throttled" in done.stderr


TOKEN = "IQoJb3JpZ2luX2VjEXAMPLEtokenTHATmustNEVERappear0123456789"


def test_debug_output_never_shows_a_secret(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    write_random(tmp_path / "big", 12 * MiB)
    log = tmp_path / "debug.log"
    faults = [
        Fault(FaultKind.SLOWDOWN, 0.3, {"UploadPart"}),
        Fault(FaultKind.RESET, 0.2, {"UploadPart"}),
    ]
    outputs = []
    with ChaosProxy(s3_server.endpoint_url, faults=faults, seed=3) as proxy:
        base = [*CLI, "put", str(tmp_path / "big"), "--endpoint-url", proxy.endpoint_url]
        # Through faults, with long-term keys: the upload lands, at DEBUG, with a log file.
        landed = subprocess.run(
            [*base, f"s3://{s3_bucket}/big", "--debug", "--log-file", str(log), "--json"],
            env=cli_env(s3_server),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert landed.returncode == 0, landed.stderr
        # With a session token, refused as expired (S3 echoes it back): every error path.
        with ChaosProxy(
            s3_server.endpoint_url, faults=[Fault(FaultKind.EXPIRED_TOKEN, 1.0)]
        ) as expired:
            argv = [*CLI, "put", str(tmp_path / "big"), f"s3://{s3_bucket}/tok", "--debug"]
            refused = subprocess.run(
                [*argv, "--endpoint-url", expired.endpoint_url],
                env=cli_env(s3_server, AWS_SESSION_TOKEN=TOKEN),
                capture_output=True,
                text=True,
                timeout=120,
            )
        assert refused.returncode == 1
        assert "credentials-expired" in refused.stderr
        outputs = [landed.stdout, landed.stderr, log.read_text(), refused.stdout, refused.stderr]
    everything = "\n".join(outputs)
    assert "DEBUG" in everything
    assert "retrying" in everything
    # Every request is logged, its secrets masked: these lines are what redaction is tested on.
    debug_log = outputs[2]
    for operation in ("CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        assert re.search(rf"HTTP {operation}: \w+ http://\S+ -> 200 in ", debug_log), operation
    assert re.search(r"HTTP UploadPart: PUT \S+ -> 503 in ", debug_log)  # the faults too
    assert "'Authorization': '***'" in debug_log
    assert "'Authorization': '***'" in refused.stderr
    assert "'X-Amz-Security-Token': '***'" in refused.stderr
    assert "-> 400 in " in refused.stderr  # ExpiredToken
    assert s3_server.secret_key not in everything
    assert TOKEN not in everything
    assert not re.search(r"Signature=[0-9a-f]{16}", everything)
    assert not re.search(r"Credential=[A-Z0-9]{8}", everything)
    assert not re.search(r"(?i)x-amz-security-token['\"]?[:=]\s*b?['\"]?[A-Za-z0-9]", everything)


def test_version_and_options_each_command_takes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert re.match(r"resilient-s3 \S+ \(boto3 ", capsys.readouterr().out)
    for argv in (
        ["cleanup", "s3://bucket", "--part-size", "8MiB"],
        ["resume", "--checksum", "CRC32"],
        ["resume", "--embedded"],
    ):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2, argv
        assert "unrecognized arguments" in capsys.readouterr().err


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["put-dir", "--help"])
    out = capsys.readouterr().out
    for line in (
        "0    everything was uploaded",
        "1    an upload failed",
        "2    the command",
        "130",
    ):
        assert line in out
    assert "--skip-unchanged" in out
    assert "--include GLOB" in out
    assert "--debug" in out


def test_an_interrupted_put_leaves_no_upload_open(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    import signal
    import time

    write_random(tmp_path / "big", 64 * MiB)
    with ChaosProxy(s3_server.endpoint_url, bandwidth=8 * MiB) as proxy:
        argv = [*CLI, "put", str(tmp_path / "big"), f"s3://{s3_bucket}/big", "--no-resume"]
        child = subprocess.Popen(
            [*argv, "--endpoint-url", proxy.endpoint_url],
            env=cli_env(s3_server),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while proxy.stats.forwarded.get("UploadPart", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "interrupted" in err
    assert open_uploads(s3_client, s3_bucket) == []


def test_aws_ca_bundle_is_honoured_over_https(tmp_path: Path) -> None:
    pytest.importorskip("trustme")
    (tmp_path / "f").write_text("over https")
    with S3Server(buckets=["tls-bucket"], tls=True) as server:
        assert server.ca_bundle is not None
        argv = [*CLI, "put", str(tmp_path / "f"), "s3://tls-bucket/f", "--json"]
        argv += ["--endpoint-url", server.endpoint_url]
        untrusted = subprocess.run(argv, env=cli_env(server), capture_output=True, text=True)
        trusted = subprocess.run(
            argv,
            env=cli_env(server, AWS_CA_BUNDLE=server.ca_bundle),
            capture_output=True,
            text=True,
        )
        body = server.boto3_client().get_object(Bucket="tls-bucket", Key="f")["Body"].read()
    assert untrusted.returncode == 1
    assert "certificate could not be verified" in untrusted.stderr
    assert trusted.returncode == 0, trusted.stderr
    assert json_lines(trusted.stdout)[0]["key"] == "f"
    assert body == b"over https"


def test_botocores_certificate_error_is_diagnosed_as_such(tmp_path: Path) -> None:
    pytest.importorskip("trustme")
    import boto3
    import botocore.exceptions

    from resilient_s3 import diagnose

    with S3Server(buckets=["tls-bucket"], tls=True) as server:
        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint_url,
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
            region_name=server.region,
        )
        with pytest.raises(botocore.exceptions.SSLError) as raised:
            client.put_object(Bucket="tls-bucket", Key="k", Body=b"x")
    diagnosis = diagnose(raised.value)
    assert diagnosis.cause == "network"
    assert diagnosis.summary == "the server's TLS certificate could not be verified"
    assert not diagnosis.retryable
