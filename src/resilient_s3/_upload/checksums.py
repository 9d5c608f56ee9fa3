"""Checksums of parts and objects: CRCs from awscrt (several GiB/s), SHA-256 from hashlib.

Both release the GIL, so digests run in worker threads while the event loop sends other parts.
CRCs combine: the whole object's CRC is derived from the parts' CRCs without reading it again.
"""

from __future__ import annotations

import base64
import hashlib
import threading
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


def same_checksum(reported: str, expected: str) -> bool:
    """Whether a checksum a server reports is the expected one. A COMPOSITE value may come
    without its ``-N`` part count (moto's HeadObject), which is then not compared."""
    if reported == expected:
        return True
    base, dash, count = expected.rpartition("-")
    return bool(dash) and count.isdigit() and "-" not in reported and reported == base


def composite_checksum(part_digests: Sequence[bytes]) -> str:
    """S3's COMPOSITE checksum of a multipart object: the digest of the parts' digests, in
    order, then ``-N`` (only SHA-256 objects use it here; CRCs combine into FULL_OBJECT)."""
    joined = hashlib.sha256(b"".join(part_digests)).digest()
    return f"{b64(joined)}-{len(part_digests)}"


@dataclass(frozen=True, slots=True)
class PartDigest:
    """What is sent with one request body: its checksum, and its SHA-256 when signed."""

    checksum: bytes
    payload_sha256: str | None
    md5_hex: str | None = None
    """Only when asked for: what S3's ETag of a part is, unless the part is encrypted with
    SSE-KMS or SSE-C."""

    @property
    def checksum_b64(self) -> str:
        return b64(self.checksum)


class Digester:
    """Checksum (and, when signing, SHA-256) of a body fed in pieces."""

    def __init__(self, kind: ChecksumKind, sign_payload: bool, md5: bool = False) -> None:
        self._kind = kind
        self._crc = 0
        self._sha = hashlib.sha256() if sign_payload or kind._crc is None else None
        self._sign = sign_payload
        self._md5 = hashlib.md5(usedforsecurity=False) if md5 else None

    def update(self, data: Buffer) -> None:
        if self._kind._crc is not None:
            self._crc = self._kind._crc(data, self._crc)
        if self._sha is not None:
            self._sha.update(data)
        if self._md5 is not None:
            self._md5.update(data)

    def finish(self) -> PartDigest:
        if self._kind._crc is None:
            assert self._sha is not None
            checksum = self._sha.digest()
        else:
            checksum = self._crc.to_bytes(self._kind.width, "big")
        sha256 = None
        if self._sign:
            assert self._sha is not None
            sha256 = self._sha.hexdigest()
        md5 = self._md5.hexdigest() if self._md5 is not None else None
        return PartDigest(checksum, sha256, md5)


def digest_body(data: Buffer, kind: ChecksumKind, sign_payload: bool) -> PartDigest:
    """Checksum a body in one call; run it in a worker thread for large bodies."""
    digester = Digester(kind, sign_payload)
    digester.update(data)
    return digester.finish()


_scratch = threading.local()
SCRATCH_BYTES = 1024 * 1024
"""Read size when checksumming a file: small enough to stay in the CPU cache while hashed."""


def digest_file_range(
    read_into: Callable[[memoryview, int], int],
    offset: int,
    length: int,
    kind: ChecksumKind,
    sign_payload: bool,
    md5: bool = False,
) -> PartDigest:
    """Checksum ``length`` bytes from ``offset`` through a per-thread reused buffer."""
    buffer: memoryview | None = getattr(_scratch, "buffer", None)
    if buffer is None:
        buffer = _scratch.buffer = memoryview(bytearray(SCRATCH_BYTES))
    digester = Digester(kind, sign_payload, md5)
    end = offset + length
    while offset < end:
        view = buffer[: min(SCRATCH_BYTES, end - offset)]
        read_into(view, offset)
        digester.update(view)
        offset += len(view)
    return digester.finish()
