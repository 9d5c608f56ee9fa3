"""The seam under the upload pipeline: what an upload needs from wherever the bytes go.

The pipeline (reader, part workers, commit, resume) speaks only this protocol. The S3 backend
makes the calls with credentials; a presigned backend makes them through URLs a server signed
for a client that has none. Like httpx's transports under its client: one pipeline, many
ways to send.

Every method raises :class:`~resilient_s3.S3RequestError` (or another ``UploadError``) when
the request fails; retrying is the pipeline's (each call is one attempt).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .._s3.errors import Where
from .body import Body
from .checksums import ChecksumKind, PartDigest
from .planner import UploadPlan


@dataclass(frozen=True, slots=True)
class StoredBody:
    """What S3 answered to a PutObject or UploadPart."""

    etag: str
    version_id: str | None
    checksum: str | None  # base64, as echoed by the server; None if it did not echo one


@dataclass(frozen=True, slots=True)
class ListedPart:
    """A part as ListParts shows it."""

    etag: str
    size: int
    checksum: str | None
    """The part's checksum in the upload's algorithm, base64; AWS lists it when the upload has
    a checksum algorithm, some servers (SeaweedFS) never do."""


@dataclass(frozen=True, slots=True)
class CompletedPart:
    number: int
    etag: str
    checksum: str
    """base64, in the upload's algorithm."""
    algorithm: str | None = None
    """The upload's algorithm (an upload's extra_args may choose it); None: the backend's."""


class UploadBackend(Protocol):
    """Where an upload's requests go. ``kind`` is the checksum bodies carry unless their
    digest names another (``PartDigest.kind``: an upload's extra_args may choose it)."""

    kind: ChecksumKind

    @property
    def endpoint_url(self) -> str:
        """Names the destination in the journal (an upload resumes at the same one)."""
        ...

    @property
    def signs_payload(self) -> bool:
        """Whether bodies are sent with their SHA-256 (then digests must include it)."""
        ...

    @property
    def has_credentials(self) -> bool:
        """Whether requests are signed here, with credentials that can list and abort uploads
        later (a failed abort is then remembered for ``resilient-s3 cleanup``); false when a
        server signs them for this client."""
        ...

    def placed(self, where: Where) -> Where:
        """Where the object really goes: a presigned backend's server may choose another
        bucket and key than the client asked for."""
        ...

    async def put_object(
        self,
        where: Where,
        body: Body,
        digest: PartDigest,
        args: Mapping[str, Any],
        on_sent: Callable[[int], None],
    ) -> StoredBody: ...

    async def create_multipart(
        self, where: Where, args: Mapping[str, Any], plan: UploadPlan | None
    ) -> str:
        """A new multipart upload's id. ``plan`` is how the object will be cut, when its size
        is known (a presigned backend asks for every part's URL at once then)."""
        ...

    async def upload_part(
        self,
        where: Where,
        body: Body,
        digest: PartDigest,
        args: Mapping[str, Any],
        on_sent: Callable[[int], None],
    ) -> StoredBody: ...

    async def complete_multipart(
        self, where: Where, parts: Sequence[CompletedPart], args: Mapping[str, Any]
    ) -> dict[str, Any]:
        """CompleteMultipartUpload's answer: ``ETag``, ``VersionId``, checksum fields."""
        ...

    async def abort_multipart(self, where: Where) -> None:
        """Abort; an upload that is gone already (NoSuchUpload) counts as aborted."""
        ...

    async def list_parts(self, where: Where, args: Mapping[str, Any]) -> dict[int, ListedPart]:
        """Every part S3 holds, all pages, by number."""
        ...

    async def head_object(self, where: Where, args: Mapping[str, Any]) -> dict[str, Any] | None:
        """HeadObject's answer with the checksum, or None if there is no object."""
        ...
