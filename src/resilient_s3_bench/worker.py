"""The worker process: one run of one contender.

``python -m resilient_s3_bench.worker RESULT_FILE`` reads a :class:`RunSpec` as JSON on
standard input, runs the contender and writes a :class:`WorkerResult` as JSON to
``RESULT_FILE``. ``python -m resilient_s3_bench.worker --check NAME`` prints whether a
contender can run in this interpreter, with the versions of its libraries.

Wall time and CPU (user + system, all threads of this process, from ``getrusage``) are taken
around the timed section only: the upload, not the imports or the making of clients. Peak
memory is the whole process's (see :func:`peak_rss_kib`), with the peak before the timed
section alongside.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from .contenders import CONTENDERS, unavailable_reason
from .measure import Timer, peak_rss_kib
from .protocol import RunSpec, WorkerResult

_DISTRIBUTIONS = (
    "resilient-s3",
    "boto3",
    "botocore",
    "s3transfer",
    "awscrt",
    "aiobotocore",
    "aiohttp",
    "aioboto3",
    "obstore",
)


def library_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for dist in _DISTRIBUTIONS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    return versions


def run_spec(spec: RunSpec) -> WorkerResult:
    """Run one contender as ``spec`` says and measure it."""
    from .runners import RUNNERS, Unsupported

    result = WorkerResult(spec.contender, spec.workload, versions=library_versions())
    if spec.contender not in CONTENDERS:
        result.skipped = f"unknown contender {spec.contender!r}"
        return result
    reason = unavailable_reason(spec.contender)
    if reason is not None:
        result.skipped = reason
        return result
    timer = Timer()
    begun = time.perf_counter()
    try:
        outcome = RUNNERS[spec.contender](spec, timer)
    except Unsupported as exc:
        result.skipped = str(exc)
        return result
    except Exception as exc:  # a bug or a failed set-up: report it, do not crash silently
        traceback.print_exc()
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    result.wall, result.cpu_user, result.cpu_sys = timer.wall, timer.cpu_user, timer.cpu_sys
    result.rss_before_kib = timer.rss_before_kib
    result.peak_rss_kib = peak_rss_kib()
    result.files_attempted = outcome.files_attempted
    result.bytes_attempted = outcome.bytes_attempted
    result.files_ok = outcome.files_ok
    result.error = outcome.error
    result.ok = outcome.error is None and outcome.files_ok == outcome.files_attempted
    result.retries = outcome.retries
    result.retries_by_cause = outcome.retries_by_cause
    result.attempts = outcome.attempts
    result.notes = outcome.notes
    result.details = outcome.details
    if timer.entered is not None and timer.exited is not None:
        # Seconds spent making clients before, and closing them after, the timed section.
        result.details["set_up_s"] = round(timer.entered - begun, 3)
        result.details["tear_down_s"] = round(time.perf_counter() - timer.exited, 3)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "--check":
        import json

        reason = unavailable_reason(args[1]) if args[1] in CONTENDERS else "unknown contender"
        print(json.dumps({"unavailable": reason, "versions": library_versions()}))
        return 0
    if len(args) != 1:
        print(
            "usage: python -m resilient_s3_bench.worker RESULT_FILE  (RunSpec JSON on stdin)\n"
            "       python -m resilient_s3_bench.worker --check CONTENDER",
            file=sys.stderr,
        )
        return 2
    spec = RunSpec.from_json(sys.stdin.read())
    result = run_spec(spec)
    out = Path(args[0])
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(result.to_json(), encoding="utf-8")
    os.replace(tmp, out)
    return 0


def _exit_now(code: int) -> None:
    """Leave without finalizing the interpreter: the measurements are written, and runtimes
    of contenders may misbehave while Python finalizes (obstore's put_async futures have been
    seen to call into the event loop from a tokio thread then, aborting the process)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit_now(main())
