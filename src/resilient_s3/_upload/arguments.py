"""Which ``extra_args`` an upload takes, what they ask of its checksum, and which request each
one travels with.

boto3's ``upload_file`` takes the arguments in s3transfer's ``ALLOWED_UPLOAD_ARGS`` and refuses
any other before a request; it sends each one only to the operations that take it
(``PUT_OBJECT_BLOCKLIST``, ``CREATE_MULTIPART_BLOCKLIST``, ``UPLOAD_PART_ARGS``,
``COMPLETE_MULTIPART_ARGS`` in ``s3transfer/upload.py``). So does resilient-s3, with one
difference where boto3 defeats the caller: a checksum of the whole object given in ``extra_args``
(``ChecksumCRC32``...) decides the upload's algorithm, is checked here against the bytes before
it is sent (servers that do not check it, like moto, would store anything), and is the only
checksum of the object that is sent: with the PUT, or with CompleteMultipartUpload of a
``FULL_OBJECT`` multipart upload, where S3 checks it again.

The full-object checksum names are read from botocore's S3 model (PutObject's input), once and
only when an argument needs them: newer models name MD5, SHA-512 and xxHash too.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._exceptions import IntegrityError, InvalidUploadError, S3RequestError
from .._limits import format_size
from .._s3.errors import Where
from .checksums import KINDS, ChecksumKind, MultipartType

_SHARED_ARGS = frozenset(
    {
        "ACL",
        "CacheControl",
        "ChecksumAlgorithm",
        "ContentDisposition",
        "ContentEncoding",
        "ContentLanguage",
        "ContentType",
        "ExpectedBucketOwner",
        "Expires",
        "GrantFullControl",
        "GrantRead",
        "GrantReadACP",
        "GrantWriteACP",
        "Metadata",
        "ObjectLockLegalHoldStatus",
        "ObjectLockMode",
        "ObjectLockRetainUntilDate",
        "RequestPayer",
        "ServerSideEncryption",
        "StorageClass",
        "SSECustomerAlgorithm",
        "SSECustomerKey",
        "SSECustomerKeyMD5",
        "SSEKMSKeyId",
        "SSEKMSEncryptionContext",
        "Tagging",
        "WebsiteRedirectLocation",
    }
)
"""s3transfer's ``TransferManager._ALLOWED_SHARED_ARGS`` (0.17); ``ALLOWED_UPLOAD_ARGS`` adds
``ChecksumType``, ``MpuObjectSize`` and the full-object checksums (``tests/unit`` compares the
whole list with the installed s3transfer's)."""

_MULTIPART_ARGS = frozenset({"ChecksumType", "MpuObjectSize"})

_SET_BY_THE_UPLOADER = frozenset({"Bucket", "Key", "Body", "ContentLength", "UploadId"})

PART_ARGS = frozenset(
    {
        "SSECustomerAlgorithm",
        "SSECustomerKey",
        "SSECustomerKeyMD5",
        "RequestPayer",
        "ExpectedBucketOwner",
    }
)
"""What travels with every UploadPart (and ListParts, HeadObject): the object's other
attributes are set once, at CreateMultipartUpload."""

_CONDITIONS = frozenset({"IfNoneMatch", "IfMatch"})
"""Set by the uploader (``overwrite=False``), never by ``extra_args``: PutObject and
CompleteMultipartUpload take them, CreateMultipartUpload does not."""

_CHECKSUM_ARGS = frozenset({"ChecksumAlgorithm", "ChecksumType", "MpuObjectSize"})
"""Decided once per upload (``ChecksumChoice``), then sent by the request that takes them."""


@functools.cache
def _put_object_checksums() -> tuple[frozenset[str], tuple[str, ...]]:
    """PutObject's full-object checksum members and its ``ChecksumAlgorithm`` names, as this
    botocore's S3 model has them (read once: about 30 ms)."""
    import botocore.session  # only here: the wire layer owns botocore, this needs its model

    shape = botocore.session.Session().get_service_model("s3").operation_model("PutObject")
    members = shape.input_shape.members
    names = frozenset(
        name
        for name in members
        if name.startswith("Checksum") and name not in ("ChecksumAlgorithm", "ChecksumType")
    )
    return names, tuple(members["ChecksumAlgorithm"].enum)


def full_object_names() -> frozenset[str]:
    """``ChecksumCRC32``, ``ChecksumSHA256``...: every full-object checksum S3's model names."""
    return _put_object_checksums()[0]


def allowed_upload_args() -> frozenset[str]:
    """What boto3's ``upload_file`` takes in ``extra_args`` (its ``ALLOWED_UPLOAD_ARGS``)."""
    return _SHARED_ARGS | _MULTIPART_ARGS | full_object_names()


def _may_take(name: str) -> bool:
    if name in _SHARED_ARGS or name in _MULTIPART_ARGS:
        return True
    return name.startswith("Checksum") and name in full_object_names()


def check_names(args: Mapping[Any, Any]) -> None:
    """Refuse, as boto3 does, every argument an upload does not take: one that is not an
    argument of an upload, and those the uploader sets itself; each named with its reason."""
    refused = sorted(
        (name for name in args if not (isinstance(name, str) and _may_take(name))), key=repr
    )
    if not refused:
        return
    reasons = [f"{name!r} ({_why_not(name)})" for name in refused]
    unknown = any(name not in _KNOWN_REFUSALS for name in refused)
    allowed = f"; an upload takes {', '.join(sorted(allowed_upload_args()))}" if unknown else ""
    raise InvalidUploadError(
        f"extra_args may not set {', '.join(reasons)}{allowed}; nothing was sent"
    )


_KNOWN_REFUSALS = {
    **dict.fromkeys(_SET_BY_THE_UPLOADER, "the uploader sets it itself"),
    "ContentMD5": (
        "boto3's upload_file refuses it too: give a checksum of the whole object instead, "
        "ChecksumMD5 or ChecksumCRC64NVME..., which S3 checks"
    ),
    **dict.fromkeys(
        _CONDITIONS, "pass overwrite=False to refuse replacing an existing object instead"
    ),
}


def _why_not(name: object) -> str:
    known = _KNOWN_REFUSALS.get(name) if isinstance(name, str) else None
    if known is not None:
        return known
    close = (
        difflib.get_close_matches(name, sorted(allowed_upload_args()), n=1)
        if isinstance(name, str)
        else []
    )
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"not an argument of an upload, which boto3's upload_file refuses too{hint}"


_TIMESTAMPS = frozenset({"Expires", "ObjectLockRetainUntilDate"})


def check_values(args: Mapping[str, Any]) -> None:
    """Refuse the values that would fail before botocore's own checks see them, or that those
    checks let through as Python errors: a container where one value belongs (the arguments are
    ordered and copied first), metadata that is not str to str, a date botocore cannot place
    (its parser raises RuntimeError for years beyond 9999). botocore checks the rest, naming
    the argument."""
    for name, value in args.items():
        if name == "Metadata":
            _check_metadata(value)
        elif isinstance(value, Mapping | list | tuple | set | frozenset):
            raise InvalidUploadError(
                f"extra_args {name} must be a single value, not a {type(value).__name__}"
            )
        elif name in _TIMESTAMPS and not isinstance(value, datetime.datetime):
            _check_timestamp(name, value)


def _check_metadata(metadata: object) -> None:
    if not isinstance(metadata, Mapping):
        raise InvalidUploadError(
            f"extra_args['Metadata'] must map names to values (a dict of str), not "
            f"{type(metadata).__name__}"
        )
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidUploadError(
                "extra_args['Metadata'] names and values must be str: "
                f"{name!r} ({type(name).__name__}) maps to a {type(value).__name__}"
            )


def _check_timestamp(name: str, value: object) -> None:
    import botocore.utils  # as _put_object_checksums: botocore reads the date as it will

    try:
        botocore.utils.parse_timestamp(value)
    except Exception as exc:  # RuntimeError, OverflowError, ValueError, TypeError...
        raise InvalidUploadError(
            f"extra_args {name} must be a date (a datetime, or an ISO 8601 string or epoch "
            f"seconds that botocore reads as one), not {value!r}"
        ) from exc


@dataclass(frozen=True, slots=True)
class ChecksumChoice:
    """What one upload's ``extra_args`` ask of its checksum."""

    kind: ChecksumKind
    """The algorithm every body is checksummed in and checked by S3 with."""
    full_object: str | None = None
    """The caller's checksum of the whole object (base64), in ``kind``: the bytes must have
    it, and it is the object checksum sent (PutObject, CompleteMultipartUpload)."""
    multipart_type: MultipartType = "FULL_OBJECT"
    """The ``ChecksumType`` of a multipart upload."""
    type_given: bool = False
    """Whether the caller asked for ``multipart_type`` (CompleteMultipartUpload then says it
    again, as boto3 sends it)."""
    object_size: int | None = None
    """``MpuObjectSize``: the size the caller says the object has."""

    @property
    def full_object_arg(self) -> str:
        return f"extra_args {self.kind.param}"

    def check_digest(self, digest: str, where: Where, what_happened: str) -> None:
        """The caller's full-object checksum is ``digest`` (base64), that of the data read;
        else IntegrityError, saying ``what_happened``."""
        if self.full_object is None or digest == self.full_object:
            return
        raise IntegrityError(
            f"{self.full_object_arg} is {self.full_object}, but the data read has "
            f"{self.kind.algorithm} {digest}: {what_happened}",
            bucket=where.bucket,
            key=where.key,
            upload_id=where.upload_id,
        )

    def check_size(self, size: int) -> None:
        """The caller's ``MpuObjectSize`` is the object's size, checked before the request
        that would store the object is sent."""
        if self.object_size is not None and self.object_size != size:
            raise IntegrityError(
                f"extra_args MpuObjectSize is {self.object_size:,} bytes but the object is "
                f"{size:,}: nothing was stored"
            )

    def check_multipart(self, size: int | None) -> None:
        """Refuse, before any request, an upload in parts S3 could not check as asked."""
        problem = self.multipart_problem()
        if problem is None:
            return
        how_large = format_size(size) if size is not None else "longer than one part"
        raise InvalidUploadError(
            f"this upload goes in parts (the object is {how_large}; multipart_threshold and "
            f"part_size decide) and {problem}; nothing was sent"
        )

    def refused(self, exc: S3RequestError) -> IntegrityError | None:
        """S3's refusal of a request for not matching the checksum or size the caller gave
        (AWS: BadDigest, or InvalidRequest naming the checksum or the size), as the
        IntegrityError it is; None for any other failure."""
        if self.full_object is None and self.object_size is None:
            return None
        text = str(exc.message).lower()
        naming = exc.code == "InvalidRequest" and ("checksum" in text or "size" in text)
        if exc.code != "BadDigest" and not naming:
            return None
        given = self.full_object_arg if self.full_object is not None else "extra_args MpuObjectSize"
        return IntegrityError(
            f"S3 refused the object: it does not match {given} ({exc.code}); nothing was stored",
            bucket=exc.bucket,
            key=exc.key,
            upload_id=exc.upload_id,
            diagnosis=exc.diagnosis,
            last_exception=exc,
        )

    def multipart_problem(self) -> str | None:
        """Why this upload cannot go in parts, or None: S3 combines part checksums into a
        checksum of the whole object only for CRCs, and not every algorithm either way."""
        kind, wanted = self.kind, self.multipart_type
        if self.full_object is not None and wanted != "FULL_OBJECT":
            return (
                f"{self.full_object_arg} is a checksum of the whole object: a multipart "
                f"upload checks it with ChecksumType FULL_OBJECT, not {wanted}"
            )
        if wanted in kind.multipart_types:
            return None
        if self.full_object is not None:
            return (
                f"{self.full_object_arg} is a checksum of the whole object, which S3 can check "
                "on a multipart upload only for CRC32, CRC32C and CRC64NVME (ChecksumType "
                f"FULL_OBJECT); {kind.algorithm} objects larger than one part get a checksum "
                "of their parts' checksums"
            )
        if not kind.multipart_types:
            return (
                f"S3 documents no way to check a multipart upload with {kind.algorithm}; "
                "choose CRC64NVME, CRC32C, CRC32, SHA256 or SHA1 for objects this large"
            )
        return (
            f"S3 checks a multipart upload with {kind.algorithm} only as ChecksumType "
            f"{' or '.join(kind.multipart_types)}, not {wanted}"
        )


def choose_checksum(args: Mapping[str, Any], default: ChecksumKind) -> ChecksumChoice:
    """What ``args`` ask of the upload's checksum (``default``: the uploader's algorithm);
    InvalidUploadError, naming the argument, for anything S3 could not honour."""
    given = [
        name
        for name in args
        if isinstance(name, str) and name.startswith("Checksum") and name in full_object_names()
    ]
    if len(given) > 1:
        raise InvalidUploadError(
            f"extra_args give {len(given)} checksums of the whole object "
            f"({', '.join(sorted(given))}): an object has one; give one"
        )
    algorithm = _algorithm(args["ChecksumAlgorithm"]) if "ChecksumAlgorithm" in args else None
    full_object = None
    if given:
        named = given[0].removeprefix("Checksum")
        if algorithm is not None and algorithm != named:
            raise InvalidUploadError(
                f"extra_args ChecksumAlgorithm is {algorithm} but {given[0]} is given: the "
                "object's checksum decides the algorithm; drop one"
            )
        algorithm = named
    kind = default if algorithm is None else _kind(algorithm)
    if given:
        full_object = _full_object_value(args[given[0]], kind)
    checksum_type = args.get("ChecksumType")
    if "ChecksumType" in args and checksum_type not in ("FULL_OBJECT", "COMPOSITE"):
        raise InvalidUploadError(
            f"extra_args ChecksumType must be 'FULL_OBJECT' or 'COMPOSITE', not {checksum_type!r}"
        )
    if algorithm is None and checksum_type not in (None, *kind.multipart_types):
        # A type the uploader's algorithm cannot do (CRC64NVME is never COMPOSITE), no
        # algorithm named: boto3's default algorithm, CRC32, does either.
        kind = KINDS["CRC32"]
    if checksum_type is None:
        checksum_type = "FULL_OBJECT" if full_object is not None else kind.multipart_type
    size = args.get("MpuObjectSize")
    if "MpuObjectSize" in args and (
        isinstance(size, bool) or not isinstance(size, int) or size < 0
    ):
        raise InvalidUploadError(
            f"extra_args MpuObjectSize must be the object's size in bytes (an int >= 0), "
            f"not {size!r}"
        )
    return ChecksumChoice(kind, full_object, checksum_type, "ChecksumType" in args, size)


_NOT_AN_ALGORITHM_FOR_BOTO3 = frozenset({"MD5"})
"""S3's model names it, botocore does not compute it: boto3 refuses it as ChecksumAlgorithm
(FlexibleChecksumError) before any request, and so does resilient-s3. A caller's ChecksumMD5
of the whole object is taken (a single PUT sends it)."""


def _algorithm(value: Any) -> str:
    names = [
        name
        for name in _put_object_checksums()[1]
        if name in KINDS and name not in _NOT_AN_ALGORITHM_FOR_BOTO3
    ]
    if isinstance(value, str) and value.upper() in names:
        return value.upper()
    raise InvalidUploadError(
        f"extra_args ChecksumAlgorithm must be one of {', '.join(names)}, not {value!r}"
    )


def _kind(algorithm: str) -> ChecksumKind:
    kind = KINDS.get(algorithm)
    if kind is None:  # xxHash with an awscrt older than 0.28
        raise InvalidUploadError(
            f"{algorithm} checksums need a newer awscrt (pip install -U awscrt); "
            f"resilient-s3 computes {', '.join(KINDS)}"
        )
    return kind


def _full_object_value(value: Any, kind: ChecksumKind) -> str:
    """The caller's full-object checksum, if it is the base64 of a ``kind`` digest."""
    what = f"extra_args {kind.param}"
    if not isinstance(value, str):
        raise InvalidUploadError(
            f"{what} must be the base64 of the object's {kind.algorithm} digest (a str), "
            f"not {type(value).__name__}"
        )
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != kind.width or base64.b64encode(raw).decode() != value:
        raise InvalidUploadError(
            f"{what} must be the base64 of a {kind.width}-byte {kind.algorithm} digest, "
            f"not {value!r}"
        )
    return value


# -- which request takes what ----------------------------------------------------------------


def _without(args: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k not in names and not _is_full_object(k)}


def _is_full_object(name: str) -> bool:
    return isinstance(name, str) and name.startswith("Checksum") and name not in _CHECKSUM_ARGS


def put_object_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """PutObject's: all but the checksum arguments (its checksum headers come from the body's
    digest, which a caller's full-object value was checked to equal)."""
    return _without(args, _CHECKSUM_ARGS)


def part_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """The extra_args UploadPart, ListParts and HeadObject take (SSE-C keys, payer)."""
    return {k: v for k, v in args.items() if k in PART_ARGS}


def create_args(args: Mapping[str, Any], choice: ChecksumChoice) -> dict[str, Any]:
    """CreateMultipartUpload's: the object's attributes, its checksum algorithm and type."""
    created = _without(args, _CHECKSUM_ARGS | _CONDITIONS)
    created.update(ChecksumAlgorithm=choice.kind.algorithm, ChecksumType=choice.multipart_type)
    return created


def complete_args(args: Mapping[str, Any], choice: ChecksumChoice) -> dict[str, Any]:
    """CompleteMultipartUpload's, but for the object's checksum (added by the commit): SSE-C
    keys, payer, owner, conditions, ``MpuObjectSize``, a ``ChecksumType`` the caller gave."""
    completed = {k: v for k, v in args.items() if k in PART_ARGS or k in _CONDITIONS}
    if choice.object_size is not None:
        completed["MpuObjectSize"] = choice.object_size
    if choice.type_given:
        completed["ChecksumType"] = choice.multipart_type
    return completed
