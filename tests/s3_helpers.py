"""Helpers the server-backed tests share (not tests themselves)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from resilient_s3 import Presigner
from resilient_s3.testing import S3Server


def admin_session(server: S3Server | MotoServer, secret: str | None = None) -> boto3.Session:
    """A session with the server's admin keys (or a wrong ``secret``)."""
    return boto3.Session(
        aws_access_key_id=server.access_key,
        aws_secret_access_key=secret or server.secret_key,
        region_name=server.region,
    )


def reader_session(server: S3Server) -> boto3.Session:
    """The ``reader`` identity of the ``s3_server`` fixture: it may read and list, not write."""
    reader = next(i for i in server.identities if i.name == "reader")
    return boto3.Session(
        aws_access_key_id=reader.access_key,
        aws_secret_access_key=reader.secret_key,
        region_name=server.region,
    )


def client_error(
    status: int, headers: dict[str, str], body: bytes, operation: str = "PutObject"
) -> Any:
    """The botocore ``ClientError`` a boto3 client raises for this answer: botocore's own
    parser reads it, as the client does."""
    import botocore.exceptions
    import botocore.parsers
    import botocore.session

    model = botocore.session.get_session().get_service_model("s3")
    parser = botocore.parsers.RestXMLParser()
    response = {"status_code": status, "headers": {k.lower(): v for k, v in headers.items()}}
    parsed = parser.parse({**response, "body": body}, model.operation_model(operation).output_shape)
    return botocore.exceptions.ClientError(parsed, operation)


def cli_env(server: S3Server, **more: str) -> dict[str, str]:
    """The environment of a person using the AWS CLI's variables for ``server``, and nothing
    else of AWS (no config or credentials files), plus ``more``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=server.access_key,
        AWS_SECRET_ACCESS_KEY=server.secret_key,
        AWS_DEFAULT_REGION=server.region,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    env.update(more)
    return env


def send(method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, bytes]:
    """A plain HTTP request, no SDK anywhere: (status, headers, body), errors included."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def form(fields: dict[str, str], data: bytes, filename: str = "f") -> tuple[bytes, str]:
    """A multipart/form-data body as a browser builds it: the fields, then the file; and its
    Content-Type."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(f"{value}\r\n".encode())
    disposition = f'Content-Disposition: form-data; name="file"; filename="{filename}"'
    out.write(f"--{boundary}\r\n{disposition}\r\n\r\n".encode())
    out.write(data + f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def installed(program: str, package: str) -> str | None:
    """``program`` on PATH, installed from Debian's ``package`` first when missing and this is
    root with apt-get (a fresh CI machine)."""
    import shutil
    import subprocess

    found = shutil.which(program)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", package],
        ):
            subprocess.run(command, env=env, capture_output=True, timeout=900, check=False)
        found = shutil.which(program)
    return found


def write_random(path: Path, size: int) -> str:
    """Write ``size`` random bytes to ``path``; their SHA-256."""
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def stored_sha256(client: Any, bucket: str, key: str) -> str:
    digest = hashlib.sha256()
    for chunk in client.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def open_uploads(client: Any, bucket: str) -> list[dict[str, Any]]:
    uploads: list[dict[str, Any]] = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads


class MotoServer:
    """moto's S3 server in this process: a second, independent S3 implementation, with the
    surface of :class:`S3Server` the tests use. moto accepts any keys."""

    access_key = "testing"
    secret_key = "testing"
    region = "us-east-1"

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def __enter__(self) -> MotoServer:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()

    def boto3_client(self, **overrides: Any) -> Any:
        kwargs: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": self.region,
        }
        return boto3.client("s3", **{**kwargs, **overrides})

    def create_bucket(self, name: str) -> None:
        self.boto3_client().create_bucket(Bucket=name)


@dataclass(frozen=True)
class Target:
    """A bucket on one S3 implementation, with a session and a client for it."""

    name: str
    server: Any  # S3Server or MotoServer
    bucket: str
    client: Any

    @property
    def session(self) -> boto3.Session:
        return admin_session(self.server)


class Wrapped:
    """A backend that forwards everything to the real one: subclass it to watch or change one
    call (pass the subclass as ``_backend=`` to an uploader)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def presigner(server: S3Server, **options: Any) -> Presigner:
    return Presigner(admin_session(server), endpoint_url=server.endpoint_url, **options)


class Backend:
    """The Uppy backend (which also serves PresignedUploader's protocol) on a free port."""

    def __init__(self, server: Any, bucket: str, **options: Any) -> None:
        import uvicorn

        from resilient_s3.uppy import uppy_app

        self._presigner = presigner(server)
        self._presigner.open()
        app = uppy_app(self._presigner, bucket=bucket, prefix="incoming/", **options)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._presigner.close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(
        self, method: str, path: str, body: Any = None, *, user: str | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if user is not None:
            headers["Authorization"] = user
        status, _, answer = send(method, self.url + path, headers, data or b"")
        return status, json.loads(answer or b"null")


class RawS3:
    """A plain socket listener standing in for S3: it records every byte it receives and
    answers each request it can parse with a 200 (an upload id for CreateMultipartUpload), on
    keep-alive connections as S3 does. ``requests`` holds each request line it read."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.requests: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.access_key, self.secret_key, self.region = "AKIDRAW", "raw-secret", "us-east-1"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        pending = b""
        with connection:
            while True:
                while b"\r\n\r\n" not in pending:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    self.received += chunk
                    pending += chunk
                head, _, pending = pending.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                self.requests.append(lines[0])
                length = next(
                    (
                        int(v)
                        for n, _, v in (line.partition(":") for line in lines[1:])
                        if n.strip().lower() == "content-length"
                    ),
                    0,
                )
                while len(pending) < length:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    self.received += chunk
                    pending += chunk
                pending = pending[length:]
                body = b""
                if "?uploads" in lines[0]:
                    body = (
                        b"<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
                        b"<UploadId>raw-upload</UploadId></InitiateMultipartUploadResult>"
                    )
                date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
                answer = f"HTTP/1.1 200 OK\r\nDate: {date}\r\nContent-Length: {len(body)}\r\n\r\n"
                connection.sendall(answer.encode() + body)

    def close(self) -> None:
        self._listener.close()

    def __enter__(self) -> RawS3:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class RecordedRequest:
    """One request a :class:`RecordingProxy` relayed: its line and its headers (names in
    lower case, as received)."""

    method: str
    target: str
    headers: dict[str, str]

    @property
    def operation(self) -> str:
        """The S3 operation, e.g. ``"UploadPart"`` (path-style addressing)."""
        from resilient_s3.testing import classify

        return classify(self.method, self.target)


class RecordingProxy:
    """A transparent relay in front of an S3 server that records each request's line and
    headers. Bytes pass unchanged both ways (signatures stay valid, ``100 Continue`` comes from
    the server); only the client's side is parsed, to find where each request ends."""

    def __init__(self, upstream: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"upstream must be an http:// URL, not {upstream!r}")
        self._upstream = (parts.hostname, parts.port or 80)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._sockets: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def take(self) -> list[RecordedRequest]:
        """The requests relayed since the last call, in the order their heads arrived."""
        with self._lock:
            taken, self._requests = self._requests, []
        return taken

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            sock.close()

    def __enter__(self) -> RecordingProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self._upstream)
            except OSError:
                return
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._answers, args=(upstream, client), daemon=True).start()
            threading.Thread(target=self._requests_of, args=(client, upstream), daemon=True).start()

    def _answers(self, upstream: socket.socket, client: socket.socket) -> None:
        try:
            while chunk := upstream.recv(65536):
                client.sendall(chunk)
        except OSError:
            pass
        self._close(client, upstream)

    def _requests_of(self, client: socket.socket, upstream: socket.socket) -> None:
        reader = _Relay(client, upstream)
        try:
            while (head := reader.head()) is not None:
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                with self._lock:
                    self._requests.append(RecordedRequest(method, target, headers))
                if headers.get("transfer-encoding", "").lower().endswith("chunked"):
                    reader.chunked()
                else:
                    reader.forward(int(headers.get("content-length", "0")))
        except (OSError, EOFError):
            pass
        self._close(client, upstream)

    def _close(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            with self._lock:
                self._sockets.discard(sock)


class _Relay:
    """The client side of a :class:`RecordingProxy` connection: reads, and forwards all it
    reads to the server."""

    def __init__(self, source: socket.socket, sink: socket.socket) -> None:
        self._source, self._sink = source, sink
        self._pending = b""

    def _fill(self) -> None:
        chunk = self._source.recv(65536)
        if not chunk:
            raise EOFError
        self._pending += chunk

    def head(self) -> bytes | None:
        """The next request head (forwarded), or None when the client closed between two."""
        while b"\r\n\r\n" not in self._pending:
            try:
                self._fill()
            except EOFError:
                if self._pending:
                    raise
                return None
        head, _, self._pending = self._pending.partition(b"\r\n\r\n")
        self._sink.sendall(head + b"\r\n\r\n")
        return head

    def forward(self, n: int) -> None:
        while n > 0:
            if not self._pending:
                self._fill()
            out, self._pending = self._pending[:n], self._pending[n:]
            self._sink.sendall(out)
            n -= len(out)

    def line(self) -> bytes:
        while b"\r\n" not in self._pending:
            self._fill()
        line, _, self._pending = self._pending.partition(b"\r\n")
        self._sink.sendall(line + b"\r\n")
        return line

    def chunked(self) -> None:
        while (size := int(self.line().split(b";", 1)[0], 16)) > 0:
            self.forward(size + 2)
        while self.line():  # trailers, then the blank line
            pass


class Unseekable(io.RawIOBase):
    """A pipe-like stream: readable, not seekable, no size."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._inner.readinto(buffer)
