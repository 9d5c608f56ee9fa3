"""The caller's checksum arguments (issue 20), against SeaweedFS and moto.

A checksum of the whole object given in ``extra_args`` (``ChecksumCRC32``...) decides the
upload's algorithm and is the one object checksum sent: a wrong one ends in ``IntegrityError``
with nothing stored and nothing left open; a right one is what the server stores.
``ChecksumAlgorithm`` chooses the algorithm per call; ``ChecksumType`` and ``MpuObjectSize`` go
only to the requests that take them; what boto3 refuses is refused before any request.

What each server checks itself (``test_the_server_checks_*``, which send it a wrong value past
the uploader's own check): SeaweedFS 4.48 answers BadDigest to a PutObject whose CRC32, CRC32C,
CRC64NVME, SHA1 or SHA256 does not match, and to a CompleteMultipartUpload whose FULL_OBJECT
CRC does not (leaving the upload open); it ignores SHA512, MD5 and xxHash values and
``MpuObjectSize``. moto 5.2 checks none of them and stores the object.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from resilient_s3 import (
    IntegrityError,
    InvalidUploadError,
    ResilientUploader,
    UploadConfig,
    UploadError,
)
from resilient_s3._upload.checksums import KINDS, b64
from s3_helpers import RecordedRequest, RecordingProxy, Target, Unseekable, Wrapped, open_uploads

MiB = 1024 * 1024
CONFIG = UploadConfig(multipart_threshold=5 * MiB, part_size=5 * MiB, max_attempts=3)
SIZES = {"single": 1000, "multipart": 11 * MiB}  # one PUT; three parts
CHECKSUM_HEADERS = frozenset(kind.header for kind in KINDS.values())
"""Headers that carry a checksum value (not ``x-amz-checksum-type`` or ``-algorithm``)."""
STORED_BY = {
    # What HeadObject(ChecksumMode=ENABLED) reports after a single PUT (moto: when told the
    # algorithm, which resilient-s3 always does).
    "seaweedfs": {"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"},
    "moto": {"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"},
}


@pytest.fixture
def proxy(target: Target) -> Iterator[RecordingProxy]:
    with RecordingProxy(target.server.endpoint_url) as recording:
        yield recording


def uploader(target: Target, proxy: RecordingProxy, **hooks: Any) -> ResilientUploader:
    return ResilientUploader(
        session=target.session, endpoint_url=proxy.endpoint_url, config=CONFIG, **hooks
    )


def upload(
    target: Target,
    proxy: RecordingProxy,
    data: bytes,
    key: str,
    extra_args: Mapping[str, Any],
    **hooks: Any,
) -> tuple[Any, list[RecordedRequest]]:
    """The result (or the exception) of uploading ``data`` to ``key``, and every request."""
    proxy.take()
    with uploader(target, proxy, **hooks) as up:
        try:
            outcome: Any = up.upload_fileobj(io.BytesIO(data), target.bucket, key, extra_args)
        except Exception as exc:  # the tests look at which
            outcome = exc
    return outcome, proxy.take()


def digest(algorithm: str, data: bytes) -> str:
    return b64(KINDS[algorithm].digest(data))


def head(target: Target, key: str) -> dict[str, Any] | None:
    try:
        answer: dict[str, Any] = target.client.head_object(
            Bucket=target.bucket, Key=key, ChecksumMode="ENABLED"
        )
    except target.client.exceptions.ClientError:
        return None
    return answer


def operations(requests: Sequence[RecordedRequest]) -> list[str]:
    return [request.operation for request in requests]


def sent(requests: Sequence[RecordedRequest], operation: str) -> list[dict[str, str]]:
    return [r.headers for r in requests if r.operation == operation]


def checksum_values(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name in CHECKSUM_HEADERS}


def stored_nothing(target: Target, key: str) -> None:
    assert head(target, key) is None, "an object was stored"
    assert not open_uploads(target.client, target.bucket), "a multipart upload was left open"


# -- the caller's checksum of the whole object ------------------------------------------------


@pytest.mark.parametrize("strategy", list(SIZES))
@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_a_wrong_checksum_stores_nothing(
    target: Target, proxy: RecordingProxy, algorithm: str, strategy: str
) -> None:
    data = os.urandom(SIZES[strategy])
    wrong = digest(algorithm, data + b"!")
    key = f"wrong-{algorithm}-{strategy}"
    error, requests = upload(target, proxy, data, key, {f"Checksum{algorithm}": wrong})
    assert isinstance(error, IntegrityError), error
    assert wrong in str(error)
    assert f"Checksum{algorithm}" in str(error)
    stored_nothing(target, key)
    if strategy == "single":  # checked before a byte is sent
        assert "PutObject" not in operations(requests)
    else:  # the parts' CRCs combine into another value: never completed, aborted
        assert "CompleteMultipartUpload" not in operations(requests)
        assert "AbortMultipartUpload" in operations(requests)


@pytest.mark.parametrize("strategy", list(SIZES))
@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_a_right_checksum_is_the_one_sent_and_stored(
    target: Target, proxy: RecordingProxy, algorithm: str, strategy: str
) -> None:
    data = os.urandom(SIZES[strategy])
    value = digest(algorithm, data)
    key = f"right-{algorithm}-{strategy}"
    result, requests = upload(target, proxy, data, key, {f"Checksum{algorithm}": value})
    assert not isinstance(result, Exception), result
    assert (result.checksum.algorithm, result.checksum.value) == (algorithm, value)
    assert result.checksum.type == "FULL_OBJECT"
    stored = head(target, key)
    assert stored is not None
    assert stored[f"Checksum{algorithm}"] == value
    header = KINDS[algorithm].header
    if strategy == "single":
        (put,) = sent(requests, "PutObject")
        assert checksum_values(put) == {header: value}  # the caller's, and no other
    else:
        assert result.strategy == "multipart"
        (create,) = sent(requests, "CreateMultipartUpload")
        assert create["x-amz-checksum-algorithm"] == algorithm
        assert create["x-amz-checksum-type"] == "FULL_OBJECT"
        assert checksum_values(create) == {}
        parts = sent(requests, "UploadPart")
        assert len(parts) == 3
        assert all(list(checksum_values(part)) == [header] for part in parts)  # their own
        (complete,) = sent(requests, "CompleteMultipartUpload")
        assert checksum_values(complete) == {header: value}
        assert complete["x-amz-checksum-type"] == "FULL_OBJECT"
        assert stored["ChecksumType"] == "FULL_OBJECT"
    assert target.client.get_object(Bucket=target.bucket, Key=key)["Body"].read() == data


@pytest.mark.parametrize("algorithm", sorted(set(KINDS) - {"CRC32", "CRC32C", "CRC64NVME"}))
def test_a_hash_of_the_whole_object_goes_with_a_single_put(
    target: Target, proxy: RecordingProxy, algorithm: str
) -> None:
    data = os.urandom(SIZES["single"])
    value = digest(algorithm, data)
    result, requests = upload(
        target, proxy, data, f"hash-{algorithm}", {f"Checksum{algorithm}": value}
    )
    assert not isinstance(result, Exception), result
    assert (result.checksum.algorithm, result.checksum.value) == (algorithm, value)
    (put,) = sent(requests, "PutObject")
    assert checksum_values(put) == {KINDS[algorithm].header: value}
    stored = head(target, f"hash-{algorithm}")
    assert stored is not None
    if algorithm in STORED_BY[target.name]:
        assert stored[f"Checksum{algorithm}"] == value
    wrong = digest(algorithm, data + b"!")
    error, requests = upload(
        target, proxy, data, f"hash-wrong-{algorithm}", {f"Checksum{algorithm}": wrong}
    )
    assert isinstance(error, IntegrityError), error
    assert not requests
    stored_nothing(target, f"hash-wrong-{algorithm}")


@pytest.mark.parametrize("algorithm", ["SHA1", "SHA256", "SHA512", "MD5"])
def test_a_hash_of_the_whole_object_cannot_go_in_parts(
    target: Target, proxy: RecordingProxy, algorithm: str
) -> None:
    """S3 checks a multipart object's hash only as a checksum of its parts' checksums: a
    caller's value of the whole object could not be checked, so it is refused at once."""
    data = os.urandom(SIZES["multipart"])
    args = {f"Checksum{algorithm}": digest(algorithm, data)}
    error, requests = upload(target, proxy, data, f"parts-{algorithm}", args)
    assert isinstance(error, InvalidUploadError), error
    assert f"Checksum{algorithm}" in str(error)
    assert "multipart_threshold" in str(error)
    assert not requests


# -- what the servers check themselves ----------------------------------------------------------


class WrongPutChecksum(Wrapped):
    """Sends every PutObject with another checksum than the body's (as if the body had changed
    on the way): only the server can notice."""

    async def put_object(self, where: Any, body: Any, digest: Any, *rest: Any) -> Any:
        flipped = bytes([digest.checksum[0] ^ 1]) + digest.checksum[1:]
        return await self.inner.put_object(
            where, body, dataclasses.replace(digest, checksum=flipped), *rest
        )


class WrongCompleteChecksum(Wrapped):
    """Sends CompleteMultipartUpload with another full-object checksum than the parts make."""

    async def complete_multipart(self, where: Any, parts: Any, args: Mapping[str, Any]) -> Any:
        changed = dict(args)
        for name, value in args.items():
            if name.startswith("Checksum") and name != "ChecksumType":
                raw = bytearray(base64.b64decode(value))
                raw[0] ^= 1
                changed[name] = b64(bytes(raw))
        return await self.inner.complete_multipart(where, parts, changed)


def test_the_server_checks_a_single_puts_checksum(target: Target, proxy: RecordingProxy) -> None:
    data = os.urandom(SIZES["single"])
    args = {"ChecksumCRC32": digest("CRC32", data)}
    outcome, requests = upload(target, proxy, data, "server-put", args, _backend=WrongPutChecksum)
    if target.name == "moto":  # moto checks nothing: it stores what it was sent
        assert head(target, "server-put") is not None
        return
    assert isinstance(outcome, IntegrityError), outcome
    assert "BadDigest" in str(outcome)
    assert operations(requests).count("PutObject") == 2  # read again and resent once
    stored_nothing(target, "server-put")


def test_the_server_checks_a_multipart_uploads_full_object_checksum(
    target: Target, proxy: RecordingProxy
) -> None:
    data = os.urandom(SIZES["multipart"])
    args = {"ChecksumCRC64NVME": digest("CRC64NVME", data)}
    outcome, requests = upload(
        target, proxy, data, "server-complete", args, _backend=WrongCompleteChecksum
    )
    if target.name == "moto":  # moto stores the object whatever the checksum
        assert head(target, "server-complete") is not None
        return
    assert isinstance(outcome, IntegrityError), outcome
    assert "BadDigest" in str(outcome)
    assert "AbortMultipartUpload" in operations(requests)
    stored_nothing(target, "server-complete")


# -- ChecksumAlgorithm, ChecksumType, MpuObjectSize --------------------------------------------


@pytest.mark.parametrize("strategy", list(SIZES))
@pytest.mark.parametrize("algorithm", ["SHA1", "CRC32C"])
def test_checksum_algorithm_per_call(
    target: Target, proxy: RecordingProxy, algorithm: str, strategy: str
) -> None:
    data = os.urandom(SIZES[strategy])
    key = f"algorithm-{algorithm}-{strategy}"
    result, requests = upload(target, proxy, data, key, {"ChecksumAlgorithm": algorithm})
    assert not isinstance(result, Exception), result
    kind = KINDS[algorithm]
    assert result.checksum.algorithm == algorithm
    bodies = sent(requests, "PutObject" if strategy == "single" else "UploadPart")
    assert bodies
    assert all(list(checksum_values(b)) == [kind.header] for b in bodies)
    assert all(b["x-amz-sdk-checksum-algorithm"] == algorithm for b in bodies)
    stored = head(target, key)
    assert stored is not None
    if strategy == "single":
        assert stored[kind.param] == result.checksum.value == digest(algorithm, data)
    else:
        (create,) = sent(requests, "CreateMultipartUpload")
        assert create["x-amz-checksum-algorithm"] == algorithm
        assert create["x-amz-checksum-type"] == kind.multipart_type
        if target.name == "seaweedfs":  # moto reports no type-aware value for every case
            assert stored[kind.param] == result.checksum.value


def test_checksum_algorithm_is_validated(target: Target, proxy: RecordingProxy) -> None:
    for value in ("NOPE", "MD5", 32, ""):
        error, requests = upload(target, proxy, b"x", "bad-algorithm", {"ChecksumAlgorithm": value})
        assert isinstance(error, InvalidUploadError), error
        assert "ChecksumAlgorithm" in str(error)
        assert not requests
    error, requests = upload(
        target,
        proxy,
        b"x",
        "two-algorithms",
        {"ChecksumAlgorithm": "SHA256", "ChecksumCRC32": digest("CRC32", b"x")},
    )
    assert isinstance(error, InvalidUploadError), error
    assert "ChecksumCRC32" in str(error)
    assert not requests


@pytest.mark.parametrize("composite", [True, False], ids=["composite-crc32", "size-only"])
@pytest.mark.parametrize("strategy", list(SIZES))
def test_checksum_type_and_object_size_go_where_they_belong(
    target: Target, proxy: RecordingProxy, strategy: str, composite: bool
) -> None:
    data = os.urandom(SIZES[strategy])
    key = f"routed-{strategy}-{composite}"
    args: dict[str, Any] = {"MpuObjectSize": len(data)}
    if composite:
        args.update(ChecksumAlgorithm="CRC32", ChecksumType="COMPOSITE")
    result, requests = upload(target, proxy, data, key, args)
    assert not isinstance(result, Exception), result
    for request in requests:  # boto3's routing (s3transfer's blocklists)
        carries = {
            n for n in ("x-amz-checksum-type", "x-amz-mp-object-size") if n in request.headers
        }
        wanted = {
            "CreateMultipartUpload": {"x-amz-checksum-type"},
            "CompleteMultipartUpload": {"x-amz-checksum-type", "x-amz-mp-object-size"},
        }.get(request.operation, set())
        assert carries == wanted, (request.operation, request.headers)
    if strategy == "multipart":
        (create,) = sent(requests, "CreateMultipartUpload")
        (complete,) = sent(requests, "CompleteMultipartUpload")
        assert complete["x-amz-mp-object-size"] == str(len(data))
        checksum_type = "COMPOSITE" if composite else "FULL_OBJECT"
        assert create["x-amz-checksum-type"] == complete["x-amz-checksum-type"] == checksum_type
        assert result.checksum.type == checksum_type
        if composite:
            assert result.checksum.value.endswith("-3")
            stored = head(target, key)
            assert stored is not None
            if target.name == "seaweedfs":  # moto reports a CRC32 of the whole object
                assert stored["ChecksumCRC32"] == result.checksum.value
    stored_data = target.client.get_object(Bucket=target.bucket, Key=key)["Body"].read()
    assert stored_data == data


@pytest.mark.parametrize("strategy", list(SIZES))
def test_a_wrong_object_size_stores_nothing(
    target: Target, proxy: RecordingProxy, strategy: str
) -> None:
    data = os.urandom(SIZES[strategy])
    key = f"size-{strategy}"
    error, requests = upload(target, proxy, data, key, {"MpuObjectSize": len(data) + 1})
    assert isinstance(error, IntegrityError), error
    assert "MpuObjectSize" in str(error)
    assert not requests  # the size is known before anything is sent
    stored_nothing(target, key)


def test_a_stream_of_unknown_size_is_checked_once_it_proves_long(
    target: Target, proxy: RecordingProxy
) -> None:
    """What depends on going in parts is decided when the first part is read: still before any
    request."""
    data = os.urandom(SIZES["multipart"])
    proxy.take()
    with uploader(target, proxy) as up:
        args = {"ChecksumAlgorithm": "CRC64NVME", "ChecksumType": "COMPOSITE"}
        with pytest.raises(InvalidUploadError, match="COMPOSITE"):
            up.upload_fileobj(Unseekable(data), target.bucket, "stream", args)
        wrong = {"ChecksumCRC32": digest("CRC32", data + b"!"), "MpuObjectSize": len(data)}
        with pytest.raises(IntegrityError, match="ChecksumCRC32"):
            up.upload_fileobj(Unseekable(data), target.bucket, "stream", wrong)
        assert "PutObject" not in operations(proxy.take())
        with pytest.raises(IntegrityError, match="MpuObjectSize"):
            up.upload_fileobj(Unseekable(data), target.bucket, "stream", {"MpuObjectSize": 7})
        right = {"ChecksumCRC32": digest("CRC32", data), "MpuObjectSize": len(data)}
        result = up.upload_fileobj(Unseekable(data), target.bucket, "stream", right)
    assert result.strategy == "multipart"
    assert result.checksum is not None
    assert result.checksum.value == right["ChecksumCRC32"]
    assert not open_uploads(target.client, target.bucket)


# -- what boto3 refuses ---------------------------------------------------------------------------

REFUSED = {
    "Foo": 1,
    "Bucket": "other",
    "Key": "other",
    "ContentMD5": "1B2M2Y8AsgTpgAmY7PhCfg==",
    "ContentLength": 1,
    "IfNoneMatch": "*",
    "IfMatch": '"abc"',
    "BucketKeyEnabled": True,
    "WriteOffsetBytes": 0,
    "GrantWrite": "id=x",
    "ChecksumMode": "ENABLED",
}


@pytest.mark.parametrize("strategy", list(SIZES))
def test_what_boto3_refuses_is_refused_before_any_request(
    target: Target, proxy: RecordingProxy, strategy: str, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    path.write_bytes(os.urandom(SIZES[strategy]))
    proxy.take()
    with uploader(target, proxy) as up:
        for name, value in REFUSED.items():
            with pytest.raises(InvalidUploadError, match=name) as raised:
                up.upload_file(path, target.bucket, f"refused-{name}", {name: value})
            assert "nothing was sent" in str(raised.value)
            assert not isinstance(raised.value.__cause__, TypeError)
        for args in ({"Metadata": {"n": 1}}, {"Metadata": "a=b"}, ["ContentType"]):
            with pytest.raises(InvalidUploadError):
                up.upload_file(path, target.bucket, "refused", args)  # type: ignore[arg-type]
        with pytest.raises(InvalidUploadError, match="ChecksumCRC32"):
            up.upload_directory(tmp_path, target.bucket, "d/", {"ChecksumCRC32": "AAAAAA=="})
    assert not proxy.take()


def test_every_error_is_an_upload_error(target: Target, proxy: RecordingProxy) -> None:
    """Odd values for the arguments that once escaped as Python errors (a ChecksumType sent
    twice to CreateMultipartUpload was a TypeError)."""
    data = os.urandom(SIZES["multipart"])
    for args in (
        {"ChecksumType": "FULL_OBJECT"},
        {"ChecksumType": "full"},
        {"ChecksumType": None},
        {"MpuObjectSize": "12"},
        {"MpuObjectSize": True},
        {"ChecksumCRC32": 5},
        {"ChecksumCRC32": "not base64"},
        {"ChecksumCRC32": "AAAAAAAA"},
        {"Metadata": None},
        {"Metadata": {1: "x", "a": "b"}},
    ):
        outcome, _ = upload(target, proxy, data, "odd", args)
        if isinstance(outcome, Exception):
            assert isinstance(outcome, UploadError), (args, outcome)
