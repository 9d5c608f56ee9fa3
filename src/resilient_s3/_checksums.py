"""Checksums of parts and objects: CRCs from awscrt (several GiB/s), SHA-256 from hashlib.

Both release the GIL, so digests run in worker threads while the event loop sends other parts.
CRCs combine: the whole object's CRC is derived from the parts' CRCs without reading it again.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from awscrt import checksums as crt

Buffer = bytes | bytearray | memoryview

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True, slots=True)
class ChecksumKind:
    """One S3 checksum algorithm: how to compute it and how S3 names it."""

    algorithm: str
    width: int  # bytes in the digest
    multipart_type: Literal["FULL_OBJECT", "COMPOSITE"]
    _crc: Callable[[Buffer, int], int] | None = None
    _combine: Callable[[int, int, int], int] | None = None

    @property
    def header(self) -> str:
        return f"x-amz-checksum-{self.algorithm.lower()}"

    @property
    def param(self) -> str:
        """The botocore parameter name, e.g. ``ChecksumCRC32C``."""
        return f"Checksum{self.algorithm}"

    def digest(self, data: Buffer) -> bytes:
        if self._crc is None:
            return hashlib.sha256(data).digest()
        return self._crc(data, 0).to_bytes(self.width, "big")

    def combine(self, digests: Sequence[tuple[bytes, int]]) -> bytes:
        """The whole object's digest from (part digest, part length) pairs, in order."""
        if self._combine is None:
            raise TypeError(f"{self.algorithm} digests cannot be combined")
        total = 0
        for digest, length in digests:
            total = self._combine(total, int.from_bytes(digest, "big"), length)
        return total.to_bytes(self.width, "big")


CHECKSUM_KINDS: dict[str, ChecksumKind] = {
    kind.algorithm: kind
    for kind in (
        ChecksumKind("CRC64NVME", 8, "FULL_OBJECT", crt.crc64nvme, crt.combine_crc64nvme),
        ChecksumKind("CRC32C", 4, "FULL_OBJECT", crt.crc32c, crt.combine_crc32c),
        ChecksumKind("CRC32", 4, "FULL_OBJECT", crt.crc32, crt.combine_crc32),
        ChecksumKind("SHA256", 32, "COMPOSITE"),
    )
}


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class PartDigest:
    """What is sent with one request body: its checksum, and its SHA-256 when signed."""

    checksum: bytes
    payload_sha256: str | None

    @property
    def checksum_b64(self) -> str:
        return b64(self.checksum)


def digest_body(data: Buffer, kind: ChecksumKind, sign_payload: bool) -> PartDigest:
    """Checksum a request body in one call; run it in a worker thread for large bodies."""
    checksum = kind.digest(data)
    sha256 = None
    if sign_payload:
        sha256 = checksum.hex() if kind.algorithm == "SHA256" else hashlib.sha256(data).hexdigest()
    return PartDigest(checksum, sha256)
