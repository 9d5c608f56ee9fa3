"""The command line speaks in its own words: options out of range are usage errors naming the
flag, ``put-dir`` lists every file as it finishes, and SIGTERM aborts what cannot be resumed."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from resilient_s3._cli import main
from resilient_s3._cli.output import file_line
from resilient_s3._outcomes import FileOutcome
from resilient_s3.testing import S3Server
from s3_helpers import cli_env, open_uploads

MiB = 1024 * 1024
CLI = [sys.executable, "-m", "resilient_s3._cli"]


# -- options out of range: usage errors in the flags' words ------------------------------------


@pytest.mark.parametrize(
    ("command", "option", "message"),
    [
        ("put", ["--part-size", "5MB"], "between 5 MiB and 5 GiB, got 5 MB"),
        ("put", ["--part-size", "6GiB"], "between 5 MiB and 5 GiB, got 6 GiB"),
        ("put-dir", ["--part-size", "1MiB"], "between 5 MiB and 5 GiB, got 1 MiB"),
        ("put", ["--concurrency", "2000"], "between 1 and 1024, got 2000"),
        ("put-dir", ["--concurrency", "0"], "between 1 and 1024, got 0"),
        ("resume", ["--concurrency", "2000"], "between 1 and 1024, got 2000"),
        ("put", ["--concurrency", "many"], "expected a whole number, got 'many'"),
        ("put", ["--max-attempts", "0"], "at least 1, got 0"),
        ("put-dir", ["--max-attempts", "-3"], "at least 1, got -3"),
        ("resume", ["--max-attempts", "0"], "at least 1, got 0"),
        ("put", ["--max-attempts", "1.5"], "expected a whole number, got '1.5'"),
    ],
)
def test_options_out_of_range_name_the_flag(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    option: list[str],
    message: str,
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    source = {"put": [str(tmp_path / "f"), "s3://bucket/key"], "put-dir": [str(tmp_path), "s3://b"]}
    argv = [command, *source.get(command, []), *option, "--endpoint-url", "http://127.0.0.1:9"]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2  # nothing was sent: the endpoint is never reached
    err = capsys.readouterr().err
    [error] = [line for line in err.splitlines() if "error:" in line]
    assert f"error: argument {option[0]}: " in error
    assert message in error
    for api_name in ("part_size", "max_concurrency", "max_attempts", "Traceback"):
        assert api_name not in err


@pytest.mark.parametrize("value", ["0", "-2", "lots"])
def test_a_bad_configured_max_attempts_is_a_usage_error(
    s3_server: S3Server, tmp_path: Path, value: str
) -> None:
    # AWS_MAX_ATTEMPTS=0 was ignored without a word (10 attempts were made), and a value that
    # is not a number too; -2 was refused in the library's words ("max_attempts must be ...").
    (tmp_path / "f").write_bytes(b"x")
    run = subprocess.run(
        [*CLI, "put", str(tmp_path / "f"), "s3://b-b/k", "--endpoint-url", s3_server.endpoint_url],
        env=cli_env(s3_server, AWS_MAX_ATTEMPTS=value),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    assert run.stderr.startswith(
        f"resilient-s3: AWS_MAX_ATTEMPTS must be a whole number of at least 1, got '{value}'"
    )
    assert "--max-attempts" in run.stderr
    assert "Traceback" not in run.stderr


# -- put-dir: one line per file ----------------------------------------------------------------


def test_put_dir_lists_every_file_that_landed_was_skipped_or_failed(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    landed = [site / "a.txt", site / "sub" / "b.txt", site / "sub" / "c [1].txt"]
    for n, path in enumerate(landed):
        path.write_bytes(b"%d" % n * 100)
    (site / "same.txt").write_bytes(b"unchanged")
    deep = site.joinpath(*["d" * 200] * 6)  # a key over S3's 1,024 bytes for every file here
    deep.mkdir(parents=True)
    failing = [deep / f"too-long-{n:03d}" for n in range(103)]  # more than the 100 kept
    for path in failing:
        path.write_bytes(b"x")
    env = cli_env(s3_server)
    where = ["--endpoint-url", s3_server.endpoint_url]
    first = subprocess.run(
        [*CLI, "put", str(site / "same.txt"), f"s3://{s3_bucket}/www/", *where],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert first.returncode == 0, first.stderr

    argv = [*CLI, "put-dir", str(site), f"s3://{s3_bucket}/www", "--skip-unchanged", *where]
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    *lines, summary = run.stdout.splitlines()
    assert summary.startswith(f"uploaded 3 of 107 files (300 bytes) to s3://{s3_bucket}/www/ in ")
    assert summary.endswith("; 1 unchanged, skipped; 103 failed")
    assert len(lines) == 107  # one line per file, and nothing else
    for path in landed:
        key = "www/" + path.relative_to(site).as_posix()
        assert f"uploaded {path} to s3://{s3_bucket}/{key} (100 bytes)" in lines
    assert f"skipped {site / 'same.txt'}: s3://{s3_bucket}/www/same.txt is unchanged" in lines
    failed = [line for line in lines if line.startswith("failed ")]
    assert len(failed) == 103
    for path in failing:
        [line] = [f for f in failed if f.startswith(f"failed {path} to s3://{s3_bucket}/www/")]
        assert "S3 allows at most 1024 bytes" in line
    # The diagnoses on standard error: the first 100, then a count pointing at the list.
    assert run.stderr.count("S3 allows at most 1024 bytes") == 100
    assert "... and 3 more failures" in run.stderr
    assert "Traceback" not in run.stderr
    assert len(s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]) == 4

    quiet = subprocess.run([*argv, "--quiet"], env=env, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 1, quiet.stderr
    assert quiet.stdout.splitlines() == [quiet.stdout.strip()]  # the summary alone
    assert "4 unchanged, skipped; 103 failed" in quiet.stdout


def test_a_file_is_one_printable_line_whatever_its_name() -> None:
    # A newline in a name would make two lines of one file; a name that is not UTF-8
    # (surrogate-escaped by Python) would fail to print, and with it the upload's callback.
    for name, printed in [
        ("two\nlines.txt", "two\\nlines.txt"),
        ("bad-\udcff.txt", "bad-\\udcff.txt"),
        ("tab\there [b].txt", "tab\\there [b].txt"),
        ("été's.txt", "été's.txt"),
    ]:
        outcome = FileOutcome(f"site/{name}", f"www/{name}", "skipped", 3)
        line = file_line(outcome, "b-b")
        assert line == f"skipped site/{printed}: s3://b-b/www/{printed} is unchanged"
        assert line.isprintable()


def test_put_dir_names_no_overwrite_in_the_flags_words(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    (tmp_path / "k").write_bytes(b"new")
    s3_client.put_object(Bucket=s3_bucket, Key="p/k", Body=b"old")
    argv = [*CLI, "put-dir", str(tmp_path), f"s3://{s3_bucket}/p/", "--no-overwrite"]
    run = subprocess.run(
        [*argv, "--endpoint-url", s3_server.endpoint_url],
        env=cli_env(s3_server),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1, run.stderr
    [line, _] = run.stdout.splitlines()  # the file, then the summary
    assert line == (
        f"failed {tmp_path / 'k'} to s3://{s3_bucket}/p/k: an object exists there; nothing was "
        "written (--no-overwrite)"
    )
    assert f"s3://{s3_bucket}/p/k exists; nothing was written (--no-overwrite)" in run.stderr
    assert "overwrite=" not in run.stdout + run.stderr
    assert s3_client.get_object(Bucket=s3_bucket, Key="p/k")["Body"].read() == b"old"


def test_put_dir_on_a_terminal_lists_the_files_too(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    for name in ("one.txt", "two.txt"):
        (tmp_path / name).write_bytes(b"data")
    argv = [*CLI, "put-dir", str(tmp_path), f"s3://{s3_bucket}/t/"]
    argv += ["--endpoint-url", s3_server.endpoint_url]
    pid, fd = pty.fork()
    if pid == 0:  # the child, with the terminal as its stdout and stderr
        os.execvpe(argv[0], argv, {**cli_env(s3_server), "TERM": "xterm", "COLUMNS": "200"})
    screen = b""
    try:
        while select.select([fd], [], [], 60)[0]:
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
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))
    assert os.waitstatus_to_exitcode(status) == 0, plain
    for name in ("one.txt", "two.txt"):
        assert f"uploaded {tmp_path / name} to s3://{s3_bucket}/t/{name} (4 bytes)" in plain
    assert f"uploaded 2 of 2 files (8 bytes) to s3://{s3_bucket}/t/" in plain


@pytest.mark.parametrize("json_lines", [False, True])
def test_put_dir_keeps_uploading_when_its_reader_goes(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path, json_lines: bool
) -> None:
    # `put-dir ... | head -1`: the lines after the first go nowhere, the uploads go on.
    for n in range(300):
        (tmp_path / f"f{n:03d}").write_bytes(b"%d" % n)
    argv = [*CLI, "put-dir", str(tmp_path), f"s3://{s3_bucket}/p/"]
    argv += ["--endpoint-url", s3_server.endpoint_url, *(["--json"] if json_lines else [])]
    with subprocess.Popen(
        argv, env=cli_env(s3_server), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as child:
        assert child.stdout is not None
        assert child.stderr is not None
        assert child.stdout.readline()
        child.stdout.close()  # the reader has gone
        err = child.stderr.read().decode()
        child.wait(timeout=120)
    assert child.returncode == 0, err
    assert err == ""
    listed = s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="p/")
    assert listed["KeyCount"] == 300


# -- SIGTERM: an upload that cannot be resumed is aborted --------------------------------------


def test_sigterm_aborts_an_upload_from_standard_input(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    # The other half of SIGTERM's decision (test_cli.py has the file kept to resume): a pipe
    # cannot be read again, so its multipart upload is aborted before the process exits; and
    # at once, though the program writing the pipe is slow (a supervisor's SIGKILL follows:
    # `docker stop` waits 10 s), not when the part being read is complete.
    argv = [*CLI, "put", "-", f"s3://{s3_bucket}/from-a-pipe", "--part-size", "5MiB", "--quiet"]
    stop = threading.Event()
    with (
        (tmp_path / "out").open("wb") as out,
        (tmp_path / "err").open("wb") as err,
        subprocess.Popen(
            [*argv, "--endpoint-url", s3_server.endpoint_url],
            env=cli_env(s3_server),
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            bufsize=0,  # nothing left in a buffer to flush into the closed pipe at the end
        ) as child,
    ):
        stdin = child.stdin
        assert stdin is not None

        def produce() -> None:  # more than a part at once, then a trickle (a part: 2 min)
            try:
                stdin.write(os.urandom(6 * MiB))
                while not stop.wait(0.1):
                    stdin.write(os.urandom(4 * 1024))
            except (BrokenPipeError, ValueError):  # the child has gone
                pass

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        try:
            deadline = time.monotonic() + 60
            landed: list[Any] = []
            while not landed and time.monotonic() < deadline:
                for upload in open_uploads(s3_client, s3_bucket):
                    parts = s3_client.list_parts(
                        Bucket=s3_bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    landed += parts.get("Parts", [])
                time.sleep(0.05)
            assert landed, "no part landed within 60 s"
            assert child.poll() is None  # still reading the pipe
            child.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            child.wait(timeout=60)  # the pipe open and trickling still: no end of input
            took = time.monotonic() - sent
        finally:
            stop.set()
            producer.join(timeout=10)
            if child.poll() is None:
                child.kill()
    text = (tmp_path / "err").read_text()
    assert child.returncode == 143, text
    assert took < 10, took
    assert (tmp_path / "out").read_bytes() == b""
    assert "resilient-s3: terminated (SIGTERM); no multipart upload was left open" in text
    assert "Traceback" not in text
    assert open_uploads(s3_client, s3_bucket) == []  # aborted, not kept
    assert "Contents" not in s3_client.list_objects_v2(Bucket=s3_bucket)


@pytest.mark.parametrize(
    ("size", "strategy"), [(0, "single"), (1000, "single"), (11 * MiB + 7, "multipart")]
)
@pytest.mark.parametrize("stdin", ["pipe", "file"])
def test_put_reads_standard_input_to_its_end(
    s3_server: S3Server,
    s3_bucket: str,
    s3_client: Any,
    tmp_path: Path,
    stdin: str,
    size: int,
    strategy: str,
) -> None:
    data = os.urandom(size)
    (tmp_path / "data").write_bytes(data)
    argv = [*CLI, "put", "-", f"s3://{s3_bucket}/k", "--part-size", "5MiB", "--json"]
    argv += ["--endpoint-url", s3_server.endpoint_url]
    with (tmp_path / "data").open("rb") as file:
        run = subprocess.run(
            argv,
            env=cli_env(s3_server),
            input=data if stdin == "pipe" else None,
            stdin=file if stdin == "file" else None,
            capture_output=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stderr.decode()
    result = json.loads(run.stdout)
    assert (result["size"], result["strategy"]) == (size, strategy)
    assert s3_client.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == data
