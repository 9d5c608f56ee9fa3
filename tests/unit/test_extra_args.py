"""extra_args as boto3 takes them (issue 20): the same names allowed, each sent only to the
operations s3transfer sends it to, the caller's checksum arguments read as S3 can honour them,
and no Python error on the way from extra_args to a request (a loopback listener answers)."""

from __future__ import annotations

import datetime
import hashlib
import importlib
import io
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.httpchecksum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilient_s3 import (
    InvalidUploadError,
    ResilientUploader,
    UploadConfig,
    UploadError,
)
from resilient_s3._upload.arguments import (
    ChecksumChoice,
    allowed_upload_args,
    check_names,
    choose_checksum,
    complete_args,
    create_args,
    full_object_names,
    part_args,
    put_object_args,
)
from resilient_s3._upload.checksums import CHECKSUM_KINDS, KINDS, b64
from s3_helpers import RawS3

MiB = 1024 * 1024
# s3transfer has no type information: read through importlib, as Any.
_MANAGER: Any = importlib.import_module("s3transfer.manager").TransferManager
_SUBMISSION: Any = importlib.import_module("s3transfer.upload").UploadSubmissionTask
DEFAULT = CHECKSUM_KINDS["CRC64NVME"]
_PUT_OBJECT_MEMBERS = frozenset(
    boto3.Session()
    .client("s3", region_name="us-east-1")
    .meta.service_model.operation_model("PutObject")
    .input_shape.members
)
"""What the installed botocore's model knows (aioboto3's older botocore knows fewer checksums)."""


def test_the_allowed_arguments_are_boto3s() -> None:
    assert allowed_upload_args() == set(_MANAGER.ALLOWED_UPLOAD_ARGS)
    check_names({name: None for name in _MANAGER.ALLOWED_UPLOAD_ARGS})


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Foo", "not an argument of an upload"),
        ("ContentTyp", "did you mean 'ContentType'"),
        ("Bucket", "sets it itself"),
        ("ContentMD5", "checksum of the whole object"),
        ("IfNoneMatch", "overwrite=False"),
        ("BucketKeyEnabled", "not an argument of an upload"),
        (7, "not an argument of an upload"),
    ],
)
def test_what_boto3_refuses_is_named(name: Any, why: str) -> None:
    with pytest.raises(InvalidUploadError, match=why) as raised:
        check_names({"ContentType": "a/b", name: "x"})
    assert repr(name) in str(raised.value)


def test_each_argument_goes_where_s3transfer_sends_it() -> None:
    """s3transfer's blocklists and lists, request by request. Two differences, by design: the
    checksum algorithm and a caller's full-object value are sent by PutObject and UploadPart
    from the body's digest (the one checksum header: the value was checked to equal it), and
    CompleteMultipartUpload carries the one full-object value the upload has."""
    full = {name: "x" for name in full_object_names()}
    args = {name: "x" for name in allowed_upload_args()}
    choice = ChecksumChoice(KINDS["CRC32"], "AAAAAA==", "FULL_OBJECT", True, 5)
    from_the_digest = {"ChecksumAlgorithm", *full}

    put = set(put_object_args(args))
    assert put | from_the_digest == set(args) - set(_SUBMISSION.PUT_OBJECT_BLOCKLIST)
    assert not put & from_the_digest

    created = create_args(args, choice)
    assert set(created) == set(args) - set(_SUBMISSION.CREATE_MULTIPART_BLOCKLIST)
    assert (created["ChecksumAlgorithm"], created["ChecksumType"]) == ("CRC32", "FULL_OBJECT")

    parts = set(part_args(args))
    assert parts | {"ChecksumAlgorithm"} == set(_SUBMISSION.UPLOAD_PART_ARGS)

    one_value = {k: v for k, v in args.items() if k not in full} | {"ChecksumCRC32": "AAAAAA=="}
    completed = complete_args(one_value, choice) | {"ChecksumCRC32": "AAAAAA=="}  # the commit's
    wanted = set(one_value) & set(_SUBMISSION.COMPLETE_MULTIPART_ARGS)
    assert set(completed) == wanted
    assert completed["MpuObjectSize"] == 5


@pytest.mark.parametrize(
    ("args", "algorithm", "full_object", "multipart_type", "problem"),
    [
        ({}, "CRC64NVME", None, "FULL_OBJECT", None),
        ({"ChecksumAlgorithm": "sha1"}, "SHA1", None, "COMPOSITE", None),
        ({"ChecksumAlgorithm": "CRC32"}, "CRC32", None, "FULL_OBJECT", None),
        ({"ChecksumCRC32C": "AAAAAA=="}, "CRC32C", "AAAAAA==", "FULL_OBJECT", None),
        ({"ChecksumSHA256": b64(bytes(32))}, "SHA256", b64(bytes(32)), "FULL_OBJECT", "CRC32"),
        ({"ChecksumMD5": b64(bytes(16))}, "MD5", b64(bytes(16)), "FULL_OBJECT", "CRC32"),
        ({"ChecksumAlgorithm": "SHA512"}, "SHA512", None, "COMPOSITE", "no way"),
        ({"ChecksumType": "COMPOSITE"}, "CRC32", None, "COMPOSITE", None),  # as boto3's default
        ({"ChecksumType": "FULL_OBJECT"}, "CRC64NVME", None, "FULL_OBJECT", None),
        (
            {"ChecksumAlgorithm": "CRC64NVME", "ChecksumType": "COMPOSITE"},
            "CRC64NVME",
            None,
            "COMPOSITE",
            "only as ChecksumType FULL_OBJECT",
        ),
        (
            {"ChecksumCRC32": "AAAAAA==", "ChecksumType": "COMPOSITE"},
            "CRC32",
            "AAAAAA==",
            "COMPOSITE",
            "not COMPOSITE",
        ),
    ],
)
def test_what_the_arguments_ask_of_the_checksum(
    args: dict[str, Any],
    algorithm: str,
    full_object: str | None,
    multipart_type: str,
    problem: str | None,
) -> None:
    if f"Checksum{algorithm}" not in _PUT_OBJECT_MEMBERS:
        pytest.skip(f"botocore {botocore.__version__}'s model has no {algorithm} checksum")
    choice = choose_checksum(args, DEFAULT)
    assert choice.kind.algorithm == algorithm
    assert choice.full_object == full_object
    assert choice.multipart_type == multipart_type
    found = choice.multipart_problem()
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ({"ChecksumAlgorithm": "NOPE"}, "ChecksumAlgorithm"),
        ({"ChecksumAlgorithm": "MD5"}, "ChecksumAlgorithm"),  # boto3 cannot compute it either
        ({"ChecksumAlgorithm": None}, "ChecksumAlgorithm"),
        ({"ChecksumAlgorithm": "CRC32", "ChecksumSHA1": b64(bytes(20))}, "ChecksumSHA1"),
        ({"ChecksumCRC32": "AAAAAA==", "ChecksumCRC32C": "AAAAAA=="}, "ChecksumCRC32"),
        ({"ChecksumCRC32": "AAAAAAA="}, "ChecksumCRC32"),  # 5 bytes
        ({"ChecksumCRC32": "AAAA AA=="}, "ChecksumCRC32"),
        ({"ChecksumCRC32": b"AAAAAA=="}, "ChecksumCRC32"),
        ({"ChecksumType": "full_object"}, "ChecksumType"),
        ({"ChecksumType": None}, "ChecksumType"),
        ({"MpuObjectSize": -1}, "MpuObjectSize"),
        ({"MpuObjectSize": True}, "MpuObjectSize"),
        ({"MpuObjectSize": 1.0}, "MpuObjectSize"),
    ],
)
def test_checksum_arguments_s3_could_not_honour_are_refused(
    args: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidUploadError, match=named):
        choose_checksum(args, DEFAULT)


@pytest.mark.parametrize("algorithm", sorted(KINDS))
def test_every_algorithm_computes_as_botocore_and_hashlib(algorithm: str) -> None:
    data = bytes(range(256)) * 4099
    kind = KINDS[algorithm]
    reference = botocore.httpchecksum._CHECKSUM_CLS.get(algorithm.lower())
    if reference is not None:
        checksum = reference()
        checksum.update(data)
        assert kind.digest(data) == checksum.digest()
    elif algorithm.lower() in hashlib.algorithms_available:
        assert kind.digest(data) == hashlib.new(algorithm.lower(), data).digest()
    else:
        pytest.skip(f"neither botocore {botocore.__version__} nor hashlib computes {algorithm}")
    assert len(kind.digest(data)) == kind.width


# -- no Python error on the way to a request ----------------------------------------------------

_ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["AAAAAA==", "FULL_OBJECT", "COMPOSITE", "CRC32", "sha1", "*", "a\r\nb"]),
    st.sampled_from(["2030-01-01", "99999999999999999999-01-01", "1e400", "-inf", "٣"]),
    st.binary(max_size=40),
    st.datetimes(timezones=st.just(datetime.UTC)),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(
        st.one_of(st.text(max_size=5), st.integers()),
        st.one_of(st.text(max_size=5), st.integers(), st.none()),
        max_size=3,
    ),
)
_NAMES = st.one_of(
    st.sampled_from(sorted(allowed_upload_args())),
    st.sampled_from(["Foo", "Bucket", "Body", "IfNoneMatch", "ContentMD5", "BucketKeyEnabled"]),
)


@pytest.fixture(scope="module")
def raw() -> Iterator[RawS3]:
    with RawS3() as listener:
        yield listener


def test_no_python_error_escapes_from_extra_args(raw: RawS3) -> None:
    """Any value of any argument, single PUT or multipart: the upload succeeds (the listener
    answers every request 200) or raises an UploadError; an InvalidUploadError before any
    request. (A ChecksumType sent twice to CreateMultipartUpload was a TypeError.)"""
    session = boto3.Session(
        aws_access_key_id=raw.access_key,
        aws_secret_access_key=raw.secret_key,
        region_name="us-east-1",
    )
    config = UploadConfig(
        multipart_threshold=5 * MiB, part_size=5 * MiB, max_attempts=1, resume=False
    )
    data = {False: b"x" * 100, True: b"x" * (5 * MiB + 1)}
    with ResilientUploader(session, endpoint_url=raw.endpoint_url, config=config) as up:

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(
            args=st.dictionaries(_NAMES, _ANY_VALUE, min_size=1, max_size=3),
            multipart=st.booleans(),
        )
        def check(args: dict[str, Any], multipart: bool) -> None:
            before = len(raw.requests)
            try:
                up.upload_fileobj(io.BytesIO(data[multipart]), "bucket", "key", args)
            except InvalidUploadError:
                assert len(raw.requests) == before, f"{args!r}: refused after a request"
            except UploadError:
                pass
            finally:
                raw.received.clear()

        check()
