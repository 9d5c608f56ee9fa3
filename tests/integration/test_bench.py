"""The benchmark harness (``resilient-s3 bench``): worker, orchestration, report, servers."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from resilient_s3.testing import ChaosProxy, CredentialVendor, S3Server
from resilient_s3_bench import cli, harness, report
from resilient_s3_bench.contenders import CONTENDERS, unavailable_reason
from resilient_s3_bench.data import make_data
from resilient_s3_bench.protocol import LARGE_KEY, MiB, RunSpec, WorkerResult
from resilient_s3_bench.servers import CredentialsEndpoint, Target, mask


def _run_worker(spec: RunSpec, tmp_path: Path) -> WorkerResult:
    out = tmp_path / "result.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.run(
        [sys.executable, "-m", "resilient_s3_bench.worker", str(out)],
        input=spec.to_json(),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return WorkerResult.from_json(out.read_text())


@pytest.mark.parametrize("contender", ["resilient-s3-async", "boto3"])
@pytest.mark.parametrize("workload", ["large", "small"])
def test_worker_uploads_and_reports_sane_json(
    contender: str,
    workload: str,
    s3_server: S3Server,
    s3_bucket: str,
    s3_client: Any,
    tmp_path: Path,
) -> None:
    # 9 MiB: above both clients' 8 MiB multipart threshold.
    data = make_data(tmp_path / "data", large_size=9 * MiB, small_count=5, small_size=3000)
    spec = RunSpec(
        contender=contender,
        workload=workload,  # type: ignore[arg-type]
        endpoint_url=s3_server.endpoint_url,
        region=s3_server.region,
        bucket=s3_bucket,
        prefix="w/",
        source=str(data.source(workload)),
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
    )
    result = _run_worker(spec, tmp_path)

    expected = data.expected(workload)
    assert result.ok, result.error
    assert (result.contender, result.workload) == (contender, workload)
    assert result.files_attempted == result.files_ok == len(expected)
    assert result.bytes_attempted == sum(e.size for e in expected)
    assert result.wall is not None
    assert 0 < result.wall < 60
    assert result.cpu_user is not None
    assert result.cpu_sys is not None
    assert 0 < result.cpu_user + result.cpu_sys < 60
    assert result.peak_rss_kib is not None
    assert result.rss_before_kib is not None
    assert 10_000 < result.rss_before_kib <= result.peak_rss_kib < 2_000_000
    assert result.retries == 0
    assert result.attempts is not None
    assert result.attempts >= len(expected)
    assert "botocore" in result.versions
    for e in expected:
        head = s3_client.head_object(Bucket=s3_bucket, Key="w/" + e.name)
        assert head["ContentLength"] == e.size


def test_worker_refreshes_keys_from_the_parent(
    s3_server: S3Server,
    s3_bucket: str,
    chaos_proxy: ChaosProxy,
    credential_vendor: CredentialVendor,
    tmp_path: Path,
) -> None:
    data = make_data(tmp_path / "data", large_size=None, small_count=3, small_size=1000)
    with CredentialsEndpoint(credential_vendor.issue) as endpoint:
        spec = RunSpec(
            contender="boto3",
            workload="small",
            endpoint_url=chaos_proxy.endpoint_url,
            region=s3_server.region,
            bucket=s3_bucket,
            prefix="c/",
            source=str(data.small_dir),
            credentials_url=endpoint.url,
        )
        result = _run_worker(spec, tmp_path)
        assert result.ok, result.error
        assert endpoint.served >= 1  # through credential_process
    assert chaos_proxy.stats.requests.get("PutObject") == 3


def test_credential_process_prints_keys_without_a_session_token() -> None:
    class Issued:
        access_key, secret_key = "AKIDTEST", "not-a-real-secret"
        import datetime

        expiry = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)

    with CredentialsEndpoint(lambda: Issued()) as endpoint:
        out = subprocess.run(
            [sys.executable, "-m", "resilient_s3_bench.creds", endpoint.url],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        wrong = subprocess.run(
            [sys.executable, "-m", "resilient_s3_bench.creds", endpoint.url + "x"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    document = json.loads(out.stdout)
    assert document == {
        "Version": 1,
        "AccessKeyId": "AKIDTEST",
        "SecretAccessKey": "not-a-real-secret",
        "Expiration": "2030-01-01T00:00:00Z",
    }
    assert wrong.returncode == 1


def test_quick_style_run_end_to_end(
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    code = cli.main(
        [
            "--endpoint",
            s3_server.endpoint_url,
            "--access-key",
            s3_server.access_key,
            "--secret-key",
            s3_server.secret_key,
            "--bucket",
            s3_bucket,
            "--contenders",
            "resilient-s3-async,boto3",
            "--profiles",
            "none,throttle",
            "--large-size",
            "6MiB",
            "--small-count",
            "12",
            "--small-size",
            "4KiB",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "large: one file of 6.0 MiB" in printed
    assert "small: 12 files of 4 KiB" in printed

    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    keys = [(r["contender"], r["workload"], r["profile"]) for r in rows]
    assert sorted(keys) == sorted(
        (c, w, p)
        for c in ("resilient-s3-async", "boto3")
        for w in ("large", "small")
        for p in ("none", "throttle")
    )
    by_key = {k: r for k, r in zip(keys, rows, strict=True)}
    for workload, size in (("large", 6 * MiB), ("small", 12 * 4096)):
        for contender in ("resilient-s3-async", "boto3"):
            row = by_key[(contender, workload, "none")]
            assert row["status"] == "survived"
            assert int(row["bytes_verified"]) == int(row["bytes_attempted"]) == size
            assert float(row["mib_s"]) > 0
    # botocore retries SlowDown by default: boto3 survives the throttle profile.
    boto3_small = by_key[("boto3", "small", "throttle")]
    assert boto3_small["status"] == "survived"
    assert int(boto3_small["files_landed"]) == 12

    document = json.loads((out / "results.json").read_text())
    runs = document["runs"]
    assert len(runs) == 8
    throttled = [r for r in runs if r["profile"] == "throttle"]
    assert sum(r["faults_total"] for r in throttled) > 0
    assert all(r["requests"] for r in throttled)
    assert all(r["faults"] is None for r in runs if r["profile"] == "none")
    # A server the bench did not start: its CPU is unknown, not zero.
    assert all(r["server_cpu_s"] is None for r in runs)
    large = [r for r in runs if r["workload"] == "large" and r["status"] == "survived"]
    assert large
    assert all("SHA-256" in r["verification"] for r in large)
    assert document["contenders"]["boto3"]["signing"] == CONTENDERS["boto3"].signing
    # No secret key anywhere in what is written.
    for path in out.rglob("*"):
        if path.is_file():
            assert s3_server.secret_key not in path.read_text(errors="replace"), path
    assert document["server"]["access_key"] == mask(s3_server.access_key)


def test_minio_without_a_binary_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cli.main(["--server", "minio", "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "no 'minio' binary on PATH" in err
    assert "docker run -p 9000:9000" in err
    assert "--endpoint http://127.0.0.1:9000" in err
    assert not (tmp_path / "out").exists()


def _fake_minio(tmp_path: Path, body: str) -> None:
    script = tmp_path / "minio"
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_a_minio_that_exits_shows_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os as _os

    from resilient_s3_bench.servers import BenchError, minio_server

    _fake_minio(
        tmp_path,
        "import os, sys\n"
        "print('FATAL unable to start:', sys.argv[1:3], os.environ['MINIO_ROOT_PASSWORD'])\n"
        "sys.exit(1)\n",
    )
    monkeypatch.setenv("PATH", str(tmp_path) + _os.pathsep + _os.environ.get("PATH", ""))
    with pytest.raises(BenchError, match="minio exited with status 1") as info, minio_server():
        pass
    assert "FATAL unable to start: ['server'" in str(info.value)
    assert "***" in str(info.value)  # the root password is masked


def test_a_minio_is_started_on_loopback_and_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resilient_s3_bench.servers import minio_server

    _fake_minio(
        tmp_path,
        "import sys, http.server\n"
        "args = sys.argv[1:]\n"
        "assert args[0] == 'server' and args[2] == '--address', args\n"
        "host, port = args[3].rsplit(':', 1)\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200 if self.path == '/minio/health/live' else 404)\n"
        "        self.end_headers()\n"
        "    def log_message(self, *a): pass\n"
        "http.server.HTTPServer((host, int(port)), H).serve_forever()\n",
    )
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    with minio_server() as target:
        assert target.kind == "minio"
        assert target.endpoint_url.startswith("http://127.0.0.1:")
        assert target.access_key.startswith("bench")
        assert target.secret_key


# -- pieces -------------------------------------------------------------------------------


def test_sizes_and_lists_are_parsed() -> None:
    assert cli.parse_size("4GiB") == 4 * 1024 * MiB
    assert cli.parse_size("256MiB") == 256 * MiB
    assert cli.parse_size("64KiB") == 65536
    assert cli.parse_size("1000") == 1000
    assert cli.parse_size("5MB") == 5_000_000  # decimal units mean what they say
    for bad in ("x", "0", "-1MiB"):
        with pytest.raises(Exception, match="size"):
            cli.parse_size(bad)
    with pytest.raises(Exception, match="ambiguous"):
        cli.parse_size("256m")
    parse = cli._choices(("a", "b"), "thing")
    assert parse("b,a,b") == ("b", "a")
    with pytest.raises(Exception, match="unknown thing c"):
        parse("a,c")


def test_unknown_contender_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--contenders", "boto3,nope"])
    assert info.value.code == 2
    assert "unknown contender nope" in capsys.readouterr().err


def test_the_order_rotates_so_each_contender_takes_each_place() -> None:
    config = harness.BenchConfig(
        contenders=("a", "b", "c"), workloads=("large",), profiles=("none",), repeat=3
    )
    orders = [[c for r, _, _, c in harness.plan_runs(config) if r == rep] for rep in range(3)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    for place in range(3):
        assert sorted(order[place] for order in orders) == ["a", "b", "c"]


def test_every_contender_is_described() -> None:
    for name, contender in CONTENDERS.items():
        assert contender.name == name
        assert contender.signing
        assert contender.description
        assert contender.retries
    assert unavailable_reason("boto3") is None
    assert "UNSIGNED-PAYLOAD" in CONTENDERS["aws-crt"].signing


def _record(status: str, wall: float, **kwargs: Any) -> harness.RunRecord:
    run = harness.RunRecord(1, 0, "boto3", "small", "throttle", status=status, **kwargs)
    run.wall_s, run.files_s, run.mib_s = wall, 10 / wall, 1 / wall
    run.files_attempted = 10
    run.files_landed = 10 if status == "survived" else 7
    return run


def test_summary_takes_medians_of_the_runs_that_survived(tmp_path: Path) -> None:
    config = harness.BenchConfig(
        contenders=("boto3", "obstore"), workloads=("small",), profiles=("throttle",), repeat=4
    )
    data = make_data(tmp_path, large_size=None, small_count=1, small_size=10)
    target = Target("endpoint", "http://127.0.0.1:1", "us-east-1", "AKIDEXAMPLE", "secret")
    results = harness.BenchResults(config, target, data)
    results.runs = [
        _record("survived", 1.0, retries=2, faults={"slowdown": 2}),
        _record("survived", 2.0, retries=4, faults={"slowdown": 4}),
        _record("survived", 4.0, retries=6, faults={"slowdown": 5}),
        _record("failed", 0.1, retries=9, faults={"slowdown": 9}, error="SlowDown"),
    ]
    results.skipped[("obstore", "small", "throttle")] = "obstore is not importable"
    rows = harness.summarize(results)
    boto3, obstore = rows
    assert (boto3.status, boto3.runs, boto3.survived) == ("partial", 4, 3)
    assert boto3.wall_s == 2.0
    assert boto3.files_s == 5.0
    assert boto3.retries == 5
    assert boto3.faults == 4.5
    assert (boto3.files_landed, boto3.files_attempted) == (37, 40)
    assert boto3.note == "SlowDown"
    assert (obstore.status, obstore.note) == ("skipped", "obstore is not importable")
    lines = report.table(results, rows).splitlines()
    assert lines[0] == "small: 1 file of 10 B"
    assert lines[3].split()[:4] == ["throttle", "boto3", "partial", "3/4"]
    assert lines[4].split()[:3] == ["obstore", "skipped", "-"]  # the profile is not repeated
    assert any("boto3 small/throttle: SlowDown" in line for line in lines)


def test_verification_catches_wrong_and_missing_objects(
    s3_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    data = make_data(tmp_path, large_size=1000, small_count=3, small_size=100)
    assert data.large is not None
    s3_client.put_object(Bucket=s3_bucket, Key="v/" + LARGE_KEY, Body=data.large_path.read_bytes())
    good = harness.verify(s3_client, s3_bucket, "v/", data.expected("large"), full=True)
    assert (good.files_landed, good.bytes_verified, good.problems) == (1, 1000, [])

    files = sorted(data.small_dir.iterdir())
    s3_client.put_object(Bucket=s3_bucket, Key="v/" + files[0].name, Body=files[0].read_bytes())
    s3_client.put_object(Bucket=s3_bucket, Key="v/" + files[1].name, Body=b"x" * 100)
    checked = harness.verify(s3_client, s3_bucket, "v/", data.expected("small"), full=False)
    assert checked.files_landed == 1
    assert checked.bytes_verified == 100
    assert any("not the MD5" in p for p in checked.problems)
    assert any(p.endswith("missing") for p in checked.problems)

    upload = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="v/left-open")
    assert harness.clean_up(s3_client, s3_bucket, "v/") == 1
    assert s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="v/")["KeyCount"] == 0
    with pytest.raises(s3_client.exceptions.NoSuchUpload):
        s3_client.list_parts(Bucket=s3_bucket, Key="v/left-open", UploadId=upload["UploadId"])


def test_server_cpu_is_read_from_the_process(s3_server: S3Server) -> None:
    from resilient_s3_bench.servers import Target, process_cpu_seconds

    assert s3_server.pid is not None
    target = Target(
        "seaweedfs", s3_server.endpoint_url, "us-east-1", "a", "s", server_pid=s3_server.pid
    )
    before = target.server_cpu_seconds()
    assert before is not None
    assert before > 0
    client = s3_server.boto3_client()
    for _ in range(50):
        client.list_buckets()
    after = target.server_cpu_seconds()
    assert after is not None
    assert after >= before
    assert process_cpu_seconds(2**22 + 7) is None  # above Linux's pid_max: never a process


def test_mask_hides_keys() -> None:
    assert mask("AKIAIOSFODNN7EXAMPLE") == "AKIA***PLE"
    assert mask("short") == "***"
    assert mask(None) == ""


def test_profiles_that_need_the_proxy_or_the_vendor_are_skipped_where_impossible() -> None:
    https = Target("endpoint", "https://s3.example.test", "us-east-1", "AKID", "secret")
    plain = Target("endpoint", "http://127.0.0.1:9000", "us-east-1", "AKID", "secret")
    assert harness.profile_unavailable("none", https) is None
    assert "plain http" in (harness.profile_unavailable("throttle", https) or "")
    assert harness.profile_unavailable("throttle", plain) is None
    assert "embedded SeaweedFS" in (harness.profile_unavailable("expiring", plain) or "")


def test_worker_pythons_per_contender() -> None:
    assert cli._worker_pythons(["aioboto3=/venv/bin/python", "/other/python"]) == {
        "aioboto3": "/venv/bin/python",
        "": "/other/python",
    }
    config = harness.BenchConfig(
        contenders=("boto3",),
        workloads=("large",),
        profiles=("none",),
        worker_python={"aioboto3": "/venv/bin/python"},
    )
    assert config.python_for("aioboto3") == "/venv/bin/python"
    assert config.python_for("boto3") == sys.executable
    with pytest.raises(ValueError, match="unknown contender 'nope'"):
        cli._worker_pythons(["nope=/x"])


def test_a_worker_past_its_timeout_is_killed(tmp_path: Path) -> None:
    spec = RunSpec(
        contender="boto3",
        workload="small",
        endpoint_url="http://127.0.0.1:9",
        region="us-east-1",
        bucket="b-never-reached",
        prefix="p/",
        source=str(tmp_path),
        access_key="AKID",
        secret_key="secret",
    )
    result, failure = harness.run_worker(spec, sys.executable, 0.05, tmp_path / "log")
    assert result is None
    assert failure == "timed out after 0.05 s (killed)"


# -- over TLS -----------------------------------------------------------------------------

_TLS_CONTENDERS = ("resilient-s3-async", "resilient-s3-sync", "boto3", "aws-crt", "obstore")
_KEYS = ("--access-key", "AKIDEXAMPLE", "--secret-key", "not-a-secret")


def test_quick_run_over_tls_trusts_the_throwaway_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from resilient_s3.testing._server import find_weed

    if find_weed() is None:
        pytest.skip("no weed binary")
    pytest.importorskip("trustme")
    out = tmp_path / "out"
    code = cli.main(
        [
            "--tls",
            "--quick",
            "--contenders",
            ",".join(_TLS_CONTENDERS),
            "--large-size",
            "6MiB",
            "--small-count",
            "12",
            "--small-size",
            "4KiB",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Payload signing over https:" in printed
    assert "over https (a throwaway CA" in printed

    document = json.loads((out / "results.json").read_text())
    assert document["server"]["endpoint_url"].startswith("https://127.0.0.1:")
    assert document["server"]["tls"] is True
    assert "throwaway CA" in document["server"]["trusted_ca"]
    by_key = {(r["contender"], r["workload"], r["profile"]): r for r in document["summary"]}
    for contender in _TLS_CONTENDERS:
        missing = unavailable_reason(contender)
        for workload in ("large", "small"):
            row = by_key[(contender, workload, "none")]
            if missing is not None:  # an optional library this environment lacks
                assert (row["status"], row["note"]) == ("skipped", missing)
                continue
            assert row["status"] == "survived", (contender, workload, row["note"])
            assert row["bytes_verified"] == row["bytes_attempted"] > 0
            assert row["mib_s"] > 0
            # The fault proxy relays plain http only: the throttle profile is skipped, said why.
            throttled = by_key[(contender, workload, "throttle")]
            assert throttled["status"] == "skipped"
            assert "plain http" in throttled["note"]
    assert document["contenders"]["obstore"]["signing_https"].startswith("SHA-256")
    for path in out.rglob("*"):
        if path.is_file():
            assert "PRIVATE KEY" not in path.read_text(errors="replace"), path


def test_an_https_endpoint_with_its_ca_bundle(tmp_path: Path) -> None:
    from resilient_s3.testing._server import find_weed

    if find_weed() is None:
        pytest.skip("no weed binary")
    pytest.importorskip("trustme")
    out = tmp_path / "out"
    with S3Server(buckets=["tls-bench"], tls=True) as server:
        assert server.ca_bundle is not None
        code = cli.main(
            [
                "--endpoint",
                server.endpoint_url,
                "--ca-bundle",
                server.ca_bundle,
                "--access-key",
                server.access_key,
                "--secret-key",
                server.secret_key,
                "--bucket",
                "tls-bench",
                "--contenders",
                "resilient-s3-async,boto3",
                "--workloads",
                "small",
                "--profiles",
                "none",
                "--small-count",
                "5",
                "--small-size",
                "1KiB",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
    assert code == 0
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert [(r["contender"], r["status"]) for r in rows] == [
        ("resilient-s3-async", "survived"),
        ("boto3", "survived"),
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tls", "--endpoint", "https://127.0.0.1:9"], "--tls serves the embedded SeaweedFS"),
        (["--tls", "--server", "minio"], "--tls serves the embedded SeaweedFS"),
        (["--ca-bundle", "ca.pem"], "--ca-bundle goes with an https --endpoint"),
        (["--tls", "--via-proxy"], "--via-proxy needs plain http"),
        (
            ["--endpoint", "http://127.0.0.1:9", "--ca-bundle", "ca.pem", *_KEYS],
            "--ca-bundle needs an https:// --endpoint",
        ),
        (
            ["--endpoint", "https://127.0.0.1:9", "--ca-bundle", "/no/such/ca.pem", *_KEYS],
            "no such file",
        ),
    ],
)
def test_tls_options_that_cannot_go_together(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert cli.main([*argv, "--out", str(out), "--no-progress"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
