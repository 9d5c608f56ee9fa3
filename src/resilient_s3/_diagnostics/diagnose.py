"""Name the cause of an S3 failure and what fixes it, from the one code table.

:func:`diagnose` accepts a botocore ``ClientError``, a resilient-s3 ``UploadError``, or the
parts of a raw HTTP answer. Pure: it reads its arguments and the table, nothing else (errors
are read by their attributes, so this package imports nothing of the library above it).
"""

from __future__ import annotations

from typing import Any

from .codes import rule_for
from .model import Cause, Diagnosis


def diagnose_code(code: str | None, status: int | None, message: str = "") -> Diagnosis:
    """The diagnosis for an S3 error code (and HTTP status when the code says too little)."""
    evidence = tuple(
        part
        for part in (
            f"error code {code}" if code else "",
            f"HTTP status {status}" if status else "",
            f"message: {message}" if message else "",
        )
        if part
    )
    rule = rule_for(code, status, message)
    if rule is None:
        return Diagnosis(Cause.UNKNOWN, message or "unrecognised error", evidence, (), False)
    return Diagnosis(rule.cause, rule.summary, evidence, rule.fixes, rule.verdict.retryable)


def diagnose(error: BaseException) -> Diagnosis:
    """Diagnose a botocore ``ClientError`` or a resilient-s3 ``UploadError``."""
    known: Any = getattr(error, "diagnosis", None)
    if isinstance(known, Diagnosis):
        return known
    response: Any = getattr(error, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        meta = response.get("ResponseMetadata", {})
        return diagnose_code(err.get("Code"), meta.get("HTTPStatusCode"), err.get("Message", ""))
    return Diagnosis(Cause.UNKNOWN, str(error) or type(error).__name__)
