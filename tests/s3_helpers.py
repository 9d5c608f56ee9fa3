"""Helpers the server-backed tests share (not tests themselves)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import boto3

from resilient_s3.testing import S3Server


def admin_session(server: S3Server, secret: str | None = None) -> boto3.Session:
    """A session with the server's admin keys (or a wrong ``secret``)."""
    return boto3.Session(
        aws_access_key_id=server.access_key,
        aws_secret_access_key=secret or server.secret_key,
        region_name=server.region,
    )


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
