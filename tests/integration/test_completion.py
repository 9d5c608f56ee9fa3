"""Completions whose answers are lost, on SeaweedFS and moto through the chaos proxy: the object
is confirmed by what it shows (its multipart ETag, its checksum, the upload gone; see
docs/durability.md), never by a marker written into it, and another client's object at the
same key is not taken for this upload's.

The gauntlet runs every lost-answer scenario ``RESILIENT_S3_GAUNTLET_RUNS`` times (once by
default)::

    RESILIENT_S3_GAUNTLET_RUNS=20 pytest tests/integration/test_completion.py -k gauntlet
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from resilient_s3 import (
    AsyncPresignedUploader,
    AsyncPresigner,
    AsyncResilientUploader,
    ObjectExistsError,
    RetriesExhaustedError,
    S3RequestError,
    SignRequest,
    UploadConfig,
    UploadResult,
)
from resilient_s3.testing import ChaosProxy, Fault, FaultKind, S3Server
from s3_helpers import Target, Wrapped, admin_session, open_uploads, stored_sha256

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
SIZE = 11 * MiB  # three parts of CONFIG's: 5, 5 and 1 MiB
SMALL = 1 * MiB  # one PUT
HOLD = 4.0  # seconds an answer is held: past CONFIG's read timeout
CONFIG = UploadConfig(multipart_threshold=5 * MiB, part_size=5 * MiB, read_timeout=2.0)
METADATA = {"owner": "tests", "purpose": "completion"}
RUNS = int(os.environ.get("RESILIENT_S3_GAUNTLET_RUNS", "1"))
CONFIRMED = "confirmed by HeadObject"


def write(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def crc64nvme(data: bytes) -> str:
    from awscrt import checksums

    return base64.b64encode(checksums.crc64nvme(data).to_bytes(8, "big")).decode()


def other_multipart(target: Target, key: str, data: bytes, part_size: int) -> str:
    """Another client (boto3, straight to the server) uploads ``data`` in parts with a
    full-object CRC64NVME, as resilient-s3 does; its ETag."""
    client, bucket = target.client, target.bucket
    upload = client.create_multipart_upload(
        Bucket=bucket, Key=key, ChecksumAlgorithm="CRC64NVME", ChecksumType="FULL_OBJECT"
    )
    parts = []
    for number, offset in enumerate(range(0, len(data), part_size), 1):
        answer = client.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=data[offset : offset + part_size],
            ChecksumAlgorithm="CRC64NVME",
        )
        parts.append(
            {
                "PartNumber": number,
                "ETag": answer["ETag"],
                "ChecksumCRC64NVME": answer["ChecksumCRC64NVME"],
            }
        )
    done = client.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts},
        ChecksumCRC64NVME=crc64nvme(data),
        ChecksumType="FULL_OBJECT",
    )
    etag: str = done["ETag"]
    return etag


def other_put(target: Target, key: str, data: bytes) -> str:
    """Another client writes ``data`` with one PUT (and a CRC64NVME); its ETag."""
    answer = target.client.put_object(
        Bucket=target.bucket, Key=key, Body=data, ChecksumAlgorithm="CRC64NVME"
    )
    etag: str = answer["ETag"]
    return etag


@pytest.fixture
def target(target: Target) -> Iterator[Target]:
    """The shared fixture's bucket, deleted afterwards: SeaweedFS gives every bucket volumes of
    its own, and a gauntlet of hundreds of tests would use them all up (then it answers 500)."""
    yield target
    client, bucket = target.client, target.bucket
    for upload in open_uploads(client, bucket):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for listed in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=listed["Key"])
    client.delete_bucket(Bucket=bucket)


class Interloper(Wrapped):
    """Runs ``write`` (another client writing the same key) once, as soon as the first attempt
    at completing the upload (or at a PUT) has failed: the chaos proxy holds that attempt's
    answer, the server carried it out. The retries, and the confirmation, come after it."""

    def __init__(self, inner: Any, write: Callable[[], object]) -> None:
        super().__init__(inner)
        self.write = write
        self.wrote = False

    async def _after_failure(self) -> None:
        if not self.wrote:
            self.wrote = True
            await anyio.to_thread.run_sync(self.write)

    async def complete_multipart(self, *args: Any) -> Any:
        try:
            return await self.inner.complete_multipart(*args)
        except S3RequestError:
            await self._after_failure()
            raise

    async def put_object(self, *args: Any) -> Any:
        try:
            return await self.inner.put_object(*args)
        except S3RequestError:
            await self._after_failure()
            raise


async def upload(
    target: Target,
    endpoint_url: str,
    path: Path,
    key: str,
    *,
    extra_args: Mapping[str, Any] | None = None,
    overwrite: bool = True,
    config: UploadConfig = CONFIG,
    backend: Callable[[Any], Any] | None = None,
) -> UploadResult:
    hooks: dict[str, Any] = {} if backend is None else {"_backend": backend}
    args = {"Metadata": dict(METADATA), **(extra_args or {})}
    async with AsyncResilientUploader(
        target.session, endpoint_url=endpoint_url, config=config, **hooks
    ) as up:
        return await up.upload_file(path, target.bucket, key, args, overwrite=overwrite)


def head(target: Target, key: str, **args: Any) -> dict[str, Any]:
    answer: dict[str, Any] = target.client.head_object(Bucket=target.bucket, Key=key, **args)
    return answer


# -- the object carries what the caller set, nothing more ---------------------------------------


@pytest.mark.parametrize("overwrite", [True, False], ids=["plain", "conditional"])
@pytest.mark.parametrize("size", [SMALL, SIZE], ids=["single", "multipart"])
async def test_the_object_carries_only_the_callers_metadata(
    target: Target, tmp_path: Path, size: int, overwrite: bool
) -> None:
    path = tmp_path / "f"
    data = write(path, size)
    result = await upload(target, target.server.endpoint_url, path, "k", overwrite=overwrite)
    found = head(target, "k")
    assert found["Metadata"] == METADATA
    assert result.etag == found["ETag"]
    assert stored_sha256(target.client, target.bucket, "k") == sha256(data)


async def test_the_token_is_written_only_when_asked_for(target: Target, tmp_path: Path) -> None:
    path = tmp_path / "f"
    write(path, SIZE)
    config = UploadConfig(multipart_threshold=5 * MiB, part_size=5 * MiB, completion_token=True)
    await upload(target, target.server.endpoint_url, path, "k", config=config)
    metadata = dict(head(target, "k")["Metadata"])
    assert len(metadata.pop("resilient-s3-upload")) == 32
    assert metadata == METADATA


# -- the gauntlet of lost answers ---------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    faults: list[Fault]
    size: int = SIZE
    overwrite: bool = True
    sse_c: bool = False
    confirms: bool = True
    """Whether the answers lost leave HeadObject to decide (else a retry's answer does)."""


def complete(kind: FaultKind, **options: Any) -> Fault:
    return Fault(kind, 1.0, {"CompleteMultipartUpload"}, **options)


def put(kind: FaultKind, **options: Any) -> Fault:
    return Fault(kind, 1.0, {"PutObject"}, **options)


SCENARIOS = {
    "complete-lost-every-time": Scenario([complete(FaultKind.LOSE_RESPONSE)]),
    # The retry reaches an upload that is complete already: SeaweedFS and moto answer 200 with
    # the object's ETag (AWS may answer NoSuchUpload: then HeadObject decides, as above).
    "complete-lost-once": Scenario([complete(FaultKind.LOSE_RESPONSE, limit=1)], confirms=False),
    "complete-held-every-time": Scenario([complete(FaultKind.HOLD_ANSWER, seconds=HOLD)]),
    "complete-error-twice": Scenario([complete(FaultKind.COMPLETE_ERROR, limit=2)], confirms=False),
    "complete-lost-sse-c": Scenario([complete(FaultKind.LOSE_RESPONSE)], sse_c=True),
    "conditional-complete-lost": Scenario([complete(FaultKind.LOSE_RESPONSE)], overwrite=False),
    "conditional-put-lost": Scenario(
        [put(FaultKind.LOSE_RESPONSE, limit=1)], size=SMALL, overwrite=False
    ),
    "conditional-put-held": Scenario(
        [put(FaultKind.HOLD_ANSWER, seconds=HOLD, limit=1)], size=SMALL, overwrite=False
    ),
}


@pytest.mark.parametrize("run", range(RUNS))
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_gauntlet_lost_answers_are_confirmed_by_the_object_alone(
    target: Target, tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, run: int
) -> None:
    scenario = SCENARIOS[name]
    path = tmp_path / "f"
    data = write(path, scenario.size)
    sse_c: dict[str, Any] = {}
    if scenario.sse_c:
        sse_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)}
    caplog.set_level(logging.INFO, logger="resilient_s3")
    with ChaosProxy(target.server.endpoint_url, faults=scenario.faults) as proxy:
        result = await upload(
            target,
            proxy.endpoint_url,
            path,
            "k",
            extra_args=dict(sse_c),
            overwrite=scenario.overwrite,
        )
        stats = proxy.stats
    assert sum(stats.faults.values()) >= 1
    confirmed = [r for r in caplog.records if CONFIRMED in r.getMessage()]
    assert len(confirmed) == (1 if scenario.confirms else 0), [r.getMessage() for r in confirmed]
    found = head(target, "k", **sse_c)
    assert found["Metadata"] == METADATA  # nothing the caller did not set
    assert result.etag == found["ETag"]
    assert result.size == found["ContentLength"] == len(data)
    body = target.client.get_object(Bucket=target.bucket, Key="k", **sse_c)["Body"].read()
    assert body == data
    assert open_uploads(target.client, target.bucket) == []


# -- another client's object at the same key ----------------------------------------------------


def interloping(target: Target, write: Callable[[], object]) -> Callable[[Any], Interloper]:
    return lambda inner: Interloper(inner, write)


# The first Complete reaches the server and its answer is held past the read timeout; the
# others never arrive whole. Meanwhile another client writes the same key.
HELD_THEN_CUT = [
    complete(FaultKind.HOLD_ANSWER, seconds=HOLD, limit=1),
    complete(FaultKind.RESET, after_bytes=0),
]


@pytest.mark.parametrize("run", range(RUNS))
@pytest.mark.parametrize(
    "other",
    ["other-bytes", "same-bytes-other-cut", "same-bytes-one-put"],
)
async def test_gauntlet_another_clients_object_at_the_key_is_not_taken_for_ours(
    target: Target,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    other: str,
    run: int,
) -> None:
    path = tmp_path / "f"
    data = write(path, SIZE)
    theirs = data if other.startswith("same-bytes") else os.urandom(SIZE)
    etags: list[str] = []

    def another_client() -> None:
        if other == "same-bytes-one-put":
            etags.append(other_put(target, "k", theirs))
        else:
            cut = 6 * MiB if other == "same-bytes-other-cut" else 5 * MiB
            etags.append(other_multipart(target, "k", theirs, cut))

    caplog.set_level(logging.INFO, logger="resilient_s3")
    with ChaosProxy(target.server.endpoint_url, faults=HELD_THEN_CUT) as proxy:
        with pytest.raises(RetriesExhaustedError):
            await upload(
                target,
                proxy.endpoint_url,
                path,
                "k",
                backend=interloping(target, another_client),
            )
        stats = proxy.stats
    assert stats.forwarded["CompleteMultipartUpload"] == 1  # ours completed, then theirs
    assert stats.requests["HeadObject"] == 1
    found = head(target, "k")
    assert found["ETag"] == etags[0]  # the other client's object is there, untouched
    assert found["Metadata"] == {}
    assert stored_sha256(target.client, target.bucket, "k") == sha256(theirs)
    assert not [r for r in caplog.records if CONFIRMED in r.getMessage()]
    assert any("not confirmed as this upload's object" in r.getMessage() for r in caplog.records)
    assert open_uploads(target.client, target.bucket) == []


@pytest.mark.parametrize("token", [False, True], ids=["by-content", "with-token"])
async def test_a_byte_equal_object_cut_the_same_is_told_apart_only_by_the_token(
    target: Target, tmp_path: Path, token: bool
) -> None:
    """The documented limit: another client writing exactly these bytes in exactly these parts
    while our answer is held leaves the key as the caller asked (these bytes), and without a
    token nothing can tell the two uploads apart. ``completion_token=True`` can."""
    path = tmp_path / "f"
    data = write(path, SIZE)
    config = UploadConfig(
        multipart_threshold=5 * MiB, part_size=5 * MiB, read_timeout=2.0, completion_token=token
    )
    with ChaosProxy(target.server.endpoint_url, faults=HELD_THEN_CUT) as proxy:
        same = interloping(target, lambda: other_multipart(target, "k", data, 5 * MiB))
        if token:
            with pytest.raises(RetriesExhaustedError):
                await upload(target, proxy.endpoint_url, path, "k", config=config, backend=same)
        else:
            result = await upload(
                target, proxy.endpoint_url, path, "k", config=config, backend=same
            )
            assert result.etag == head(target, "k")["ETag"]
    assert stored_sha256(target.client, target.bucket, "k") == sha256(data)


@pytest.mark.parametrize("written", ["just-before", "seconds-before"])
async def test_an_equal_object_there_before_this_upload_is_not_taken_for_ours(
    target: Target, tmp_path: Path, caplog: pytest.LogCaptureFixture, written: str
) -> None:
    """The key already holds these very bytes, cut the same way (the same file uploaded
    before); this upload's CompleteMultipartUpload never arrives. The upload still open
    (ListParts lists it) rules the object out, and an older LastModified does before that."""
    path = tmp_path / "f"
    data = write(path, SIZE)
    before = await upload(target, target.server.endpoint_url, path, "k")
    if written == "seconds-before":
        await anyio.sleep(3.5)
    never = [complete(FaultKind.RESET, after_bytes=0)]
    caplog.set_level(logging.INFO, logger="resilient_s3")
    with ChaosProxy(target.server.endpoint_url, faults=never) as proxy:
        with pytest.raises(RetriesExhaustedError):
            await upload(target, proxy.endpoint_url, path, "k")
        stats = proxy.stats
    found = head(target, "k")
    assert found["ETag"] == before.etag  # the same object: same bytes, same parts
    assert stored_sha256(target.client, target.bucket, "k") == sha256(data)
    why = "before this upload started" if written == "seconds-before" else "is still open"
    assert any(why in r.getMessage() for r in caplog.records), caplog.text
    assert stats.requests.get("ListParts", 0) == (1 if written == "just-before" else 0)
    assert open_uploads(target.client, target.bucket) == []


@pytest.mark.parametrize("token", [False, True], ids=["by-content", "with-token"])
async def test_a_conditional_put_does_not_claim_another_clients_object(
    target: Target, tmp_path: Path, token: bool
) -> None:
    """Our conditional PUT lands, its answer is held; another client overwrites the key; our
    retry is refused 412. Other bytes are not ours by their checksum; equal bytes only by the
    token (without it they hold exactly what was asked: see the multipart test above)."""
    path = tmp_path / "f"
    data = write(path, SMALL)
    theirs = data if token else os.urandom(SMALL)
    config = UploadConfig(read_timeout=2.0, completion_token=token)
    held = [put(FaultKind.HOLD_ANSWER, seconds=HOLD, limit=1)]
    overwriting = interloping(target, lambda: other_put(target, "k", theirs))
    with (
        ChaosProxy(target.server.endpoint_url, faults=held) as proxy,
        pytest.raises(ObjectExistsError),
    ):
        await upload(
            target,
            proxy.endpoint_url,
            path,
            "k",
            overwrite=False,
            config=config,
            backend=overwriting,
        )
    assert stored_sha256(target.client, target.bucket, "k") == sha256(theirs)
    assert head(target, "k")["Metadata"] == {}


async def test_a_slow_server_is_not_mistaken_for_an_old_object(
    target: Target, tmp_path: Path
) -> None:
    """LastModified is compared on the server's own clock (HeadObject's Date): an upload that
    took longer than the slack between its start and its lost completion is still confirmed."""
    path = tmp_path / "f"
    data = write(path, SIZE)
    slow = Fault(FaultKind.DELAY, 1.0, {"CreateMultipartUpload"}, seconds=3.5)
    config = UploadConfig(multipart_threshold=5 * MiB, part_size=5 * MiB)
    with ChaosProxy(
        target.server.endpoint_url, faults=[slow, complete(FaultKind.LOSE_RESPONSE)]
    ) as proxy:
        started = time.monotonic()
        result = await upload(target, proxy.endpoint_url, path, "k", config=config)
    assert time.monotonic() - started > 3.5
    assert result.etag == head(target, "k")["ETag"]
    assert stored_sha256(target.client, target.bucket, "k") == sha256(data)


async def test_a_presigned_upload_whose_completion_was_lost_is_confirmed_the_same_way(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    """A client without credentials: the backend's Complete answers are lost (it retries, then
    fails), and HeadObject and ListParts come through the sign callable too."""
    path = tmp_path / "f"
    data = write(path, SIZE)
    lost = complete(FaultKind.LOSE_RESPONSE)
    with ChaosProxy(s3_server.endpoint_url, faults=[lost]) as proxy:
        async with AsyncPresigner(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url
        ) as signer:

            async def sign(request: SignRequest) -> Any:
                return await signer.answer(request, bucket=s3_bucket)

            config = UploadConfig(
                multipart_threshold=5 * MiB, part_size=5 * MiB, journal_dir=str(tmp_path / "j")
            )
            async with AsyncPresignedUploader(sign, config) as up:
                result = await up.upload_file(path, "k", metadata=METADATA)
        stats = proxy.stats
    assert stats.requests["HeadObject"] == 1
    assert stats.requests["ListParts"] == 1  # the upload is gone: completed
    found = s3_client.head_object(Bucket=s3_bucket, Key="k")
    assert found["Metadata"] == METADATA
    assert result.etag == found["ETag"]
    assert stored_sha256(s3_client, s3_bucket, "k") == sha256(data)
    assert open_uploads(s3_client, s3_bucket) == []
