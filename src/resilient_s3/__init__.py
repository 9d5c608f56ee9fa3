"""resilient-s3: S3 uploads that succeed where plain boto3 fails intermittently.

Public names load on first use: the pytest plugin this package registers imports it in every
test session of a project that has it installed, and should not pay for botocore and aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from ._cleanup import CleanupReport, StaleUpload
    from ._config import UploadConfig
    from ._diagnostics import Cause, Diagnosis, diagnose
    from ._exceptions import (
        CredentialRefreshError,
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
    from ._planner import MAX_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE
    from ._result import Checksum, UploaderStats, UploadResult
    from ._uploader import AsyncResilientUploader, DirectoryUploadError, ResilientUploader

_MODULE_OF = {
    "AsyncResilientUploader": "._uploader",
    "Cause": "._diagnostics",
    "Checksum": "._result",
    "CleanupReport": "._cleanup",
    "CredentialRefreshError": "._exceptions",
    "Diagnosis": "._diagnostics",
    "DirectoryUploadError": "._uploader",
    "IntegrityError": "._exceptions",
    "InvalidUploadError": "._exceptions",
    "MAX_OBJECT_SIZE": "._planner",
    "MAX_PARTS": "._planner",
    "MAX_PART_SIZE": "._planner",
    "MIN_PART_SIZE": "._planner",
    "ObjectExistsError": "._exceptions",
    "ObjectTooLargeError": "._exceptions",
    "ResilientUploader": "._uploader",
    "RetriesExhaustedError": "._exceptions",
    "S3RequestError": "._exceptions",
    "StaleUpload": "._cleanup",
    "SourceChangedError": "._exceptions",
    "SourceError": "._exceptions",
    "UploadConfig": "._config",
    "UploadError": "._exceptions",
    "UploadResult": "._result",
    "UploaderStats": "._result",
    "diagnose": "._diagnostics",
}

__all__ = [
    "MAX_OBJECT_SIZE",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "AsyncResilientUploader",
    "Cause",
    "Checksum",
    "CleanupReport",
    "CredentialRefreshError",
    "Diagnosis",
    "DirectoryUploadError",
    "IntegrityError",
    "InvalidUploadError",
    "ObjectExistsError",
    "ObjectTooLargeError",
    "ResilientUploader",
    "RetriesExhaustedError",
    "S3RequestError",
    "SourceChangedError",
    "SourceError",
    "StaleUpload",
    "UploadConfig",
    "UploadError",
    "UploadResult",
    "UploaderStats",
    "__version__",
    "diagnose",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
