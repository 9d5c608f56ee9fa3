"""resilient-s3: S3 uploads that succeed where plain boto3 fails intermittently.

The vocabulary (settings, results, errors, diagnoses, S3's limits) is imported at once; it
loads no SDK. What talks to S3 loads on first use: the pytest plugin this package registers
imports it in every test session of a project that has it installed, and should not pay for
botocore and aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._config import UploadConfig
from ._diagnostics.cors import CorsFinding, CorsReport, check_cors_rules
from ._diagnostics.diagnose import diagnose
from ._diagnostics.explain import Explanation, UrlReport, explain
from ._diagnostics.model import Cause, Diagnosis
from ._diagnostics.report import DoctorCheck, DoctorReport
from ._events import EventKind, UploadEvent
from ._exceptions import (
    CredentialRefreshError,
    DirectoryUploadError,
    IntegrityError,
    InvalidUploadError,
    ObjectExistsError,
    ObjectTooLargeError,
    RetriesExhaustedError,
    S3RequestError,
    SourceChangedError,
    SourceError,
    UploadError,
)
from ._limits import MAX_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE
from ._outcomes import DirectoryReport, FileOutcome
from ._presigned import (
    CompletedUpload,
    PresignedMultipart,
    PresignedPart,
    PresignedPost,
    PresignedRequest,
    SignRequest,
    UploadedPart,
)
from ._redact import RedactingFormatter
from ._result import Checksum, CleanupReport, StaleUpload, UploaderStats, UploadResult
from ._version import __version__

if TYPE_CHECKING:
    from ._api.blocking import ResilientUploader
    from ._api.doctor import async_doctor, doctor
    from ._api.presigned_uploader import AsyncPresignedUploader, PresignedUploader
    from ._api.presigner import AsyncPresigner, Presigner
    from ._api.uploader import AsyncResilientUploader

_LAZY = {
    "AsyncPresignedUploader": "._api.presigned_uploader",
    "AsyncPresigner": "._api.presigner",
    "AsyncResilientUploader": "._api.uploader",
    "PresignedUploader": "._api.presigned_uploader",
    "Presigner": "._api.presigner",
    "ResilientUploader": "._api.blocking",
    "async_doctor": "._api.doctor",
    "doctor": "._api.doctor",
}
"""Public names whose modules import the SDK: loaded on first use."""

__all__ = [
    "MAX_OBJECT_SIZE",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "AsyncPresignedUploader",
    "AsyncPresigner",
    "AsyncResilientUploader",
    "Cause",
    "Checksum",
    "CleanupReport",
    "CompletedUpload",
    "CorsFinding",
    "CorsReport",
    "CredentialRefreshError",
    "Diagnosis",
    "DirectoryReport",
    "DirectoryUploadError",
    "DoctorCheck",
    "DoctorReport",
    "EventKind",
    "Explanation",
    "FileOutcome",
    "IntegrityError",
    "InvalidUploadError",
    "ObjectExistsError",
    "ObjectTooLargeError",
    "PresignedMultipart",
    "PresignedPart",
    "PresignedPost",
    "PresignedRequest",
    "PresignedUploader",
    "Presigner",
    "RedactingFormatter",
    "ResilientUploader",
    "RetriesExhaustedError",
    "S3RequestError",
    "SignRequest",
    "SourceChangedError",
    "SourceError",
    "StaleUpload",
    "UploadConfig",
    "UploadError",
    "UploadEvent",
    "UploadResult",
    "UploadedPart",
    "UploaderStats",
    "UrlReport",
    "__version__",
    "async_doctor",
    "check_cors_rules",
    "diagnose",
    "doctor",
    "explain",
]

# Public classes say they are resilient_s3's, wherever they are defined.
for _name in __all__:
    _value = globals().get(_name)
    if isinstance(_value, type):
        _value.__module__ = __name__
del _name, _value


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    if isinstance(value, type):
        value.__module__ = __name__
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
