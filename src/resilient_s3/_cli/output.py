"""What the commands print: JSON summaries and a progress line."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from typing import Any

from .._exceptions import UploadError
from .._limits import MiB
from .._result import UploadResult


class ProgressLine:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = 0.0
        self._started = time.monotonic()

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.2 and done != total):
            return
        self._last = now
        rate = done / MiB / max(now - self._started, 1e-6)
        of = f" of {total / MiB:.1f}" if total is not None else ""
        sys.stderr.write(f"\r{done / MiB:.1f}{of} MiB  {rate:.1f} MiB/s ")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def summary(result: UploadResult) -> dict[str, Any]:
    summary = asdict(result)
    summary["elapsed"] = round(result.elapsed, 3)
    return {"status": "uploaded", **summary}


def failure(key: str, exc: UploadError) -> dict[str, Any]:
    diagnosis = exc.diagnosis
    return {
        "status": "failed",
        "bucket": exc.bucket,
        "key": key,
        "error": exc.message,
        "cause": str(diagnosis.cause) if diagnosis else None,
        "fixes": list(diagnosis.fixes) if diagnosis else [],
    }


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))
