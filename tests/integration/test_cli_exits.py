"""How each command ends: the exit statuses its ``--help`` gives are its own, a reader of
standard output that goes away (``| head -1``) ends it quietly with 141, and the chaos proxy
refuses what it cannot run with 2, in one line (issue 19)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from resilient_s3._cli import main
from resilient_s3.testing import S3Server
from s3_helpers import cli_env, open_uploads

UPLOADED = "0    everything was uploaded"


def help_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit:
        main([*argv, "--help"])
    assert exit.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "statuses"),
    [
        (["explain"], ["0    explained", "2    the text is none of those"]),
        (["doctor"], ["0    every check passed", "1    a check found a problem", "2    doctor"]),
        (["cors"], ["0    a browser at the origin can upload", "1    something would stop it"]),
        (["presign"], ["0    the URL, the form or the upload was printed"]),
        (["presign", "put"], ["0    the URL and the headers", "1    S3 refused a request"]),
        (["presign", "multipart"], ["0    the upload was created"]),
        (["presign", "complete"], ["0    the upload was completed"]),
        (["presign", "abort"], ["0    the upload was aborted"]),
        (["chaos"], ["0    stopped (Ctrl-C, SIGTERM or --duration)", "2    the proxy cannot"]),
        (["cleanup"], ["0    every stale upload was aborted", "1    an upload could not be"]),
        (["resume"], ["0    every interrupted upload was finished", "143  terminated"]),
        (["put"], [UPLOADED, "1    an upload failed", "130  interrupted", "143  terminated"]),
    ],
)
def test_each_command_shows_its_own_exit_statuses(
    argv: list[str], statuses: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_of(argv, capsys)
    for status in statuses:
        assert status in text, (argv, status, text)
    if argv[0] not in ("put", "resume"):
        assert UPLOADED not in text
        assert "143" not in text  # only uploads keep anything on SIGTERM
    if argv[0] not in ("chaos",):
        assert "130  interrupted (Ctrl-C)" in text
    if argv[0] not in ("put", "resume", "cleanup"):  # their output never ends them
        assert "141  standard output was closed early" in text


def run_into_a_closed_pipe(
    argv: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The command with its standard output a pipe whose reader has gone: every write to it
    fails (EPIPE; Python ignores SIGPIPE)."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(
            [sys.executable, "-m", "resilient_s3", *argv],
            stdout=writer,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            timeout=120,
        )
    finally:
        os.close(writer)


def test_explain_into_a_pipe_whose_reader_went_away_exits_141_quietly() -> None:
    body = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
    done = run_into_a_closed_pipe(["explain", body], dict(os.environ))
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""


def test_a_put_whose_reader_went_away_still_says_the_upload_landed(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    # The upload decides a put's status, not whether anyone read the line that says so.
    (tmp_path / "f").write_bytes(b"x")
    argv = ["put", str(tmp_path / "f"), f"s3://{s3_bucket}/f", "--endpoint-url"]
    done = run_into_a_closed_pipe([*argv, s3_server.endpoint_url], cli_env(s3_server))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert s3_client.get_object(Bucket=s3_bucket, Key="f")["Body"].read() == b"x"


def test_head_1_reads_the_first_line_and_the_command_ends_quietly(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    # 640 part URLs, far more than a pipe holds: head exits after the first line while the
    # rest is still being written.
    command = (
        f"{sys.executable} -m resilient_s3 presign multipart s3://{s3_bucket}/big.iso "
        f"--size 10GiB --endpoint-url {s3_server.endpoint_url} | head -1; "
        'echo "status ${PIPESTATUS[0]}"'
    )
    done = subprocess.run(
        ["bash", "-c", command], env=cli_env(s3_server), capture_output=True, text=True, timeout=120
    )
    first, status = done.stdout.splitlines()
    assert first.startswith("upload id ")
    assert status == "status 141", done.stderr
    assert "Traceback" not in done.stderr
    assert "BrokenPipeError" not in done.stderr
    for upload in open_uploads(s3_client, s3_bucket):
        s3_client.abort_multipart_upload(
            Bucket=s3_bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--upstream", "ftp://127.0.0.1:9"], "upstream must be an http:// URL"),
        (["--slowdown", "2"], "probability must be within 0..1"),
        (["--expiries", "/no/such/expiries.json"], "No such file or directory"),
    ],
)
def test_chaos_refuses_what_it_cannot_run_with_exit_2(option: list[str], message: str) -> None:
    argv = [sys.executable, "-m", "resilient_s3", "chaos", "--upstream", "http://127.0.0.1:9"]
    done = subprocess.run(
        [*argv, *option, "--duration", "0.1"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("resilient-s3: ")
    assert message in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stdout == ""
