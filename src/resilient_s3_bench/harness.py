"""Orchestration: fault profiles, the order of runs, worker processes, verification, clean-up.

Runs are sequential: one worker process at a time, so that contenders never compete for the
machine. The order of contenders rotates from one repeat to the next so that drift of the
machine (page cache, the server's volumes filling, thermal limits) hits everyone alike.

About 700 lines: one run's whole life (profile, worker process, verification of every object,
clean-up of what the contender left) and the summary of many, which read together.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .contenders import CONTENDERS, unavailable_reason
from .data import DataSet, Expected
from .progress import Progress
from .protocol import GiB, MiB, RunSpec, WorkerResult
from .servers import CredentialsEndpoint, Target

PROFILES: dict[str, str] = {
    "none": "no faults",
    "throttle": "ChaosProxy slowdown=0.10 (503 SlowDown) + reset=0.01 (connection reset "
    "mid-body), per request",
    "expiring": "keys live {lifetime:g} s and rotate; the proxy refuses them {early:g} s before "
    "the client is told they expire (400 ExpiredToken); clients refresh {margin:g} s ahead",
}
THROTTLE = {"slowdown": 0.10, "reset": 0.01}
KEY_LIFETIME = 20.0
SERVER_EARLY = 2.0
REFRESH_MARGIN = 1.0
RECLAIM_EVERY = 1024 * MiB
"""Bytes written between two requests to the server to give back deleted space."""

_VERIFY_THREADS = 16
_MD5_ETAG = re.compile(r"[0-9a-f]{32}")
_MULTIPART_ETAG = re.compile(r"[0-9a-f]{32}-[0-9]+")


def python_for(worker_python: dict[str, str], contender: str) -> str:
    """The interpreter that runs ``contender``: its own, the default one (key ""), or this."""
    return worker_python.get(contender) or worker_python.get("") or sys.executable


@dataclass(frozen=True)
class BenchConfig:
    contenders: tuple[str, ...]
    workloads: tuple[str, ...]
    profiles: tuple[str, ...]
    repeat: int = 1
    timeout: float = 300.0
    verify: bool = True
    via_proxy: bool = False
    """Send the ``none`` profile through a fault-free proxy too (counts requests)."""
    seed: int = 7
    key_lifetime: float = KEY_LIFETIME
    """Seconds the ``expiring`` profile's keys live (the server refuses them 2 s earlier)."""
    bucket: str | None = None
    worker_python: dict[str, str] = field(default_factory=dict)
    """Interpreter per contender; the key ``""`` sets the default (else this Python)."""

    def describe_profile(self, profile: str) -> str:
        return PROFILES[profile].format(
            lifetime=self.key_lifetime, early=SERVER_EARLY, margin=REFRESH_MARGIN
        )

    def python_for(self, contender: str) -> str:
        return python_for(self.worker_python, contender)


@dataclass
class RunRecord:
    """One run of one contender, as measured by the worker and verified by the parent."""

    index: int
    repeat: int
    contender: str
    workload: str
    profile: str
    status: str = "failed"
    """``survived`` (every object landed byte-exact), ``failed``, ``timeout`` or ``skipped``."""
    wall_s: float | None = None
    mib_s: float | None = None
    files_s: float | None = None
    cpu_s: float | None = None
    cpu_s_per_gib: float | None = None
    cpu_s_per_1000_files: float | None = None
    server_cpu_s: float | None = None
    """CPU the server process used while the worker ran (servers the bench started only)."""
    server_cpu_s_per_gib: float | None = None
    server_cpu_s_per_1000_files: float | None = None
    peak_rss_mib: float | None = None
    rss_before_mib: float | None = None
    files_attempted: int = 0
    files_reported: int = 0
    files_landed: int = 0
    bytes_attempted: int = 0
    bytes_verified: int = 0
    verification: str = ""
    retries: int | None = None
    retries_by_cause: dict[str, int] | None = None
    attempts: int | None = None
    requests: int | None = None
    """Requests the proxy saw (when the run went through one)."""
    faults: dict[str, int] | None = None
    """Faults the proxy injected, by kind."""
    multipart_uploads_left: int | None = None
    """Multipart uploads the contender left open under its prefix (then aborted)."""
    keys_issued: int | None = None
    """Keys the credentials endpoint handed out during the run (``expiring`` profile)."""
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    harness_s: dict[str, float] = field(default_factory=dict)
    """Where the harness spent the run's time: worker (process included), verify, clean-up."""

    @property
    def survived(self) -> bool:
        return self.status == "survived"

    @property
    def faults_total(self) -> int | None:
        return None if self.faults is None else sum(self.faults.values())


@dataclass
class BenchResults:
    config: BenchConfig
    target: Target
    data: DataSet
    runs: list[RunRecord] = field(default_factory=list)
    skipped: dict[tuple[str, str, str], str] = field(default_factory=dict)
    """(contender, workload, profile) -> why it did not run."""
    notes: list[str] = field(default_factory=list)
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    """Library versions each contender's worker reported."""
    interrupted: bool = False
    started: float = field(default_factory=time.time)
    finished: float | None = None


# -- profiles -----------------------------------------------------------------------------


@dataclass
class ProfileEnv:
    endpoint_url: str
    proxy: Any = None
    credentials: CredentialsEndpoint | None = None

    @property
    def credentials_url(self) -> str | None:
        return None if self.credentials is None else self.credentials.url


def profile_unavailable(profile: str, target: Target) -> str | None:
    if profile != "none" and not target.endpoint_url.startswith("http://"):
        return f"the {profile} profile needs a plain http endpoint (ChaosProxy relays http only)"
    if profile == "expiring" and not target.identities:
        return (
            "the expiring profile needs the embedded SeaweedFS server (a pool of identities "
            "for the credential vendor)"
        )
    return None


@contextlib.contextmanager
def profile_env(
    profile: str,
    target: Target,
    *,
    seed: int,
    via_proxy: bool,
    key_lifetime: float = KEY_LIFETIME,
) -> Iterator[ProfileEnv]:
    """The endpoint (and credentials) contenders use under ``profile``, for one run."""
    from resilient_s3.testing import ChaosProxy, CredentialVendor

    if profile == "none" and not via_proxy:
        yield ProfileEnv(target.endpoint_url)
        return
    faults = THROTTLE if profile == "throttle" else {}
    with ChaosProxy(
        target.endpoint_url,
        slowdown=faults.get("slowdown", 0.0),
        reset=faults.get("reset", 0.0),
        seed=seed,
    ) as proxy:
        if profile != "expiring":
            yield ProfileEnv(proxy.endpoint_url, proxy)
            return
        vendor = CredentialVendor(
            target.identities, proxy, lifetime=key_lifetime, server_early=SERVER_EARLY
        )
        with CredentialsEndpoint(vendor.issue) as endpoint:
            yield ProfileEnv(proxy.endpoint_url, proxy, endpoint)


# -- worker processes ---------------------------------------------------------------------


def _worker_env(python: str) -> dict[str, str]:
    """This environment without AWS_* (the user's keys, profile or endpoint would leak into
    the contenders), and with this package importable by another interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if python != sys.executable:
        src = str(Path(__file__).resolve().parents[1])  # holds both packages
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def run_worker(
    spec: RunSpec, python: str, timeout: float, log_path: Path
) -> tuple[WorkerResult | None, str | None]:
    """Run one worker; (its result, None) or (None, why there is none)."""
    with tempfile.TemporaryDirectory(prefix="rs3-bench-run-") as tmp:
        result_path = Path(tmp) / "result.json"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [python, "-m", "resilient_s3_bench.worker", str(result_path)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_worker_env(python),
                start_new_session=True,
            )
            try:
                proc.communicate(spec.to_json().encode(), timeout=timeout)
            except subprocess.TimeoutExpired:
                return None, f"timed out after {timeout:g} s (killed)"
            finally:
                if proc.poll() is None:
                    with contextlib.suppress(OSError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                if proc.stdin is not None:
                    with contextlib.suppress(OSError):
                        proc.stdin.close()
        if not result_path.exists():
            return None, f"the worker exited with status {proc.returncode} (see {log_path})"
        result = WorkerResult.from_json(result_path.read_text(encoding="utf-8"))
        if proc.returncode != 0:
            result.notes.append(
                f"{spec.contender}: the worker process exited with status {proc.returncode} "
                "after writing its result"
            )
        return result, None


def check_worker(contender: str, python: str) -> tuple[str | None, dict[str, str]]:
    """Whether ``contender`` can run under ``python``: (reason it cannot, versions)."""
    import json

    if python == sys.executable:
        return unavailable_reason(contender), {}
    try:
        out = subprocess.run(
            [python, "-m", "resilient_s3_bench.worker", "--check", contender],
            capture_output=True,
            text=True,
            timeout=60,
            env=_worker_env(python),
            check=True,
        )
        answer = json.loads(out.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return f"{python} cannot run the worker: {exc}", {}
    reason: str | None = answer.get("unavailable")
    return reason, dict(answer.get("versions", {}))


# -- verification and clean-up ------------------------------------------------------------


@dataclass
class Verification:
    files_landed: int = 0
    bytes_verified: int = 0
    method: str = ""
    problems: list[str] = field(default_factory=list)


def _check_one(client: Any, bucket: str, key: str, want: Expected, full: bool) -> str | None:
    """None if the object is there and right, else what is wrong with it."""
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{key}: missing" if status == 404 else f"{key}: HeadObject failed: {exc}"
    if head["ContentLength"] != want.size:
        return f"{key}: {head['ContentLength']} bytes, expected {want.size}"
    etag = head.get("ETag", "").strip('"').lower()
    if _MD5_ETAG.fullmatch(etag) and etag != want.md5:
        return f"{key}: ETag {etag} is not the MD5 of the data"
    if not _MD5_ETAG.fullmatch(etag) and not _MULTIPART_ETAG.fullmatch(etag):
        return f"{key}: malformed ETag {etag!r}"
    if full:
        digest = hashlib.sha256()
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        for chunk in body.iter_chunks(4 * MiB):
            digest.update(chunk)
        if digest.hexdigest() != want.sha256:
            return f"{key}: content differs (SHA-256 of a full GET)"
    return None


def verify(
    client: Any, bucket: str, prefix: str, expected: Sequence[Expected], *, full: bool
) -> Verification:
    """HeadObject every expected object (size, ETag sanity: the MD5 of the data for a single
    PUT, ``md5-N`` for multipart); with ``full``, GET it and compare its SHA-256."""
    with ThreadPoolExecutor(_VERIFY_THREADS) as pool:
        problems = list(
            pool.map(lambda e: _check_one(client, bucket, prefix + e.name, e, full), expected)
        )
    result = Verification(method="HeadObject size+ETag" + (", GET SHA-256" if full else ""))
    for want, problem in zip(expected, problems, strict=True):
        if problem is None:
            result.files_landed += 1
            result.bytes_verified += want.size
        else:
            result.problems.append(problem)
    return result


def clean_up(client: Any, bucket: str, prefix: str) -> int | None:
    """Abort multipart uploads left under ``prefix`` and delete its objects; the number of
    multipart uploads that were left open (None if the server cannot list them)."""
    left: int | None = 0
    try:
        for page in client.get_paginator("list_multipart_uploads").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            for upload in page.get("Uploads", []):
                assert left is not None
                left += 1
                with contextlib.suppress(Exception):
                    client.abort_multipart_upload(
                        Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
    except Exception:
        left = None
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    return left


def warm_up(client: Any, bucket: str, data: DataSet, prefix: str) -> None:
    """Write (and delete) some data first, so that the first contender does not pay for the
    server's first volumes and connections."""
    with contextlib.suppress(Exception):
        if data.large is not None:
            with data.large_path.open("rb") as f:
                chunk = f.read(min(data.large.size, 32 * MiB))
            client.put_object(Bucket=bucket, Key=prefix + "large", Body=chunk)
        for expected in data.small[:32]:
            body = (data.small_dir / expected.name).read_bytes()
            client.put_object(Bucket=bucket, Key=prefix + expected.name, Body=body)
    with contextlib.suppress(Exception):
        clean_up(client, bucket, prefix)


# -- the benchmark ------------------------------------------------------------------------


def rotated(items: Sequence[str], shift: int) -> list[str]:
    """``items`` rotated left by ``shift``: each item takes each position across repeats."""
    if not items:
        return []
    shift %= len(items)
    return [*items[shift:], *items[:shift]]


def plan_runs(config: BenchConfig) -> list[tuple[int, str, str, str]]:
    """(repeat, profile, workload, contender) in the order they run."""
    return [
        (repeat, profile, workload, contender)
        for repeat in range(config.repeat)
        for profile in config.profiles
        for workload in config.workloads
        for contender in rotated(config.contenders, repeat)
    ]


def _label(run: RunRecord, repeats: int) -> str:
    text = f"{run.contender} {run.workload}/{run.profile}"
    return text + (f" (repeat {run.repeat + 1}/{repeats})" if repeats > 1 else "")


def _outcome_line(run: RunRecord) -> str:
    if run.status == "skipped":
        return f"skipped: {run.error}"
    if run.wall_s is None:
        return f"{run.status.upper()}: {run.error}"
    rate = f"{run.mib_s:.1f} MiB/s" if run.workload == "large" else f"{run.files_s:.0f} files/s"
    landed = f"{run.files_landed}/{run.files_attempted} landed"
    faults = f", {run.faults_total} faults" if run.faults_total else ""
    if run.survived:
        return f"ok {rate}, {landed}{faults}"
    return f"{run.status.upper()} {landed}{faults}: {run.error or '; '.join(run.problems[:2])}"


def _fill_from_worker(run: RunRecord, result: WorkerResult) -> None:
    run.files_attempted = result.files_attempted
    run.files_reported = result.files_ok
    run.bytes_attempted = result.bytes_attempted
    run.retries, run.retries_by_cause = result.retries, result.retries_by_cause
    run.attempts = result.attempts
    run.error = result.error
    run.notes = list(result.notes)
    run.details = dict(result.details)
    if result.wall is not None:
        run.wall_s = result.wall
        run.mib_s = result.bytes_attempted / MiB / result.wall if result.wall else None
        if run.workload == "small" and result.wall:
            run.files_s = result.files_attempted / result.wall
    if result.cpu_user is not None and result.cpu_sys is not None:
        run.cpu_s = result.cpu_user + result.cpu_sys
        if result.bytes_attempted:
            run.cpu_s_per_gib = run.cpu_s / (result.bytes_attempted / GiB)
        if run.workload == "small" and result.files_attempted:
            run.cpu_s_per_1000_files = run.cpu_s * 1000 / result.files_attempted
    if result.peak_rss_kib is not None:
        run.peak_rss_mib = result.peak_rss_kib / 1024
    if result.rss_before_kib is not None:
        run.rss_before_mib = result.rss_before_kib / 1024


def run_bench(
    config: BenchConfig,
    target: Target,
    data: DataSet,
    *,
    logs: Path,
    progress: Progress,
    mask: Callable[[str], str] = lambda text: text,
) -> BenchResults:
    """Run every planned run against ``target``; failures of contenders are results."""
    results = BenchResults(config, target, data)
    admin = target.client(max_pool_connections=_VERIFY_THREADS)
    bucket = config.bucket or "rs3-bench"
    session = os.urandom(3).hex()
    logs.mkdir(parents=True, exist_ok=True)

    for contender in config.contenders:
        reason, versions = check_worker(contender, config.python_for(contender))
        if versions:
            results.versions[contender] = versions
        if reason is not None:
            results.notes.append(f"{contender} skipped: {reason}")
            for profile in config.profiles:
                for workload in config.workloads:
                    results.skipped[(contender, workload, profile)] = reason
    for profile in config.profiles:
        reason = profile_unavailable(profile, target)
        if reason is not None:
            results.notes.append(f"profile {profile} skipped: {reason}")
            for contender in config.contenders:
                for workload in config.workloads:
                    results.skipped.setdefault((contender, workload, profile), reason)

    planned = [p for p in plan_runs(config) if (p[3], p[2], p[1]) not in results.skipped]
    unreclaimed = 0
    if planned:
        progress.message("warming the server up ...")
        warm_up(admin, bucket, data, f"bench-{session}/warm-up/")
    try:
        for index, (repeat, profile, workload, contender) in enumerate(planned, 1):
            if (contender, workload, profile) in results.skipped:
                continue  # an earlier repeat found it cannot run
            run = RunRecord(index, repeat, contender, workload, profile)
            progress.start(index, len(planned), _label(run, config.repeat))
            prefix = f"bench-{session}/{index:04d}-{contender}-{workload}-{profile}/"
            _one_run(run, config, target, data, admin, bucket, prefix, logs, mask)
            unreclaimed += run.bytes_attempted
            if target.reclaim is not None and unreclaimed >= RECLAIM_EVERY:
                started = time.monotonic()
                target.reclaim()
                run.harness_s["reclaim"] = round(time.monotonic() - started, 3)
                unreclaimed = 0
            if run.status == "skipped":
                results.skipped[(contender, workload, profile)] = run.error or "skipped"
                results.notes.append(f"{contender} {workload}/{profile} skipped: {run.error}")
            else:
                results.runs.append(run)
            progress.finish(_outcome_line(run))
    except KeyboardInterrupt:
        results.interrupted = True
        progress.message("interrupted: writing the results of the finished runs")
    finally:
        admin.close()
    results.finished = time.time()
    return results


def _one_run(
    run: RunRecord,
    config: BenchConfig,
    target: Target,
    data: DataSet,
    admin: Any,
    bucket: str,
    prefix: str,
    logs: Path,
    mask: Callable[[str], str],
) -> None:
    log_path = logs / f"{run.index:04d}-{run.contender}-{run.workload}-{run.profile}.log"
    python = config.python_for(run.contender)
    result: WorkerResult | None = None
    failure: str | None = None
    try:
        with profile_env(
            run.profile,
            target,
            seed=config.seed + run.repeat,
            via_proxy=config.via_proxy,
            key_lifetime=config.key_lifetime,
        ) as env:
            spec = RunSpec(
                contender=run.contender,
                workload=run.workload,  # type: ignore[arg-type]
                endpoint_url=env.endpoint_url,
                region=target.region,
                bucket=bucket,
                prefix=prefix,
                source=str(data.source(run.workload)),
                access_key=None if env.credentials_url else target.access_key,
                secret_key=None if env.credentials_url else target.secret_key,
                credentials_url=env.credentials_url,
                refresh_margin=REFRESH_MARGIN,
                ca_bundle=target.ca_bundle,
            )
            if env.proxy is not None:
                env.proxy.reset_stats()
            started, server_cpu = time.monotonic(), target.server_cpu_seconds()
            result, failure = run_worker(spec, python, config.timeout, log_path)
            run.harness_s["worker"] = round(time.monotonic() - started, 3)
            server_cpu_after = target.server_cpu_seconds()
            if server_cpu is not None and server_cpu_after is not None:
                run.server_cpu_s = server_cpu_after - server_cpu
            if env.proxy is not None:
                stats = env.proxy.stats
                run.requests = stats.total_requests
                run.faults = dict(stats.faults)
            if env.credentials is not None:
                run.keys_issued = env.credentials.served
    finally:
        _mask_log(log_path, mask)
    if result is not None and result.skipped:
        run.status, run.error = "skipped", result.skipped
        with contextlib.suppress(Exception):
            clean_up(admin, bucket, prefix)
        return
    if result is None:
        run.status = "timeout" if failure and failure.startswith("timed out") else "failed"
        run.error = failure
        run.files_attempted = len(data.expected(run.workload))
        run.bytes_attempted = data.size(run.workload)
    else:
        _fill_from_worker(run, result)
    _per_unit_server_cpu(run)
    full = config.verify and run.workload == "large"
    started = time.monotonic()
    checked = verify(admin, bucket, prefix, data.expected(run.workload), full=full)
    run.files_landed, run.bytes_verified = checked.files_landed, checked.bytes_verified
    run.verification, run.problems = checked.method, checked.problems[:20]
    run.harness_s["verify"] = round(time.monotonic() - started, 3)
    started = time.monotonic()
    run.multipart_uploads_left = clean_up(admin, bucket, prefix)
    run.harness_s["clean_up"] = round(time.monotonic() - started, 3)
    if run.status != "timeout":
        everything = checked.files_landed == len(data.expected(run.workload))
        run.status = "survived" if everything and result is not None and result.ok else "failed"
        if everything and result is not None and not result.ok and run.error is None:
            run.error = "the contender reported a failure although every object landed"


def _per_unit_server_cpu(run: RunRecord) -> None:
    if run.server_cpu_s is None or not run.bytes_attempted:
        return
    run.server_cpu_s_per_gib = run.server_cpu_s / (run.bytes_attempted / GiB)
    if run.workload == "small" and run.files_attempted:
        run.server_cpu_s_per_1000_files = run.server_cpu_s * 1000 / run.files_attempted


def _mask_log(path: Path, mask: Callable[[str], str]) -> None:
    with contextlib.suppress(OSError):
        text = path.read_text(encoding="utf-8", errors="replace")
        if not text.strip():
            path.unlink()
            return
        masked = mask(text)
        if masked != text:
            path.write_text(masked, encoding="utf-8")


# -- summaries ----------------------------------------------------------------------------


@dataclass
class SummaryRow:
    """One (contender, workload, profile): medians over the runs that survived."""

    contender: str
    workload: str
    profile: str
    status: str
    """``survived`` (all runs), ``partial``, ``failed``, ``timeout`` or ``skipped``."""
    runs: int = 0
    survived: int = 0
    wall_s: float | None = None
    mib_s: float | None = None
    files_s: float | None = None
    cpu_s_per_gib: float | None = None
    cpu_s_per_1000_files: float | None = None
    server_cpu_s_per_gib: float | None = None
    server_cpu_s_per_1000_files: float | None = None
    peak_rss_mib: float | None = None
    files_attempted: int = 0
    files_landed: int = 0
    bytes_attempted: int = 0
    bytes_verified: int = 0
    retries: float | None = None
    requests: float | None = None
    faults: float | None = None
    multipart_uploads_left: int | None = None
    signing: str = ""
    note: str = ""


def _median(values: Sequence[float | int | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(results: BenchResults) -> list[SummaryRow]:
    rows: list[SummaryRow] = []
    config = results.config
    for contender in config.contenders:
        for workload in config.workloads:
            for profile in config.profiles:
                key = (contender, workload, profile)
                runs = [r for r in results.runs if (r.contender, r.workload, r.profile) == key]
                row = SummaryRow(contender, workload, profile, "skipped")
                row.signing = CONTENDERS[contender].signing
                if not runs:
                    row.note = results.skipped.get(key, "not run")
                    rows.append(row)
                    continue
                good = [r for r in runs if r.survived]
                row.runs, row.survived = len(runs), len(good)
                if len(good) == len(runs):
                    row.status = "survived"
                elif good:
                    row.status = "partial"
                else:
                    row.status = "timeout" if all(r.status == "timeout" for r in runs) else "failed"
                row.wall_s = _median([r.wall_s for r in good])
                row.mib_s = _median([r.mib_s for r in good])
                row.files_s = _median([r.files_s for r in good]) if workload == "small" else None
                row.cpu_s_per_gib = _median([r.cpu_s_per_gib for r in good])
                row.cpu_s_per_1000_files = _median([r.cpu_s_per_1000_files for r in good])
                row.server_cpu_s_per_gib = _median([r.server_cpu_s_per_gib for r in good])
                row.server_cpu_s_per_1000_files = _median(
                    [r.server_cpu_s_per_1000_files for r in good]
                )
                row.peak_rss_mib = _median([r.peak_rss_mib for r in runs])
                row.files_attempted = sum(r.files_attempted for r in runs)
                row.files_landed = sum(r.files_landed for r in runs)
                row.bytes_attempted = sum(r.bytes_attempted for r in runs)
                row.bytes_verified = sum(r.bytes_verified for r in runs)
                row.retries = _median([r.retries for r in runs])
                row.requests = _median([r.requests for r in runs])
                row.faults = _median([r.faults_total for r in runs])
                lefts = [
                    r.multipart_uploads_left for r in runs if r.multipart_uploads_left is not None
                ]
                row.multipart_uploads_left = sum(lefts) if lefts else None
                failed = [r for r in runs if not r.survived]
                if failed:
                    first = failed[0]
                    row.note = (first.error or "; ".join(first.problems[:2]) or first.status)[:300]
                rows.append(row)
    return rows
