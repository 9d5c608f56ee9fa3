"""Parity with boto3 (issue 20): resilient-s3 is a drop-in for boto3's ``upload_file``.

For every key of s3transfer's ``TransferManager.ALLOWED_UPLOAD_ARGS``, read when the tests are
collected, the same random file goes up twice, once by boto3 and once by
``ResilientUploader``, single (1 MiB) and multipart (12 MiB in 5 MiB parts), by ``upload_file``
and ``upload_fileobj``, to moto's server and to SeaweedFS. Both clients go through a recording
proxy; the test then compares:

- the outcome: when boto3 succeeds resilient-s3 must; when boto3 fails resilient-s3 must raise an
  ``UploadError`` (an ``S3RequestError`` with the server's same code, or an
  ``InvalidUploadError`` sent before any request), and nothing it started may stay open;
- the objects: their bytes, a download with ``ChecksumMode="ENABLED"``, HeadObject (with
  ``ChecksumMode="ENABLED"`` and the SSE-C key where one was used), GetObjectTagging,
  GetObjectAcl (for ACL and grant arguments), GetObjectRetention and GetObjectLegalHold (for
  object-lock arguments);
- the headers that carry the argument, name and value, request by request (PutObject,
  CreateMultipartUpload, each UploadPart by its number, CompleteMultipartUpload): which
  requests are sent, and what each carries of the argument.

What legitimately differs is left out, and why is said where it is left out (``_IGNORED``,
``_checksum_problems``, ``_argument_headers``): mostly that when the caller names no checksum,
boto3 sends CRC32 (COMPOSITE for multipart) and resilient-s3 CRC64NVME (FULL_OBJECT), and that
resilient-s3's multipart uploads carry a completion token in their metadata.

Arguments boto3 refuses before sending anything (a key outside ``ALLOWED_UPLOAD_ARGS``) must be
refused by resilient-s3 before any request too.

A key without an entry in ``SAMPLES`` fails loudly, so that a new s3transfer key is noticed.
Over 500 lines because the sample table, the comparison rules and their reasons are one
specification, read together.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime
import hashlib
import importlib
import importlib.metadata
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import botocore.exceptions
import botocore.session
import pytest
from awscrt import checksums as crt
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from resilient_s3 import (
    InvalidUploadError,
    ResilientUploader,
    S3RequestError,
    UploadConfig,
    UploadError,
)
from resilient_s3._upload.evidence import TOKEN_METADATA
from s3_helpers import RecordedRequest, RecordingProxy, admin_session

MiB = 1024 * 1024
SIZES = {"single": 1 * MiB, "multipart": 12 * MiB}
THRESHOLD, PART_SIZE = 8 * MiB, 5 * MiB
# s3transfer has no type information: read through importlib, as Any.
_TRANSFER_MANAGER: Any = importlib.import_module("s3transfer.manager").TransferManager
ALLOWED: tuple[str, ...] = tuple(_TRANSFER_MANAGER.ALLOWED_UPLOAD_ARGS)
UPLOAD_OPERATIONS = ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")
_MODEL = botocore.session.get_session().get_service_model("s3")

# -- sample values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Env:
    """What a sample value may depend on: the file, and what the server reports or holds."""

    data: bytes
    customer_key: bytes  # an SSE-C key, 32 bytes
    account: str  # the account id the server reports (STS GetCallerIdentity)
    owner: str  # the canonical id of the bucket's owner, for grants
    kms_key: str  # a KMS key id, "" when the server has no KMS
    retain_until: datetime.datetime


Checksums = Literal["algorithm", "value", "type", "size"]


@dataclass(frozen=True)
class Sample:
    """A valid value for one key, as the extra_args of an upload (with what it cannot go
    without), the server features it needs, and which checksum argument it is, if one."""

    args: Callable[[Env], dict[str, Any]]
    needs: frozenset[str] = frozenset()
    checksum: Checksums | None = None


DIGESTS: dict[str, Callable[[bytes], bytes]] = {
    "CRC32": lambda d: crt.crc32(d).to_bytes(4, "big"),
    "CRC32C": lambda d: crt.crc32c(d).to_bytes(4, "big"),
    "CRC64NVME": lambda d: crt.crc64nvme(d).to_bytes(8, "big"),
    "MD5": lambda d: hashlib.md5(d, usedforsecurity=False).digest(),
    "SHA1": lambda d: hashlib.sha1(d, usedforsecurity=False).digest(),
    "SHA256": lambda d: hashlib.sha256(d).digest(),
    "SHA512": lambda d: hashlib.sha512(d).digest(),
    "XXHASH3": crt.XXHash.compute_xxhash3_64,  # as botocore computes them
    "XXHASH64": crt.XXHash.compute_xxhash64,
    "XXHASH128": crt.XXHash.compute_xxhash3_128,
}
"""The whole file's checksum, by S3 algorithm name."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _sse_c(env: Env) -> dict[str, Any]:
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": env.customer_key}


def _kms(env: Env) -> dict[str, Any]:
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": env.kms_key}


def _lock(env: Env) -> dict[str, Any]:
    return {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": env.retain_until}


def _full_object(algorithm: str) -> Sample:
    """The caller's own checksum of the whole file (s3transfer then sends parts with that
    algorithm and asks for a FULL_OBJECT checksum)."""
    return Sample(
        lambda env: {f"Checksum{algorithm}": b64(DIGESTS[algorithm](env.data))}, checksum="value"
    )


SAMPLES: dict[str, Sample] = {
    "ACL": Sample(lambda env: {"ACL": "public-read"}),
    "CacheControl": Sample(lambda env: {"CacheControl": "max-age=60"}),
    "ChecksumAlgorithm": Sample(lambda env: {"ChecksumAlgorithm": "CRC32"}, checksum="algorithm"),
    "ContentDisposition": Sample(lambda env: {"ContentDisposition": 'attachment; filename="a b"'}),
    "ContentEncoding": Sample(lambda env: {"ContentEncoding": "identity"}),
    "ContentLanguage": Sample(lambda env: {"ContentLanguage": "de-CH"}),
    "ContentType": Sample(lambda env: {"ContentType": "application/x-parity"}),
    "ExpectedBucketOwner": Sample(
        lambda env: {"ExpectedBucketOwner": env.account}, frozenset({"account"})
    ),
    "Expires": Sample(
        lambda env: {"Expires": datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)}
    ),
    "GrantFullControl": Sample(lambda env: {"GrantFullControl": f'id="{env.owner}"'}),
    "GrantRead": Sample(lambda env: {"GrantRead": f'id="{env.owner}"'}),
    "GrantReadACP": Sample(lambda env: {"GrantReadACP": f'id="{env.owner}"'}),
    "GrantWriteACP": Sample(lambda env: {"GrantWriteACP": f'id="{env.owner}"'}),
    "Metadata": Sample(lambda env: {"Metadata": {"a": "b", "parity-check": "yes"}}),
    "ObjectLockLegalHoldStatus": Sample(
        lambda env: {"ObjectLockLegalHoldStatus": "ON"}, frozenset({"object_lock"})
    ),
    "ObjectLockMode": Sample(_lock, frozenset({"object_lock"})),
    "ObjectLockRetainUntilDate": Sample(_lock, frozenset({"object_lock"})),
    "RequestPayer": Sample(lambda env: {"RequestPayer": "requester"}),
    "ServerSideEncryption": Sample(lambda env: {"ServerSideEncryption": "AES256"}),
    "StorageClass": Sample(lambda env: {"StorageClass": "STANDARD_IA"}),
    "SSECustomerAlgorithm": Sample(_sse_c),
    "SSECustomerKey": Sample(_sse_c),
    # With the MD5 given, botocore sends the key as it is: base64 already.
    "SSECustomerKeyMD5": Sample(
        lambda env: {
            "SSECustomerAlgorithm": "AES256",
            "SSECustomerKey": b64(env.customer_key),
            "SSECustomerKeyMD5": b64(DIGESTS["MD5"](env.customer_key)),
        }
    ),
    "SSEKMSKeyId": Sample(_kms, frozenset({"kms"})),
    "SSEKMSEncryptionContext": Sample(
        lambda env: {**_kms(env), "SSEKMSEncryptionContext": b64(b'{"purpose": "parity"}')},
        frozenset({"kms"}),
    ),
    "Tagging": Sample(lambda env: {"Tagging": "k=v&team=parity"}),
    "WebsiteRedirectLocation": Sample(lambda env: {"WebsiteRedirectLocation": "/x"}),
    "ChecksumType": Sample(lambda env: {"ChecksumType": "FULL_OBJECT"}, checksum="type"),
    "MpuObjectSize": Sample(lambda env: {"MpuObjectSize": len(env.data)}, checksum="size"),
    **{f"Checksum{algorithm}": _full_object(algorithm) for algorithm in DIGESTS},
    # Not in s3transfer 0.19's list, but asked for in issue 20: ready for when they are.
    "BucketKeyEnabled": Sample(
        lambda env: {**_kms(env), "BucketKeyEnabled": True}, frozenset({"kms"})
    ),
    "IfNoneMatch": Sample(lambda env: {"IfNoneMatch": "*"}),
}

KNOWN_SERVER_DEFECTS: dict[tuple[str, str, str], str] = {
    ("moto", f"Checksum{algorithm}", "multipart"): (
        f"moto accepts a FULL_OBJECT {algorithm} checksum of a multipart upload, which S3 "
        "refuses (InvalidRequest; SeaweedFS too): S3 checks a whole multipart object's "
        "checksum for CRC32, CRC32C and CRC64NVME only"
        + (
            "; and moto then reports the object's SHA-256 as that checksum, so boto3's own "
            "download with ChecksumMode fails"
            if algorithm not in ("SHA1", "SHA256")
            else ""
        )
    )
    for algorithm in ("SHA1", "SHA256", "SHA512", "XXHASH3", "XXHASH64", "XXHASH128")
}
"""(server, key, strategy) cases the server gets wrong for boto3 itself."""

_IGNORED = {
    "ResponseMetadata": "the exchange, not the object",
    "LastModified": "when each copy was written",
    "VersionId": "each upload is a version of its own (object-lock buckets are versioned)",
}
"""HeadObject fields that legitimately differ between the two uploads. ``Checksum*`` fields
are compared by ``_checksum_problems``, the ETag unless the object is encrypted with SSE-C or
SSE-KMS (its ETag is then not the MD5 of the bytes), the metadata without resilient-s3's
completion token."""

# -- the servers --------------------------------------------------------------------------------


@dataclass
class Side:
    """One server with everything the cases share: buckets, the proxy, both clients."""

    name: str
    client: Any  # straight to the server, retries off: reads what was stored
    bucket: str
    lock_bucket: str
    env: Env = field(repr=False)
    missing: dict[str, str]  # feature -> why this server does not have it
    proxy: RecordingProxy
    boto3: Any  # through the proxy
    resilient: ResilientUploader  # through the proxy
    files: dict[str, Path] = field(default_factory=dict, repr=False)
    data: dict[str, bytes] = field(default_factory=dict, repr=False)


def _answer(exc: botocore.exceptions.ClientError) -> str:
    """A refusal in one line: its status and code (an error body may be anything)."""
    status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    code = str(exc.response.get("Error", {}).get("Code"))
    return f"{exc.operation_name} answered {status}" + ("" if code == status else f" {code}")


@pytest.fixture(scope="module", params=[pytest.param("moto", marks=pytest.mark.moto), "seaweedfs"])
def side(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Side]:
    name: str = request.param
    server: Any = request.getfixturevalue("moto_server" if name == "moto" else "s3_server")
    client = server.boto3_client(config=Config(retries={"total_max_attempts": 1}))
    missing: dict[str, str] = {}
    bucket, lock_bucket = f"parity-{uuid.uuid4().hex[:12]}", f"parity-lock-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    try:
        client.create_bucket(Bucket=lock_bucket, ObjectLockEnabledForBucket=True)
    except botocore.exceptions.ClientError as exc:
        missing["object_lock"] = f"{name} creates no bucket with object lock ({_answer(exc)})"
    session = admin_session(server)
    kms_key = account = ""
    try:
        kms = session.client("kms", endpoint_url=server.endpoint_url)
        kms_key = kms.create_key(Description="parity")["KeyMetadata"]["KeyId"]
    except botocore.exceptions.ClientError as exc:
        missing["kms"] = f"{name} has no KMS to create a key in ({_answer(exc)})"
    try:
        sts = session.client("sts", endpoint_url=server.endpoint_url)
        account = sts.get_caller_identity()["Account"]
    except botocore.exceptions.ClientError as exc:
        missing["account"] = f"{name} reports no account id ({_answer(exc)})"
    env = Env(
        data=b"",
        customer_key=os.urandom(32),
        account=account,
        owner=client.get_bucket_acl(Bucket=bucket)["Owner"]["ID"],
        kms_key=kms_key,
        retain_until=datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        + datetime.timedelta(days=1),
    )
    config = UploadConfig(multipart_threshold=THRESHOLD, part_size=PART_SIZE, max_attempts=3)
    retries = Config(retries={"mode": "standard", "total_max_attempts": 3})
    with RecordingProxy(server.endpoint_url) as proxy:
        through = server.boto3_client(endpoint_url=proxy.endpoint_url, config=retries)
        with ResilientUploader(session, endpoint_url=proxy.endpoint_url, config=config) as up:
            here = Side(name, client, bucket, lock_bucket, env, missing, proxy, through, up)
            folder = tmp_path_factory.mktemp(f"parity-{name}")
            for strategy, size in SIZES.items():
                here.data[strategy] = os.urandom(size)
                here.files[strategy] = folder / strategy
                here.files[strategy].write_bytes(here.data[strategy])
            yield here
            through.close()
    with contextlib.suppress(botocore.exceptions.ClientError):
        for listed in client.list_objects_v2(Bucket=bucket).get("Contents", []):
            client.delete_object(Bucket=bucket, Key=listed["Key"])
        client.delete_bucket(Bucket=bucket)
    client.close()


# -- one upload by each client ------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One client's upload: its key, what it raised, and the requests the proxy saw."""

    key: str
    error: Exception | None
    requests: list[RecordedRequest]

    @property
    def sent(self) -> list[str]:
        return [request.operation for request in self.requests]


def _upload(
    side: Side, who: str, api: str, strategy: str, bucket: str, key: str, args: Mapping[str, Any]
) -> Outcome:
    path, extra = side.files[strategy], copy.deepcopy(dict(args))  # s3transfer adds to its copy
    transfer = TransferConfig(multipart_threshold=THRESHOLD, multipart_chunksize=PART_SIZE)
    side.proxy.take()
    error = None
    try:
        with path.open("rb") as stream:
            if who == "boto3" and api == "upload_file":
                side.boto3.upload_file(str(path), bucket, key, ExtraArgs=extra, Config=transfer)
            elif who == "boto3":
                side.boto3.upload_fileobj(stream, bucket, key, ExtraArgs=extra, Config=transfer)
            elif api == "upload_file":
                side.resilient.upload_file(path, bucket, key, extra_args=extra)
            else:
                side.resilient.upload_fileobj(stream, bucket, key, extra_args=extra)
    except Exception as exc:  # compared with the other client's below
        error = exc
    return Outcome(key, error, side.proxy.take())


def _server_code(error: BaseException) -> str | None:
    """The S3 error code of a boto3 failure (``S3UploadFailedError`` wraps the
    ``ClientError``), None when botocore or s3transfer refused it themselves."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, botocore.exceptions.ClientError):
            return str(seen.response.get("Error", {}).get("Code"))
        seen = seen.__cause__ or seen.__context__
    return None


def _failure_problems(side: Side, bucket: str, ref: Outcome, got: Outcome) -> list[str]:
    """boto3 failed: resilient-s3 must fail the same way, and leave nothing open."""
    why = f"boto3 failed ({ref.error!r}, after {ref.sent or 'no request'})"
    if got.error is None:
        return [f"{why}; resilient-s3 succeeded"]
    if not isinstance(got.error, UploadError):
        return [f"{why}; resilient-s3 raised {got.error!r}, not an UploadError"]
    problems = []
    if not ref.requests and got.requests:
        problems.append(f"{why}; resilient-s3 sent {got.sent} before raising {got.error!r}")
    if isinstance(got.error, InvalidUploadError) and got.requests:
        problems.append(f"resilient-s3 raised {got.error!r} after sending {got.sent}")
    code = _server_code(ref.error) if ref.error is not None else None
    if isinstance(got.error, S3RequestError) and code is not None and got.error.code != code:
        problems.append(f"{why}; resilient-s3's error has code {got.error.code}: {got.error!r}")
    listed = side.client.list_multipart_uploads(Bucket=bucket, Prefix=got.key)
    if listed.get("Uploads"):
        problems.append(f"resilient-s3 left its multipart upload open: {listed['Uploads']}")
    return problems


# -- comparing what was stored ------------------------------------------------------------------


def _read(call: Callable[..., Any], **params: Any) -> Any:
    """A read's answer without its metadata, or the error code it got."""
    try:
        answer = dict(call(**params))
    except botocore.exceptions.ClientError as exc:
        return f"error {exc.response.get('Error', {}).get('Code')}"
    answer.pop("ResponseMetadata", None)
    return answer


def _diff(what: str, ref: Mapping[str, Any], got: Mapping[str, Any]) -> list[str]:
    return [
        f"{what} {name}: boto3 {ref.get(name)!r}, resilient-s3 {got.get(name)!r}"
        for name in sorted(ref.keys() | got.keys())
        if ref.get(name) != got.get(name)
    ]


def _described(head: Mapping[str, Any], args: Mapping[str, Any]) -> dict[str, Any]:
    """The HeadObject fields that describe the object, as both uploads must leave them."""
    described = {
        k: v for k, v in head.items() if k not in _IGNORED and not k.startswith("Checksum")
    }
    metadata = dict(described.get("Metadata", {}))
    metadata.pop(TOKEN_METADATA, None)  # resilient-s3's completion token (docs/resilience.md)
    described["Metadata"] = metadata
    if "SSECustomerKey" in args or "SSEKMSKeyId" in args:
        described.pop("ETag", None)  # not the MD5 of the bytes: may differ per upload
    return described


def _stored_checksums(head: Mapping[str, Any]) -> dict[str, str]:
    return {
        k.removeprefix("Checksum"): v
        for k, v in head.items()
        if k.startswith("Checksum") and k != "ChecksumType"
    }


def _types(head: Mapping[str, Any]) -> dict[str, Any]:
    return {"ChecksumType": head.get("ChecksumType")}


def _checksum_problems(
    kind: Checksums | None, args: Mapping[str, Any], ref: Mapping[str, Any], got: Mapping[str, Any]
) -> list[str]:
    """HeadObject's checksums, compared as far as the caller chose them. When the caller names
    no checksum, the defaults legitimately differ (boto3 CRC32, COMPOSITE for multipart;
    resilient-s3 CRC64NVME, FULL_OBJECT): each is then only checked by its download."""
    sums = {"boto3": _stored_checksums(ref), "resilient-s3": _stored_checksums(got)}
    problems = []
    if kind == "algorithm":  # the algorithm is the caller's; a multipart type is not
        chosen = args["ChecksumAlgorithm"]
        for who, stored in sums.items():
            if set(stored) != {chosen}:
                problems.append(f"{who} stored checksums {stored}, not one {chosen}")
        if ref.get("ChecksumType") == got.get("ChecksumType"):
            problems += _diff("HeadObject checksum", sums["boto3"], sums["resilient-s3"])
    elif kind == "value":  # the caller's value of the whole object: kept, or at least not lost
        ((name, value),) = ((k, v) for k, v in args.items() if k.startswith("Checksum"))
        chosen = name.removeprefix("Checksum")
        for who, stored in sums.items():
            if any(algorithm != chosen or v != value for algorithm, v in stored.items()):
                problems.append(
                    f"{who} stored checksums {stored}, expected at most {chosen} {value}"
                )
        if not set(sums["boto3"]) <= set(sums["resilient-s3"]):
            problems += _diff("HeadObject checksum", sums["boto3"], sums["resilient-s3"])
        if ref.get("ChecksumType") and got.get("ChecksumType") != ref.get("ChecksumType"):
            problems += _diff("HeadObject", _types(ref), _types(got))
    elif kind == "type":
        problems += _diff("HeadObject", _types(ref), _types(got))
    return problems


def _object_problems(
    side: Side,
    bucket: str,
    args: Mapping[str, Any],
    sample: Sample,
    data: bytes,
    ref: Outcome,
    got: Outcome,
) -> list[str]:
    client, problems = side.client, []
    sse_c = {k: v for k, v in args.items() if k.startswith("SSECustomer")}
    heads = []
    for who, outcome in (("boto3", ref), ("resilient-s3", got)):
        where = {"Bucket": bucket, "Key": outcome.key}
        heads.append(_read(client.head_object, **where, ChecksumMode="ENABLED", **sse_c))
        try:
            answer = client.get_object(**where, ChecksumMode="ENABLED", **sse_c)
            if answer["Body"].read() != data:  # botocore checks the checksum as it reads
                problems.append(f"{who}'s object does not hold the file's bytes")
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            problems.append(f"{who}'s download with ChecksumMode=ENABLED failed: {exc!r}")
    ref_head, got_head = heads
    if isinstance(ref_head, str) or isinstance(got_head, str):
        return [*problems, f"HeadObject: boto3 {ref_head!r}, resilient-s3 {got_head!r}"]
    problems += _diff("HeadObject", _described(ref_head, args), _described(got_head, args))
    problems += _checksum_problems(sample.checksum, args, ref_head, got_head)
    reads: list[tuple[str, Callable[..., Any]]] = [("GetObjectTagging", client.get_object_tagging)]
    if any(name == "ACL" or name.startswith("Grant") for name in args):
        # Only then: moto answers 500 to GetObjectAcl on multipart objects without an ACL.
        reads.append(("GetObjectAcl", client.get_object_acl))
    if any(name.startswith("ObjectLock") for name in args):
        reads += [
            ("GetObjectRetention", client.get_object_retention),
            ("GetObjectLegalHold", client.get_object_legal_hold),
        ]
    for what, call in reads:
        answers = [_read(call, Bucket=bucket, Key=o.key) for o in (ref, got)]
        if what == "GetObjectTagging":
            answers = [
                sorted((t["Key"], t["Value"]) for t in a["TagSet"]) if isinstance(a, dict) else a
                for a in answers
            ]
        if answers[0] != answers[1]:
            problems.append(f"{what}: boto3 {answers[0]!r}, resilient-s3 {answers[1]!r}")
    return problems


# -- comparing what was sent --------------------------------------------------------------------

_ALGORITHMS = _MODEL.operation_model("PutObject").input_shape.members["ChecksumAlgorithm"].enum
CHECKSUM_HEADERS = frozenset(f"x-amz-checksum-{algorithm.lower()}" for algorithm in _ALGORITHMS)
"""The headers of every algorithm's checksum value: sending one the caller did not choose is a
difference."""
_TOKEN_HEADER = f"x-amz-meta-{TOKEN_METADATA}"


def _carrier(operation: str, args: Mapping[str, Any], kind: Checksums | None) -> set[str]:
    """The names of the headers of ``operation`` that carry the argument (lower case; a name
    ending in ``-`` is a prefix)."""
    if kind == "algorithm":
        if operation == "CompleteMultipartUpload":
            # The object's checksum type when the caller names none is each client's own
            # (boto3 COMPOSITE, resilient-s3 FULL_OBJECT, whose value Complete then carries).
            return set()
        return {*CHECKSUM_HEADERS, "x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm"}
    if kind == "value":
        # Not x-amz-sdk-checksum-algorithm: boto3 leaves it out of a PutObject carrying the
        # caller's value, resilient-s3 names the algorithm (moto stores the checksum only
        # then). Where a server refuses the name (SeaweedFS, for MD5), the outcome differs.
        return {*CHECKSUM_HEADERS, "x-amz-checksum-algorithm", "x-amz-checksum-type"}
    if kind == "type":
        return {"x-amz-checksum-type"}
    if kind == "size":
        return {"x-amz-mp-object-size"}
    members = _MODEL.operation_model(operation).input_shape.members
    names = set()
    for name in args:
        member = members.get(name)
        if member is not None and member.serialization.get("location") in ("header", "headers"):
            names.add(member.serialization.get("name", name).lower())
    if "SSECustomerKey" in args and "SSECustomerKey" in members:  # botocore adds the MD5
        names.add("x-amz-server-side-encryption-customer-key-md5")
    return names


def _argument_headers(
    requests: list[RecordedRequest], args: Mapping[str, Any], kind: Checksums | None
) -> dict[str, dict[str, str]]:
    """Each upload request (UploadParts by number), with the headers that carry the argument.
    Signatures, dates, lengths and the checksums the client chose itself are not the
    argument's; nor is resilient-s3's completion token in the metadata."""
    sent: dict[str, dict[str, str]] = {}
    for request in requests:
        if request.operation not in UPLOAD_OPERATIONS:
            continue
        label = request.operation
        if label == "UploadPart":
            label += " " + parse_qs(urlsplit(request.target).query)["partNumber"][0]
        names = _carrier(request.operation, args, kind)
        sent[label] = {
            name: value
            for name, value in request.headers.items()
            if name != _TOKEN_HEADER
            and (name in names or any(p.endswith("-") and name.startswith(p) for p in names))
        }
    return sent


def _header_problems(
    sample: Sample, args: Mapping[str, Any], ref: Outcome, got: Outcome
) -> list[str]:
    want = _argument_headers(ref.requests, args, sample.checksum)
    have = _argument_headers(got.requests, args, sample.checksum)
    if want.keys() != have.keys():
        return [f"requests: boto3 sent {sorted(want)}, resilient-s3 {sorted(have)}"]
    return [
        problem
        for label in sorted(want)
        for problem in _diff(f"{label} header", want[label], have[label])
    ]


# -- the tests ----------------------------------------------------------------------------------


def _missing(names: list[str]) -> str:
    return (
        f"add a sample value for {', '.join(names)} to SAMPLES in {Path(__file__).name}: "
        f"s3transfer {importlib.metadata.version('s3transfer')} allows it in upload extra_args"
    )


def test_every_allowed_key_has_a_sample() -> None:
    missing = [name for name in ALLOWED if name not in SAMPLES]
    if missing:
        pytest.fail(_missing(missing))


@pytest.mark.parametrize("api", ["upload_file", "upload_fileobj"])
@pytest.mark.parametrize("strategy", list(SIZES))
@pytest.mark.parametrize("name", ALLOWED)
def test_same_object_and_requests_as_boto3(side: Side, name: str, strategy: str, api: str) -> None:
    sample = SAMPLES.get(name)
    if sample is None:
        pytest.fail(_missing([name]))
    for need in sorted(sample.needs & side.missing.keys()):
        pytest.skip(side.missing[need])
    if (side.name, name, strategy) in KNOWN_SERVER_DEFECTS:
        pytest.skip(KNOWN_SERVER_DEFECTS[side.name, name, strategy])
    env = replace(side.env, data=side.data[strategy])
    args = sample.args(env)
    bucket = side.lock_bucket if "object_lock" in sample.needs else side.bucket
    stem = f"{name}/{strategy}/{api}"
    ref = _upload(side, "boto3", api, strategy, bucket, f"{stem}/boto3", args)
    got = _upload(side, "resilient-s3", api, strategy, bucket, f"{stem}/resilient-s3", args)
    if ref.error is not None:
        problems = _failure_problems(side, bucket, ref, got)
    elif got.error is not None:
        problems = [f"boto3 uploaded; resilient-s3 raised {got.error!r} after {got.sent}"]
    else:
        problems = _object_problems(side, bucket, args, sample, env.data, ref, got)
        problems += _header_problems(sample, args, ref, got)
    assert not problems, f"extra_args {args!r} on {side.name}:\n  " + "\n  ".join(problems)


def _refused_value(shape: Any) -> Any:
    """A value of the right type, so that only the key's name can make it refused."""
    return {
        "string": (getattr(shape, "enum", None) or ["x"])[0],
        "integer": 1,
        "long": 1,
        "boolean": True,
        "blob": b"x",
        "timestamp": datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC),
    }.get(shape.type_name if shape is not None else "string", "x")


_UPLOAD_MEMBERS = {
    name: member
    for operation in ("PutObject", "CreateMultipartUpload")
    for name, member in _MODEL.operation_model(operation).input_shape.members.items()
}
REFUSED = ("Foo", *sorted(set(_UPLOAD_MEMBERS) - set(ALLOWED)))
"""extra_args boto3 refuses before any request: an unknown name, and every parameter of
PutObject and CreateMultipartUpload that s3transfer does not allow."""


@pytest.mark.parametrize("api", ["upload_file", "upload_fileobj"])
@pytest.mark.parametrize("strategy", list(SIZES))
@pytest.mark.parametrize("name", REFUSED)
def test_refused_before_any_request_as_by_boto3(
    side: Side, name: str, strategy: str, api: str
) -> None:
    args = {name: _refused_value(_UPLOAD_MEMBERS.get(name))}
    stem = f"refused/{name}/{strategy}/{api}"
    ref = _upload(side, "boto3", api, strategy, side.bucket, f"{stem}/boto3", args)
    assert ref.error is not None, f"boto3 now accepts extra_args {name}: give it a sample"
    assert not ref.requests, f"boto3 sent {ref.sent} before refusing {name}: {ref.error!r}"
    got = _upload(side, "resilient-s3", api, strategy, side.bucket, f"{stem}/resilient-s3", args)
    refused = f"boto3 refuses extra_args {args!r} before any request ({ref.error!r})"
    assert not got.requests, f"{refused}; resilient-s3 sent {got.sent}, then {got.error!r}"
    assert isinstance(got.error, InvalidUploadError), f"{refused}; resilient-s3: {got.error!r}"
