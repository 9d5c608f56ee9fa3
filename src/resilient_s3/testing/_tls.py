"""A throwaway certificate authority for ``S3Server(tls=True)``.

trustme makes a CA and a certificate for ``127.0.0.1`` and ``localhost`` signed by it; the
three PEM files go into the server's temporary directory and die with it. Clients trust the
CA through ``verify=<ca_bundle>``, so nothing has to turn verification off. trustme (and the
``cryptography`` package under it) is imported only when a TLS server starts.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

_MISSING = (
    "S3Server(tls=True) needs the 'trustme' package to make its throwaway certificate "
    "authority: pip install trustme (it comes with the 'embedded' and 'test' extras of "
    "resilient-s3)"
)
HOSTS = ("127.0.0.1", "localhost")
"""The names the server certificate is valid for."""


@dataclass(frozen=True)
class TlsFiles:
    """Where the PEM files of one TLS server are."""

    ca_bundle: Path
    """The CA's certificate: what clients pass as ``verify=``."""
    cert_file: Path
    """The server's certificate chain (``-s3.cert.file``)."""
    key_file: Path = field(repr=False)
    """The server's private key (``-s3.key.file``), readable by its owner only."""


def require_trustme() -> None:
    """Raise ModuleNotFoundError with the way out when trustme is not installed."""
    try:
        found = importlib.util.find_spec("trustme") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ModuleNotFoundError(_MISSING, name="trustme")


def write_certificates(directory: Path) -> TlsFiles:
    """Make a CA and a server certificate for :data:`HOSTS`; write them into ``directory``."""
    try:
        import trustme
    except ImportError as exc:
        raise ModuleNotFoundError(_MISSING, name="trustme") from exc

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="resilient-s3 testing CA")
    leaf = ca.issue_cert(*HOSTS, common_name=HOSTS[0])
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    _write(files.ca_bundle, ca.cert_pem.bytes(), 0o644)
    _write(files.cert_file, b"".join(pem.bytes() for pem in leaf.cert_chain_pems), 0o644)
    _write(files.key_file, leaf.private_key_pem.bytes(), 0o600)
    return files


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
