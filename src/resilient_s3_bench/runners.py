"""The contenders' upload code, run inside a worker process.

Each runner makes its clients, then uploads inside ``with timer:`` and reports what happened
as an :class:`Outcome`. Every contender keeps its own defaults (retries included): that is
what is being compared. Upload failures are results, not exceptions.

Over 500 lines because it holds one runner per contender, side by side, so that how each
client is used can be compared at a glance.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import os
import shlex
import shutil
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .protocol import LARGE_KEY, MiB, RunSpec

if TYPE_CHECKING:
    from .measure import Timer

_PROFILE = "resilient-s3-bench"
_MAX_ERROR = 500


class Unsupported(Exception):
    """The contender cannot run this spec here (the run is reported as skipped)."""


@dataclass
class Outcome:
    files_attempted: int
    bytes_attempted: int
    files_ok: int = 0
    error: str | None = None
    retries: int | None = None
    retries_by_cause: dict[str, int] | None = None
    attempts: int | None = None
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def _optional(name: str) -> Any:
    """Import an optional module as ``Any`` (it may be absent when types are checked)."""
    return importlib.import_module(name)


def _describe(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    diagnosis = getattr(exc, "diagnosis", None)
    cause = getattr(diagnosis, "cause", None)
    if cause is not None:
        text += f" [diagnosis: {cause}]"
    return text[:_MAX_ERROR]


def _jobs(spec: RunSpec) -> list[tuple[Path, str]]:
    """(file, key) pairs to upload."""
    source = Path(spec.source)
    if spec.workload == "large":
        return [(source, spec.prefix + LARGE_KEY)]
    return [(p, spec.prefix + p.name) for p in sorted(source.iterdir()) if p.is_file()]


def _outcome(spec: RunSpec) -> tuple[list[tuple[Path, str]], Outcome]:
    jobs = _jobs(spec)
    return jobs, Outcome(len(jobs), sum(p.stat().st_size for p, _ in jobs))


def _first_error(errors: list[BaseException | None], total: int) -> str | None:
    failed = [e for e in errors if e is not None]
    if not failed:
        return None
    return f"{len(failed)} of {total} files failed; first: {_describe(failed[0])}"[:_MAX_ERROR]


async def _each_file(
    jobs: list[tuple[Path, str]],
    in_flight: int,
    put: Callable[[Path, str], Awaitable[None]],
) -> list[BaseException | None]:
    """``put`` every (path, key), ``in_flight`` at a time; each one's exception, or None."""
    limit = asyncio.Semaphore(in_flight)

    async def one(path: Path, key: str) -> BaseException | None:
        async with limit:
            try:
                await put(path, key)
            except Exception as exc:
                return exc
        return None

    return list(await asyncio.gather(*(one(p, k) for p, k in jobs)))


# -- credentials --------------------------------------------------------------------------


def _credential_process_config(spec: RunSpec) -> None:
    """Point botocore at a profile whose ``credential_process`` asks the parent for keys."""
    assert spec.credentials_url is not None
    directory = tempfile.mkdtemp(prefix="rs3-bench-aws-")
    atexit.register(shutil.rmtree, directory, True)
    command = shlex.join([sys.executable, "-m", "resilient_s3_bench.creds", spec.credentials_url])
    config = Path(directory) / "config"
    config.write_text(
        f"[profile {_PROFILE}]\nregion = {spec.region}\ncredential_process = {command}\n",
        encoding="utf-8",
    )
    empty = Path(directory) / "credentials"
    empty.write_text("", encoding="utf-8")
    os.environ["AWS_CONFIG_FILE"] = str(config)
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(empty)


def _scale_refresh(credentials: Any, margin: float) -> None:
    """botocore refreshes 15 minutes (advisory) / 10 minutes (mandatory) before expiry, made
    for hour-long sessions; the bench compresses lifetimes to seconds, and the margins with
    them, as ``CredentialVendor.botocore_credentials`` does."""
    if hasattr(credentials, "_advisory_refresh_timeout"):
        credentials._advisory_refresh_timeout = margin
        credentials._mandatory_refresh_timeout = margin / 2


def botocore_session(spec: RunSpec) -> Any:
    """A botocore session with the spec's credentials (static, or refreshed from the parent
    through ``credential_process``)."""
    import botocore.session

    if spec.credentials_url is not None:
        _credential_process_config(spec)
        core = botocore.session.Session(profile=_PROFILE)
        _scale_refresh(core.get_credentials(), spec.refresh_margin)
    else:
        core = botocore.session.Session()
        core.set_credentials(spec.access_key, spec.secret_key)
    core.set_config_variable("region", spec.region)
    return core


def boto3_session(spec: RunSpec) -> Any:
    import boto3

    return boto3.Session(botocore_session=botocore_session(spec))


# -- botocore request counting ------------------------------------------------------------


class CallCounter:
    """Counts botocore's HTTP attempts and API calls through its event hooks; retries are
    attempts that were not the last of their call. Failed attempts are counted by cause."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.attempts = 0
        self.calls = 0
        self.errors: Counter[str] = Counter()

    def attach(self, events: Any) -> None:
        events.register("before-send.s3", self._on_send)
        events.register("needs-retry.s3", self._on_needs_retry)
        events.register("after-call.s3", self._on_call)
        events.register("after-call-error.s3", self._on_call)

    def _on_send(self, **kwargs: Any) -> None:
        with self._lock:
            self.attempts += 1

    def _on_call(self, **kwargs: Any) -> None:
        with self._lock:
            self.calls += 1

    def _on_needs_retry(
        self, response: Any = None, caught_exception: Any = None, **kwargs: Any
    ) -> None:
        cause = None
        if caught_exception is not None:
            cause = type(caught_exception).__name__
        elif response is not None:
            http, parsed = response
            code = (parsed or {}).get("Error", {}).get("Code")
            if code or getattr(http, "status_code", 200) >= 300:
                cause = f"{getattr(http, 'status_code', '?')} {code or ''}".strip()
        if cause is not None:
            with self._lock:
                self.errors[cause] += 1

    def report(self, outcome: Outcome) -> None:
        outcome.attempts = self.attempts
        outcome.retries = max(self.attempts - self.calls, 0)
        outcome.retries_by_cause = dict(self.errors)
        outcome.details["failed_attempts_by_cause"] = dict(self.errors)


def _path_style(**kwargs: Any) -> Any:
    from botocore.config import Config

    return Config(s3={"addressing_style": "path"}, **kwargs)


# -- resilient-s3 -------------------------------------------------------------------------


def _resilient_report(outcome: Outcome, results: list[Any]) -> None:
    retries: Counter[str] = Counter()
    for r in results:
        retries.update(r.retries)
    outcome.files_ok = len(results)
    outcome.retries = sum(retries.values())
    outcome.retries_by_cause = dict(retries)
    outcome.attempts = sum(r.attempts for r in results)
    outcome.details["credential_refreshes"] = sum(r.credential_refreshes for r in results)
    outcome.details["strategies"] = dict(Counter(r.strategy for r in results))
    outcome.details["parts"] = sum(r.parts for r in results)


def run_resilient_async(spec: RunSpec, timer: Timer) -> Outcome:
    from resilient_s3 import AsyncResilientUploader, DirectoryUploadError, UploadError

    jobs, outcome = _outcome(spec)
    session = boto3_session(spec)

    async def main() -> None:
        results: list[Any] = []
        async with AsyncResilientUploader(
            session=session,
            endpoint_url=spec.endpoint_url,
            region_name=spec.region,
            verify=spec.ca_bundle,
        ) as up:
            try:
                with timer:
                    if spec.workload == "large":
                        path, key = jobs[0]
                        results = [await up.upload_file(path, spec.bucket, key)]
                    else:
                        results = await up.upload_directory(
                            spec.source, spec.bucket, prefix=spec.prefix
                        )
            except DirectoryUploadError as exc:
                results = exc.results
                outcome.error = _describe(exc)
            except UploadError as exc:
                outcome.error = _describe(exc)
        _resilient_report(outcome, results)

    asyncio.run(main())
    return outcome


def run_resilient_sync(spec: RunSpec, timer: Timer) -> Outcome:
    from resilient_s3 import DirectoryUploadError, ResilientUploader, UploadError

    jobs, outcome = _outcome(spec)
    results: list[Any] = []
    with ResilientUploader(
        session=boto3_session(spec),
        endpoint_url=spec.endpoint_url,
        region_name=spec.region,
        verify=spec.ca_bundle,
    ) as up:
        try:
            with timer:
                if spec.workload == "large":
                    path, key = jobs[0]
                    results = [up.upload_file(path, spec.bucket, key)]
                else:
                    results = up.upload_directory(spec.source, spec.bucket, prefix=spec.prefix)
        except DirectoryUploadError as exc:
            results = exc.results
            outcome.error = _describe(exc)
        except UploadError as exc:
            outcome.error = _describe(exc)
    _resilient_report(outcome, results)
    return outcome


# -- boto3 --------------------------------------------------------------------------------


def _run_boto3(spec: RunSpec, timer: Timer, *, tuned: bool) -> Outcome:
    from boto3.s3.transfer import TransferConfig

    jobs, outcome = _outcome(spec)
    small = spec.workload == "small"
    if tuned:
        pool: dict[str, Any] = {"max_pool_connections": 32}
        transfer: Any = TransferConfig(
            max_concurrency=16, multipart_chunksize=16 * MiB, multipart_threshold=16 * MiB
        )
    else:
        pool = {"max_pool_connections": 16} if small else {}
        transfer = None  # upload_file's default TransferConfig
    client = boto3_session(spec).client(
        "s3",
        endpoint_url=spec.endpoint_url,
        region_name=spec.region,
        config=_path_style(**pool),
        verify=spec.ca_bundle,
    )
    counter = CallCounter()
    counter.attach(client.meta.events)

    def one(job: tuple[Path, str]) -> BaseException | None:
        try:
            client.upload_file(str(job[0]), spec.bucket, job[1], Config=transfer)
        except Exception as exc:
            return exc
        return None

    with timer:
        if small:
            with ThreadPoolExecutor(32 if tuned else 16) as pool_:
                errors = list(pool_.map(one, jobs))
        else:
            errors = [one(jobs[0])]
    outcome.files_ok = errors.count(None)
    outcome.error = _first_error(errors, len(jobs))
    counter.report(outcome)
    client.close()
    return outcome


def run_boto3(spec: RunSpec, timer: Timer) -> Outcome:
    return _run_boto3(spec, timer, tuned=False)


def run_boto3_tuned(spec: RunSpec, timer: Timer) -> Outcome:
    return _run_boto3(spec, timer, tuned=True)


# -- aioboto3 -----------------------------------------------------------------------------


def _read_small_file(path: Path) -> bytes:
    """Read a small file on the event loop: from the page cache this takes microseconds, less
    than a hop to a worker thread would."""
    return path.read_bytes()


def run_aioboto3(spec: RunSpec, timer: Timer) -> Outcome:
    aioboto3 = _optional("aioboto3")
    from aiobotocore.config import AioConfig

    jobs, outcome = _outcome(spec)
    small = spec.workload == "small"
    if spec.credentials_url is not None:
        _credential_process_config(spec)
        session = aioboto3.Session(profile_name=_PROFILE, region_name=spec.region)
    else:
        session = aioboto3.Session(
            aws_access_key_id=spec.access_key,
            aws_secret_access_key=spec.secret_key,
            region_name=spec.region,
        )
    config = AioConfig(
        s3={"addressing_style": "path"}, **({"max_pool_connections": 32} if small else {})
    )
    counter = CallCounter()

    async def main() -> list[BaseException | None]:
        if spec.credentials_url is not None:
            _scale_refresh(await session.get_credentials(), spec.refresh_margin)
        async with session.client(
            "s3",
            endpoint_url=spec.endpoint_url,
            region_name=spec.region,
            config=config,
            verify=spec.ca_bundle,
        ) as client:
            counter.attach(client.meta.events)
            if not small:
                path, key = jobs[0]
                with timer:
                    try:
                        await client.upload_file(str(path), spec.bucket, key)
                    except Exception as exc:
                        return [exc]
                return [None]

            async def put(path: Path, key: str) -> None:
                body = _read_small_file(path)
                await client.put_object(Bucket=spec.bucket, Key=key, Body=body)

            with timer:
                return await _each_file(jobs, 32, put)

    errors = asyncio.run(main())
    outcome.files_ok = errors.count(None)
    outcome.error = _first_error(errors, len(jobs))
    counter.report(outcome)
    return outcome


# -- AWS CRT ------------------------------------------------------------------------------


def boto3_crt_endpoint(session: Any, region: str) -> dict[str, Any]:
    """What boto3 does with ``TransferConfig(preferred_transfer_client="crt")``, found without
    sending a request: whether it picks the CRT, and the endpoint its request serializer uses
    (boto3 builds it with ``endpoint_url=None``, whatever the client's endpoint)."""
    try:
        from boto3.s3.transfer import TransferConfig, _should_use_crt

        crt = _optional("boto3.crt")
        serializer = crt._create_crt_request_serializer(session, region)
        return {
            "boto3_picks_crt": bool(
                _should_use_crt(TransferConfig(preferred_transfer_client="crt"))
            ),
            "boto3_crt_endpoint": serializer._client.meta.endpoint_url,
        }
    except Exception as exc:  # private boto3 internals: report, do not fail the run
        return {"boto3_crt_introspection": f"failed: {_describe(exc)}"}


def run_aws_crt(spec: RunSpec, timer: Timer) -> Outcome:
    s3crt = _optional("s3transfer.crt")
    jobs, outcome = _outcome(spec)
    core = botocore_session(spec)
    outcome.details.update(boto3_crt_endpoint(core, spec.region))
    if outcome.details.get("boto3_crt_endpoint") not in (None, spec.endpoint_url):
        outcome.notes.append(
            "boto3 TransferConfig(preferred_transfer_client='crt') does pick s3transfer's "
            "CRTTransferManager, but builds its request serializer with endpoint_url=None "
            f"(requests would go to {outcome.details['boto3_crt_endpoint']}, never to the "
            "endpoint); this contender builds the same manager explicitly: "
            "create_s3_crt_client + BotocoreCRTRequestSerializer + CRTTransferManager"
        )
    provider = s3crt.BotocoreCRTCredentialsWrapper(
        core.get_credentials()
    ).to_crt_credentials_provider()
    crt_client = s3crt.create_s3_crt_client(
        spec.region,
        crt_credentials_provider=provider,
        use_ssl=spec.endpoint_url.startswith("https:"),
        verify=spec.ca_bundle,  # a CA bundle path replaces the default trust store
    )
    serializer = s3crt.BotocoreCRTRequestSerializer(
        core,
        {"region_name": spec.region, "endpoint_url": spec.endpoint_url, "config": _path_style()},
    )
    errors: list[BaseException | None] = []
    with s3crt.CRTTransferManager(crt_client, serializer) as manager, timer:
        futures = [manager.upload(str(path), spec.bucket, key) for path, key in jobs]
        for future in futures:
            try:
                future.result()
                errors.append(None)
            except Exception as exc:
                errors.append(exc)
    outcome.files_ok = errors.count(None)
    outcome.error = _first_error(errors, len(jobs))
    return outcome


# -- obstore ------------------------------------------------------------------------------


class UrlCredentialProvider:
    """An obstore ``credential_provider``: keys from the parent, with their expiry."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fetches = 0

    def __call__(self) -> dict[str, Any]:
        from .creds import fetch

        document = fetch(self.url)
        self.fetches += 1
        return {
            "access_key_id": document["AccessKeyId"],
            "secret_access_key": document["SecretAccessKey"],
            "token": None,
            "expires_at": datetime.fromisoformat(document["Expiration"].replace("Z", "+00:00")),
        }


def run_obstore(spec: RunSpec, timer: Timer) -> Outcome:
    obstore = _optional("obstore")
    store_module = _optional("obstore.store")
    jobs, outcome = _outcome(spec)
    client_options: dict[str, Any] = {"allow_http": True}
    if spec.ca_bundle is not None:
        # Added to the trusted roots (ClientConfig.root_certificate, in obstore 0.12.1).
        client_options["root_certificate"] = Path(spec.ca_bundle).read_text(encoding="ascii")
    options: dict[str, Any] = {
        "endpoint": spec.endpoint_url,
        "region": spec.region,
        "client_options": client_options,
    }
    provider = None
    if spec.credentials_url is not None:
        provider = UrlCredentialProvider(spec.credentials_url)
        options["credential_provider"] = provider
    else:
        options["access_key_id"] = spec.access_key
        options["secret_access_key"] = spec.secret_key
    try:
        store = store_module.S3Store(spec.bucket, **options)
    except TypeError as exc:
        if provider is not None:
            raise Unsupported(f"this obstore has no credential_provider: {exc}") from exc
        raise
    except ValueError as exc:
        if "root_certificate" in str(exc):  # older obstore: "Invalid key: root_certificate."
            raise Unsupported(
                f"this obstore cannot be told to trust a custom CA: {exc} (obstore 0.12.1 "
                "has ClientConfig.root_certificate; verification is never turned off instead)"
            ) from exc
        raise

    errors: list[BaseException | None] = []
    if spec.workload == "large":
        path, key = jobs[0]
        with timer:
            try:
                obstore.put(store, key, path)  # defaults: 5 MiB chunks, 12 in flight
                errors.append(None)
            except Exception as exc:
                errors.append(exc)
    else:

        async def main() -> list[BaseException | None]:
            async def put(path: Path, key: str) -> None:
                await obstore.put_async(store, key, path)

            with timer:
                return await _each_file(jobs, 64, put)

        errors = asyncio.run(main())
    outcome.files_ok = errors.count(None)
    outcome.error = _first_error(errors, len(jobs))
    if provider is not None:
        outcome.details["credential_fetches"] = provider.fetches
    return outcome


RUNNERS: dict[str, Callable[[RunSpec, Timer], Outcome]] = {
    "resilient-s3-async": run_resilient_async,
    "resilient-s3-sync": run_resilient_sync,
    "boto3": run_boto3,
    "boto3-tuned": run_boto3_tuned,
    "aioboto3": run_aioboto3,
    "aws-crt": run_aws_crt,
    "obstore": run_obstore,
}
