"""Whether the object at a key is the one this upload wrote, when the answer that said so was lost.

A CompleteMultipartUpload (or a conditional PUT) can succeed while its answer is lost; a retry
then fails (NoSuchUpload, or 412 against the upload's own object) although the object is there.
Only the object can tell, and only what the caller asked for may be in it: no marker is
written into it unless ``UploadConfig(completion_token=True)`` asks for one. What decides:

- **Whether to look at all**: only when an attempt may have been carried out without its
  answer arriving (no answer, a 5xx other than throttling, a 200 with an ``<Error>`` body;
  :class:`Attempts`). A request S3 refused in so many words (412 at once, 503 SlowDown) wrote
  nothing, and an equal object there is someone else's.
- **What rules an object out**: another size; another checksum than this upload's where the
  server reports one (HeadObject with ``ChecksumMode=ENABLED``); an ETag other than the one
  the parts make (a multipart ETag is the MD5 of the parts' binary MD5s, ``-N``: computed here
  from the parts' ETags) when the ETags are MD5s, that is without SSE-KMS or SSE-C, else a
  part count in the ``-N`` suffix other than this upload's; a ``LastModified`` earlier than
  this upload started (read against the server's own ``Date``, so no local clock enters); a
  token of another upload; and, checked last, this upload still being open (ListParts lists
  it: its completion never happened).
- **What proves it**, at least one of: the ETag computed from the parts (a single PUT: the MD5
  of its body), the checksum the server reports, this upload's token.

An object byte-equal to this upload's, cut into the same parts, written by another client while
this upload's answer was held, cannot be told apart without a token: it holds exactly the bytes
that were asked for, and is taken for this upload's. docs/durability.md says when to ask for
the token instead (servers that neither report checksums nor make MD5 ETags, and conditional
writes used as locks by writers that may write equal bytes).
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .._diagnostics.answer import parse_time
from .._diagnostics.codes import Action
from .._exceptions import S3RequestError
from .._resilience.retry import verdict_of
from .body import Body
from .checksums import same_checksum

T = TypeVar("T")

TOKEN_METADATA = "resilient-s3-upload"
"""Object metadata key of the token ``UploadConfig(completion_token=True)`` writes."""

CLOCK_SLACK = 2.0
"""Seconds of slack when ``LastModified`` is compared with when the upload started: both it and
``Date`` are whole seconds, and a server's front ends may differ by a little."""

_NEVER_SENT = frozenset({"connection-refused", "host-unresolved", "tls-untrusted"})
"""Failures without an answer where the request never reached the server."""

_KMS = frozenset({"aws:kms", "aws:kms:dsse"})


def may_have_been_done(error: S3RequestError) -> bool:
    """Whether a failed attempt may still have been carried out by the server."""
    if error.status is None:
        kind = getattr(error, "without_answer", None)
        return kind not in _NEVER_SENT and not error.unreachable
    if verdict_of(error).action is Action.BACKOFF:
        return False  # throttled: turned away before it was carried out
    return error.status >= 500 or error.status < 300  # a 200 with an <Error> body too


class Attempts:
    """Watches one request's attempts: whether any may have been carried out although no
    answer said so."""

    def __init__(self) -> None:
        self.uncertain = False

    def watch(self, send: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
        async def attempt() -> T:
            try:
                return await send()
            except S3RequestError as exc:
                self.uncertain = self.uncertain or may_have_been_done(exc)
                raise

        return attempt


@dataclass(frozen=True, slots=True)
class Origin:
    """One upload: its token (in the object's metadata only when ``marked``) and when it
    started, just before the first request that could write the object."""

    token: str
    started: float
    """``time.time()``: survives a restart (the journal keeps it)."""
    started_monotonic: float | None = None
    """``time.monotonic()``, when the upload started in this process."""
    marked: bool = False
    """The token was written into the object's metadata."""

    @classmethod
    def new(cls, *, marked: bool) -> Origin:
        return cls(secrets.token_hex(16), time.time(), time.monotonic(), marked)

    def elapsed(self) -> float:
        if self.started_monotonic is not None:
            return time.monotonic() - self.started_monotonic
        return max(0.0, time.time() - self.started)


@dataclass(frozen=True, slots=True)
class Expected:
    """What this upload's object shows in HeadObject."""

    size: int
    checksum_param: str
    """HeadObject's field for the checksum, e.g. ``ChecksumCRC64NVME``."""
    checksum: str | None
    """base64 (a COMPOSITE one with ``-N``), or None if there is none to compare."""
    parts: int | None = None
    """A multipart upload's number of parts; None for a single PUT."""
    etag: str | None = None
    """The multipart ETag the parts make (``hex-N``, lower case), if their ETags are MD5s."""
    encrypted: bool = False
    """The upload asked for SSE-KMS or SSE-C: ETags are not MD5s of the data then."""


@dataclass(frozen=True, slots=True)
class Judgement:
    ours: bool
    why: str
    """What proved it, or what ruled it out."""
    damaged: str | None = None
    """The object carries this upload's token but another checksum than was sent."""


def multipart_etag(part_etags: Sequence[str]) -> str | None:
    """The ETag S3 (AWS, SeaweedFS, moto, MinIO) gives a multipart object: the MD5 of the
    parts' binary MD5s, then ``-N``; None if a part's ETag is not a hex MD5."""
    digests = []
    for etag in part_etags:
        value = _bare(etag)
        if len(value) != 32:
            return None
        try:
            digests.append(bytes.fromhex(value))
        except ValueError:
            return None
    if not digests:
        return None
    joined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
    return f"{joined}-{len(digests)}"


def encrypted_args(args: Mapping[str, Any]) -> bool:
    """Whether ``extra_args`` ask for SSE-C or SSE-KMS (ETags are then not MD5s on AWS)."""
    return bool(
        args.get("SSECustomerKey")
        or args.get("SSECustomerAlgorithm")
        or args.get("SSEKMSKeyId")
        or args.get("ServerSideEncryption") in _KMS
    )


def body_md5(body: Body) -> str:
    """The MD5 of a body, hex (in a worker thread: it reads the body again)."""
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in body.chunks(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def needs_body_md5(head: Mapping[str, Any], expected: Expected, origin: Origin) -> bool:
    """Whether judging a single PUT's object needs its body's MD5: no checksum reported, no
    token, and an ETag that is an MD5."""
    return (
        not origin.marked
        and head.get(expected.checksum_param) is None
        and _metadata(head).get(TOKEN_METADATA) != origin.token
        and not (expected.encrypted or _encrypted(head))
    )


def judge(
    head: Mapping[str, Any], expected: Expected, origin: Origin, md5: str | None = None
) -> Judgement:
    """Whether HeadObject's answer shows the object this upload wrote (see the module's
    docstring). ``md5`` is a single PUT's body MD5 when :func:`needs_body_md5` asked for it."""
    size = head.get("ContentLength")
    if size != expected.size:
        return Judgement(False, f"its size is {size}, this upload's {expected.size}")
    reported = head.get(expected.checksum_param)
    algorithm = expected.checksum_param.removeprefix("Checksum")
    differs = None
    if (
        reported is not None
        and expected.checksum is not None
        and not same_checksum(str(reported), expected.checksum)
    ):
        differs = f"its {algorithm} is {reported}, this upload's {expected.checksum}"
    token = _metadata(head).get(TOKEN_METADATA)
    if origin.marked:  # the token decides, with the size and the checksum
        if token != origin.token:
            return Judgement(False, "it does not carry this upload's token")
        return Judgement(differs is None, "this upload's token", damaged=differs)
    if differs is not None:
        return Judgement(False, differs)
    if token is not None and token != origin.token:
        return Judgement(False, "it carries another upload's token")
    earlier = _modified_before(head, origin)
    if earlier is not None:
        return Judgement(False, earlier)
    proofs = ["this upload's token"] if token == origin.token else []
    etag = _bare(str(head.get("ETag", "")))
    md5_etags = not (expected.encrypted or _encrypted(head))
    if expected.parts is None:  # a single PUT
        if md5_etags:
            if "-" in etag:
                return Judgement(False, f"its ETag {etag} is a multipart upload's")
            if md5 is not None:
                if etag != md5:
                    return Judgement(False, f"its ETag {etag} is not the MD5 of this body")
                proofs.append("the ETag (the MD5 of the body)")
    elif expected.etag is not None and etag == expected.etag:
        proofs.append("the multipart ETag the parts make")
    elif md5_etags and expected.etag is not None:
        return Judgement(False, f"its ETag {etag} is not {expected.etag}, the one the parts make")
    else:
        count = etag.rpartition("-")[2] if "-" in etag else None
        if count is not None and count != str(expected.parts):
            return Judgement(False, f"its ETag {etag} names {count} parts, not {expected.parts}")
    if reported is not None and expected.checksum is not None:
        proofs.append(f"the {algorithm} checksum")
    if not proofs:
        return Judgement(
            False,
            "nothing proves it: the server reports no checksum and the ETag is not "
            "computable (SSE-KMS or SSE-C); UploadConfig(completion_token=True) would",
        )
    return Judgement(True, ", ".join(proofs))


def _bare(etag: str) -> str:
    return etag.strip().strip('"').lower()


def _metadata(head: Mapping[str, Any]) -> Mapping[str, str]:
    metadata = head.get("Metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _encrypted(head: Mapping[str, Any]) -> bool:
    return head.get("ServerSideEncryption") in _KMS or bool(head.get("SSECustomerAlgorithm"))


def _modified_before(head: Mapping[str, Any], origin: Origin) -> str | None:
    """Why the object predates this upload, or None. The start is placed on the server's clock
    by HeadObject's own ``Date``: no local clock offset enters."""
    modified = head.get("LastModified")
    headers = (head.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
    now = parse_time(headers.get("date"))
    if not isinstance(modified, datetime.datetime) or now is None:
        return None  # e.g. a presigned backend's head, which has neither
    if modified.tzinfo is not None:
        modified = modified.astimezone(datetime.UTC).replace(tzinfo=None)
    started = now - datetime.timedelta(seconds=origin.elapsed() + CLOCK_SLACK)
    if modified >= started:
        return None
    return (
        f"it was last modified at {modified:%H:%M:%S}, before this upload started "
        f"(about {started:%H:%M:%S} by the server's clock)"
    )
