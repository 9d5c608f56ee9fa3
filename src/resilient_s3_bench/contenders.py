"""The contenders: what each one is, how it signs, and what it needs to be importable.

The upload code of each lives in :mod:`.runners` and runs in a worker process; this module is
what the parent needs to know about them, and imports nothing heavy.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class Contender:
    name: str
    description: str
    """How it uploads, with which settings (its defaults unless said otherwise)."""
    signing: str
    """Payload signing and checksums over plain http (verified by capturing its requests)."""
    signing_https: str
    """The same over https (captured with a TLS stub server trusted through the CA option)."""
    retries: str
    """What the retry counts in the report mean for it."""
    modules: tuple[str, ...]
    """Modules that must be importable."""
    package: str
    """The distribution to install to get it."""


_SHA256 = "SHA-256 of the payload signed (hex x-amz-content-sha256)"
_UNSIGNED_CRC64 = "UNSIGNED-PAYLOAD + x-amz-checksum-crc64nvme header"
_BOTOCORE_TRAILER = (
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER: aws-chunked body with an x-amz-checksum-crc32 trailer"
)

CONTENDERS: dict[str, Contender] = {
    c.name: c
    for c in (
        Contender(
            "resilient-s3-async",
            "AsyncResilientUploader, default UploadConfig (8 MiB parts, 16 in flight); "
            "upload_file for large, upload_directory for small",
            _SHA256 + " + x-amz-checksum-crc64nvme header",
            _UNSIGNED_CRC64,
            "UploadResult.retries / attempts",
            ("resilient_s3", "botocore", "aiohttp"),
            "resilient-s3",
        ),
        Contender(
            "resilient-s3-sync",
            "ResilientUploader (blocking portal over the async core), default UploadConfig; "
            "upload_file for large, upload_directory for small",
            _SHA256 + " + x-amz-checksum-crc64nvme header",
            _UNSIGNED_CRC64,
            "UploadResult.retries / attempts",
            ("resilient_s3", "botocore", "aiohttp"),
            "resilient-s3",
        ),
        Contender(
            "boto3",
            "client.upload_file, default TransferConfig (8 MiB parts, 10 threads); small: 16 "
            "threads sharing one client (max_pool_connections=16)",
            _SHA256 + " + x-amz-checksum-crc32 header (botocore default checksums)",
            _BOTOCORE_TRAILER,
            "botocore attempts minus API calls (event hooks), default retry mode",
            ("boto3", "s3transfer"),
            "boto3",
        ),
        Contender(
            "boto3-tuned",
            "client.upload_file, TransferConfig(max_concurrency=16, multipart_chunksize=16 MiB, "
            "multipart_threshold=16 MiB), max_pool_connections=32; small: 32 threads",
            _SHA256 + " + x-amz-checksum-crc32 header (botocore default checksums)",
            _BOTOCORE_TRAILER,
            "botocore attempts minus API calls (event hooks), default retry mode",
            ("boto3", "s3transfer"),
            "boto3",
        ),
        Contender(
            "aioboto3",
            "aioboto3 client.upload_file (its own async multipart, default TransferConfig: "
            "8 MiB parts, 10 in flight); small: put_object with 32 in flight",
            _SHA256 + " + x-amz-checksum-crc32 header (botocore default checksums)",
            _BOTOCORE_TRAILER,
            "botocore attempts minus API calls (event hooks), default retry mode",
            ("aioboto3",),
            "aioboto3",
        ),
        Contender(
            "aws-crt",
            "s3transfer CRTTransferManager (awscrt S3 client, its defaults: 8 MiB parts, "
            "threads = cores), built explicitly against the endpoint; small: all files "
            "submitted to the manager at once",
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER: payload not hashed for the signature, "
            "aws-chunked body with a CRC32 trailer (even over plain http)",
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER, as over plain http",
            "n/a (the CRT retries internally and does not report it)",
            ("s3transfer.crt", "awscrt"),
            "boto3[crt]",
        ),
        Contender(
            "obstore",
            "obstore.put (multipart above chunk_size: 5 MiB chunks, 12 in flight, its "
            "defaults); small: put_async with 64 in flight",
            _SHA256 + ", no checksum header",
            _SHA256 + " even over https, no checksum header",
            "n/a (object_store retries internally and does not report it)",
            ("obstore",),
            "obstore",
        ),
    )
}

DEFAULT_CONTENDERS: tuple[str, ...] = tuple(CONTENDERS)


def unavailable_reason(name: str) -> str | None:
    """Why ``name`` cannot run in this interpreter, or None if its modules are importable."""
    contender = CONTENDERS[name]
    for module in contender.modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"{module} is not importable (pip install {contender.package})"
    return None
