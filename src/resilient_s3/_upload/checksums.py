"""Checksums of parts and objects: CRCs and xxHash from awscrt (several GiB/s), SHA from hashlib.

Both release the GIL, so digests run in worker threads while the event loop sends other parts.
CRCs combine: the whole object's CRC is derived from the parts' CRCs without reading it again.
Every algorithm S3 names (``KINDS``) can be computed, so a checksum a caller gives for the whole
object is checked here before anything is sent; ``UploadConfig.checksum_algorithm`` chooses among
the four that suit every upload (``CHECKSUM_KINDS``).
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal, Protocol

from awscrt import checksums as crt

Buffer = bytes | bytearray | memoryview
MultipartType = Literal["FULL_OBJECT", "COMPOSITE"]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class Hasher(Protocol):
    def update(self, data: Buffer, /) -> None: ...

    def digest(self) -> bytes: ...


_XXHASH_SLICE = 256 * 1024


class _XXHash:
    """awscrt's xxHash with hashlib's method names."""

    def __init__(self, make: Callable[[], crt.XXHash]) -> None:
        self._hash = make()

    def update(self, data: Buffer, /) -> None:
        if isinstance(data, bytes):
            self._hash.update(data)
            return
        # awscrt's xxHash takes bytes only: other buffers are copied a cache-sized slice at a
        # time (only for a caller's xxHash, which goes with a single PUT).
        view = memoryview(data).cast("B")
        for start in range(0, len(view), _XXHASH_SLICE):
            self._hash.update(bytes(view[start : start + _XXHASH_SLICE]))

    def digest(self) -> bytes:
        return bytes(self._hash.finalize())


@dataclass(frozen=True, slots=True)
class ChecksumKind:
    """One S3 checksum algorithm: how to compute it, how S3 names it, and how S3 can check a
    multipart object with it (``multipart_types``: none for SHA-512, MD5 and xxHash, the newest
    in botocore's model, for which S3 documents no multipart checksum; ``multipart_type`` is the
    one used unless the caller asks for another)."""

    algorithm: str
    width: int  # bytes in the digest
    multipart_type: MultipartType
    _crc: Callable[[Buffer, int], int] | None = None
    _combine: Callable[[int, int, int], int] | None = None
    _new: Callable[[], Hasher] | None = None
    multipart_types: tuple[MultipartType, ...] = ()
    named: bool = True
    """Whether requests name the algorithm (``x-amz-sdk-checksum-algorithm``) besides sending
    the value: not for SHA-512, MD5 and xxHash, which SeaweedFS 4.48 refuses to be named
    (InvalidRequest); boto3 names none when the caller gives the value, and S3 checks the
    value header alone."""

    @property
    def header(self) -> str:
        return f"x-amz-checksum-{self.algorithm.lower()}"

    @property
    def param(self) -> str:
        """The botocore parameter name, e.g. ``ChecksumCRC32C``."""
        return f"Checksum{self.algorithm}"

    def digest(self, data: Buffer) -> bytes:
        if self._crc is not None:
            return self._crc(data, 0).to_bytes(self.width, "big")
        assert self._new is not None
        hasher = self._new()
        hasher.update(data)
        return hasher.digest()

    def combine(self, digests: Sequence[tuple[bytes, int]]) -> bytes:
        """The whole object's digest from (part digest, part length) pairs, in order."""
        if self._combine is None:
            raise TypeError(f"{self.algorithm} digests cannot be combined")
        total = 0
        for digest, length in digests:
            total = self._combine(total, int.from_bytes(digest, "big"), length)
        return total.to_bytes(self.width, "big")

    def composite(self, part_digests: Sequence[bytes]) -> str:
        """S3's COMPOSITE checksum of a multipart object: the digest of the parts' digests, in
        order, then ``-N``."""
        return f"{b64(self.digest(b''.join(part_digests)))}-{len(part_digests)}"


def _crc_kind(
    algorithm: str,
    width: int,
    crc: Callable[[Buffer, int], int],
    combine: Callable[[int, int, int], int],
    *types: MultipartType,
) -> ChecksumKind:
    return ChecksumKind(algorithm, width, "FULL_OBJECT", crc, combine, multipart_types=types)


def _hash_kind(
    algorithm: str, width: int, new: Callable[[], Hasher], *types: MultipartType
) -> ChecksumKind:
    # The hashes S3 has checked longest are the ones it combines in parts too.
    named = bool(types)
    return ChecksumKind(algorithm, width, "COMPOSITE", _new=new, multipart_types=types, named=named)


_XXHASHES = (
    [
        _hash_kind("XXHASH64", 8, partial(_XXHash, crt.XXHash.new_xxhash64)),
        _hash_kind("XXHASH3", 8, partial(_XXHash, crt.XXHash.new_xxhash3_64)),
        _hash_kind("XXHASH128", 16, partial(_XXHash, crt.XXHash.new_xxhash3_128)),
    ]
    if hasattr(crt, "XXHash")  # awscrt 0.28 and later
    else []
)

KINDS: dict[str, ChecksumKind] = {
    kind.algorithm: kind
    for kind in (
        # S3 combines CRC64NVME parts into a full-object checksum only; CRC32 and CRC32C
        # either way; SHA-1 and SHA-256 only as a checksum of the parts' checksums.
        _crc_kind("CRC64NVME", 8, crt.crc64nvme, crt.combine_crc64nvme, "FULL_OBJECT"),
        _crc_kind("CRC32C", 4, crt.crc32c, crt.combine_crc32c, "FULL_OBJECT", "COMPOSITE"),
        _crc_kind("CRC32", 4, crt.crc32, crt.combine_crc32, "FULL_OBJECT", "COMPOSITE"),
        _hash_kind("SHA256", 32, hashlib.sha256, "COMPOSITE"),
        _hash_kind("SHA1", 20, partial(hashlib.sha1, usedforsecurity=False), "COMPOSITE"),
        _hash_kind("SHA512", 64, hashlib.sha512),
        _hash_kind("MD5", 16, partial(hashlib.md5, usedforsecurity=False)),
        *_XXHASHES,
    )
}
"""Every algorithm resilient-s3 computes, by S3's name."""

CHECKSUM_KINDS: dict[str, ChecksumKind] = {
    name: KINDS[name] for name in ("CRC64NVME", "CRC32C", "CRC32", "SHA256")
}
"""The algorithms ``UploadConfig.checksum_algorithm`` takes: S3 checks any object with them."""


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def same_checksum(reported: str, expected: str) -> bool:
    """Whether a checksum a server reports is the expected one. A COMPOSITE value may come
    without its ``-N`` part count (moto's HeadObject), which is then not compared."""
    if reported == expected:
        return True
    base, dash, count = expected.rpartition("-")
    return bool(dash) and count.isdigit() and "-" not in reported and reported == base


def composite_checksum(part_digests: Sequence[bytes], kind: ChecksumKind | None = None) -> str:
    """S3's COMPOSITE checksum of a multipart object in ``kind`` (SHA-256 unless given)."""
    return (kind or KINDS["SHA256"]).composite(part_digests)


@dataclass(frozen=True, slots=True)
class PartDigest:
    """What is sent with one request body: its checksum, and its SHA-256 when signed."""

    checksum: bytes
    payload_sha256: str | None
    md5_hex: str | None = None
    """Only when asked for: what S3's ETag of a part is, unless the part is encrypted with
    SSE-KMS or SSE-C."""
    kind: ChecksumKind | None = None
    """The algorithm of ``checksum``; None: the backend's (its ``kind``)."""

    @property
    def checksum_b64(self) -> str:
        return b64(self.checksum)


class Digester:
    """Checksum (and, when signing, SHA-256) of a body fed in pieces. A SHA-256 checksum and
    the payload's SHA-256 are one hash."""

    def __init__(self, kind: ChecksumKind, sign_payload: bool, md5: bool = False) -> None:
        self._kind = kind
        self._crc = 0
        sha256_checksum = kind.algorithm == "SHA256"
        self._sha = hashlib.sha256() if sign_payload or sha256_checksum else None
        self._hash = kind._new() if kind._new is not None and not sha256_checksum else None
        self._sign = sign_payload
        self._md5 = hashlib.md5(usedforsecurity=False) if md5 else None

    def update(self, data: Buffer) -> None:
        if self._kind._crc is not None:
            self._crc = self._kind._crc(data, self._crc)
        if self._hash is not None:
            self._hash.update(data)
        if self._sha is not None:
            self._sha.update(data)
        if self._md5 is not None:
            self._md5.update(data)

    def finish(self) -> PartDigest:
        if self._kind._crc is not None:
            checksum = self._crc.to_bytes(self._kind.width, "big")
        elif self._hash is not None:
            checksum = self._hash.digest()
        else:
            assert self._sha is not None
            checksum = self._sha.digest()
        sha256 = None
        if self._sign:
            assert self._sha is not None
            sha256 = self._sha.hexdigest()
        md5 = self._md5.hexdigest() if self._md5 is not None else None
        return PartDigest(checksum, sha256, md5, self._kind)


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
