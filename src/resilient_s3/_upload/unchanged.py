"""Whether the object at a key already holds a file, so a directory upload can skip it.

Unchanged means: the same size, and either the same full-object checksum in the uploader's
algorithm (what resilient-s3 stores with every object, CRC64NVME by default), or, for an object
stored without one, an ETag equal to the file's MD5 (a single-part upload not encrypted with
SSE-KMS or SSE-C). Anything else, including a composite checksum or a multipart ETag, cannot
prove the bytes equal, and the file is uploaded. Modification times are not compared: they
say nothing about the bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from .._resilience.retry import Counters
from .._s3.errors import Where
from .checksums import ChecksumKind, b64, digest_file_range
from .commit import Commit
from .source import FileSource


async def holds_file(
    commit: Commit,
    kind: ChecksumKind,
    where: Where,
    args: Mapping[str, Any],
    source: FileSource,
    counters: Counters,
) -> bool:
    size = source.size
    assert size is not None  # a file's
    head = await commit.head(where, args, counters)
    if head is None or head.get("ContentLength") != size:
        return False
    stored = head.get(kind.param)
    etag = str(head.get("ETag", "")).strip('"')
    encrypted = head.get("ServerSideEncryption") == "aws:kms" or "SSECustomerAlgorithm" in head
    by_etag = not stored and "-" not in etag and not encrypted
    if stored is None and not by_etag:
        return False
    if stored is not None and "-" in stored:
        return False  # composite: a checksum of part checksums, not of the bytes
    digest = await anyio.to_thread.run_sync(
        digest_file_range, source.read_into, 0, size, kind, False, by_etag
    )
    if stored is not None:
        return b64(digest.checksum) == str(stored)
    return digest.md5_hex == etag
