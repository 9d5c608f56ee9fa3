"""What the commands print: a short human summary by default; with ``--json``, one JSON
document (JSON lines for ``put-dir``) and nothing else on standard output. Errors go to
standard error with their diagnosis."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from typing import Any, TextIO

from .._diagnostics.explain import render_diagnosis
from .._diagnostics.words import human_bytes, human_seconds
from .._exceptions import ObjectExistsError, UploadError
from .._outcomes import DirectoryReport, FileOutcome
from .._result import UploadResult


def result_document(result: UploadResult) -> dict[str, Any]:
    document = asdict(result)
    document["elapsed"] = round(result.elapsed, 3)
    return {"status": "uploaded", **document}


def failure_document(key: str | None, exc: UploadError) -> dict[str, Any]:
    diagnosis = exc.diagnosis
    return {
        "status": "failed",
        "bucket": exc.bucket,
        "key": key if key is not None else exc.key,
        "error": exc.message,
        "cause": str(diagnosis.cause) if diagnosis else None,
        "summary": diagnosis.summary if diagnosis else None,
        "evidence": list(diagnosis.evidence) if diagnosis else [],
        "fixes": list(diagnosis.fixes) if diagnosis else [],
    }


def outcome_document(outcome: FileOutcome) -> dict[str, Any]:
    if outcome.result is not None:
        return {"path": outcome.path, **result_document(outcome.result)}
    if outcome.error is not None:
        return {"path": outcome.path, **failure_document(outcome.key, outcome.error)}
    return {
        "status": outcome.status,
        "path": outcome.path,
        "key": outcome.key,
        "size": outcome.size,
    }


def report_document(report: DirectoryReport) -> dict[str, Any]:
    document = asdict(report)
    document.pop("first_failures")
    document["elapsed"] = round(report.elapsed, 3)
    return {"status": "summary", **document}


def print_json(value: Any, out: TextIO | None = None) -> None:
    """One compact JSON document on a line of its own."""
    print_line(json.dumps(value, default=str), out)


def print_line(text: str, out: TextIO | None = None) -> None:
    """A line on standard output, flushed, so that it is read as it comes. When the reader
    has gone (``put-dir ... | head``), the rest of the output is dropped, not the uploads."""
    stream = out or sys.stdout
    try:
        stream.write(text + "\n")
        stream.flush()
    except BrokenPipeError:
        reader_gone(stream)


def reader_gone(stream: TextIO | None = None) -> None:
    """Send what is still buffered for ``stream`` (standard output), and every line after, to
    the null device: writing it again would raise BrokenPipeError again, up to the
    interpreter's last flush, which prints it as an error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, (stream or sys.stdout).fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def uploaded_line(source: str, result: UploadResult) -> str:
    rate = human_bytes(int(result.size / max(result.elapsed, 1e-6)))
    parts = f", {result.parts} parts" if result.strategy == "multipart" else ""
    line = (
        f"uploaded {source} to s3://{result.bucket}/{result.key}: {human_bytes(result.size)} "
        f"in {_seconds(result.elapsed)} ({rate}/s){parts}"
    )
    if result.checksum is not None:
        state = "confirmed" if result.checksum.confirmed else "sent"
        line += f", {result.checksum.algorithm} {state}"
    if result.retries:
        counted = ", ".join(f"{cause} {n}" for cause, n in sorted(result.retries.items()))
        line += f"; retried: {counted}"
    if result.resumed_parts:
        line += f"; {result.resumed_parts} parts resumed"
    return line


def file_line(outcome: FileOutcome, bucket: str) -> str:
    """One file of ``put-dir`` as it finishes, on one line: uploaded, skipped or failed."""
    path, url = shown(outcome.path), shown(f"s3://{bucket}/{outcome.key}")
    if outcome.error is not None:
        return f"failed {path} to {url}: {shown(failure_summary(outcome.error))}"
    if outcome.result is None:
        return f"skipped {path}: {url} is unchanged"
    size = "1 byte" if outcome.size == 1 else human_bytes(outcome.size)
    return f"uploaded {path} to {url} ({size})"


def failure_summary(exc: UploadError) -> str:
    """An error on one line: its diagnosis' summary when the cause is known, else what failed."""
    if isinstance(exc, ObjectExistsError):
        return "an object exists there; nothing was written (--no-overwrite)"
    if exc.diagnosis is not None and exc.diagnosis.cause != "unknown":
        return exc.diagnosis.summary.splitlines()[0]
    return exc.message.splitlines()[0] if exc.message else type(exc).__name__


def shown(text: str) -> str:
    """A name as one printable line: control characters (a newline in a file name) and bytes
    that are not UTF-8 are escaped, so one file is one line and printing cannot fail."""
    return text if text.isprintable() else repr(text)[1:-1]


def directory_line(report: DirectoryReport, target: str) -> str:
    size = human_bytes(report.bytes_uploaded)
    line = (
        f"uploaded {report.uploaded} of {report.files} files ({size}) to {target} in "
        f"{_seconds(report.elapsed)}"
    )
    if report.skipped:
        line += f"; {report.skipped} unchanged, skipped"
    if report.failed:
        line += f"; {report.failed} failed"
    return line


def _seconds(elapsed: float) -> str:
    return human_seconds(elapsed) if elapsed >= 10 else f"{elapsed:.2f} s"


def error_lines(exc: UploadError, *, key: str | None = None) -> list[str]:
    """An error for standard error: what failed, then its diagnosis."""
    if isinstance(exc, ObjectExistsError):  # in the flag's words, not overwrite=False's
        return [
            f"resilient-s3: s3://{exc.bucket}/{exc.key} exists; nothing was written "
            "(--no-overwrite)"
        ]
    where = f"{key}: " if key else ""
    first = str(exc).splitlines()[0]  # the message and where: bucket, key, upload id, part
    lines = [f"resilient-s3: {where}{first}"]
    if exc.diagnosis is not None and exc.diagnosis.cause != "unknown":
        lines += [f"  {line}" for line in render_diagnosis(exc.diagnosis)]
    return lines


def print_error(exc: UploadError, *, key: str | None = None) -> None:
    print("\n".join(error_lines(exc, key=key)), file=sys.stderr)
