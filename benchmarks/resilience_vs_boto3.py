"""Issue 5's fault scenarios, each run with resilient-s3 and with plain boto3, side by side.

    python benchmarks/resilience_vs_boto3.py [--out docs/resilience-table.md] [--seed 5]

Starts an embedded SeaweedFS server and, per scenario, a chaos proxy in front of it; runs the
same upload with resilient-s3 (defaults) and with boto3's ``upload_file`` (default
TransferConfig, ``retries={"mode": "standard"}``), then checks on the server what really
happened: is the object there and byte-exact, is a multipart upload left open. Prints a
Markdown table (the one in docs/resilience.md) and writes it to ``--out`` if given.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from resilient_s3._bench.harness import clean_up

from resilient_s3 import ResilientUploader, UploadError
from resilient_s3.testing import (
    ChaosProxy,
    CredentialVendor,
    Fault,
    FaultKind,
    Identity,
    S3Server,
    skewed_clock,
)

MiB = 1024 * 1024
HEAVY = {"slowdown": 0.15, "too_many": 0.05, "internal_error": 0.03, "reset": 0.03}


@dataclass
class Scenario:
    name: str
    size: int  # bytes per file
    files: int = 1
    proxy: Callable[[S3Server, int], ChaosProxy] | None = None
    session: str = "admin"  # admin | wrong-secret | reader | vendor
    bucket: str = "bench"
    clock: int = 0
    must_fail: bool = False  # the right outcome is a clear failure (nothing written)


def faulty(**kwargs: Any) -> Callable[[S3Server, int], ChaosProxy]:
    return lambda server, seed: ChaosProxy(server.endpoint_url, seed=seed, **kwargs)


SCENARIOS = [
    Scenario(
        "15% SlowDown + 5% 429 + 3% 500 + 3% resets, 200 MiB",
        200 * MiB,
        proxy=faulty(**HEAVY, reset_after=32 * 1024),
    ),
    Scenario(
        "same faults, 50 x 64 KiB files",
        64 * 1024,
        files=50,
        proxy=faulty(**HEAVY, reset_after=32 * 1024),
    ),
    Scenario(
        "keys rotating every 10 s, server expires them 2 s early, 160 MiB at 6 MiB/s",
        160 * MiB,
        proxy=faulty(bandwidth=6 * MiB),
        session="vendor",
    ),
    Scenario("client clock 20 min ahead, 20 MiB", 20 * MiB, clock=20 * 60),
    Scenario("client clock 20 min behind, 20 MiB", 20 * MiB, clock=-20 * 60),
    Scenario(
        "CompleteMultipartUpload answer lost every time, 20 MiB",
        20 * MiB,
        proxy=faulty(faults=[Fault(FaultKind.LOSE_RESPONSE, 1.0, {"CompleteMultipartUpload"})]),
    ),
    Scenario(
        "CompleteMultipartUpload never reaches the server, 20 MiB",
        20 * MiB,
        proxy=faulty(
            faults=[Fault(FaultKind.RESET, 1.0, {"CompleteMultipartUpload"}, after_bytes=0)]
        ),
        must_fail=True,
    ),
    Scenario("wrong secret key, 20 MiB", 20 * MiB, session="wrong-secret", must_fail=True),
    Scenario("missing bucket, 20 MiB", 20 * MiB, bucket="no-such-bucket", must_fail=True),
    Scenario("no write permission, 20 MiB", 20 * MiB, session="reader", must_fail=True),
]


@dataclass
class Outcome:
    reported: str  # what the client said
    truth: str  # what the server holds
    requests: int
    seconds: float
    open_uploads: int

    @property
    def verdict(self) -> str:
        return f"{self.reported}; {self.truth}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--only", help="run the scenarios whose name contains this")
    args = parser.parse_args()
    reader = Identity(
        "reader", f"READER{secrets.token_hex(6).upper()}", secrets.token_hex(20), ("Read", "List")
    )
    lines = [
        "| scenario | client | reported | on the server | requests | seconds | uploads left open |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    with (
        tempfile.TemporaryDirectory() as tmp,
        S3Server(buckets=["bench"], identities=(*CredentialVendor.pool(32), reader)) as server,
    ):
        admin = server.boto3_client()
        for scenario in SCENARIOS:
            if args.only and args.only not in scenario.name:
                continue
            files = make_files(Path(tmp), scenario)
            for client in ("resilient-s3", "boto3"):
                clean_up(admin, "bench", "")
                outcome = run(server, admin, scenario, client, files, args.seed)
                row = (
                    f"| {scenario.name} | {client} | {outcome.reported} | {outcome.truth} | "
                    f"{outcome.requests} | {outcome.seconds:.1f} | {outcome.open_uploads} |"
                )
                print(row, flush=True)
                lines.append(row)
    table = "\n".join(lines) + "\n"
    print()
    print(table)
    if args.out:
        args.out.write_text(table)


def make_files(tmp: Path, scenario: Scenario) -> dict[str, tuple[Path, str]]:
    folder = tmp / f"{scenario.size}-{scenario.files}"
    folder.mkdir(exist_ok=True)
    files = {}
    for n in range(scenario.files):
        path = folder / f"{n:02d}"
        if not path.exists():
            path.write_bytes(os.urandom(scenario.size))
        files[f"k/{n:02d}"] = (path, hashlib.sha256(path.read_bytes()).hexdigest())
    return files


def run(
    server: S3Server,
    admin: Any,
    scenario: Scenario,
    client: str,
    files: dict[str, tuple[Path, str]],
    seed: int,
) -> Outcome:
    with contextlib.ExitStack() as stack:
        proxy = stack.enter_context(
            scenario.proxy(server, seed) if scenario.proxy else ChaosProxy(server.endpoint_url)
        )
        session = make_session(server, scenario, proxy)
        if scenario.clock:
            stack.enter_context(skewed_clock(scenario.clock))
        started = time.monotonic()
        errors = upload(client, session, proxy.endpoint_url, scenario.bucket, files)
        seconds = time.monotonic() - started
    landed = sum(stored_sha256(admin, "bench", key) == digest for key, (_, digest) in files.items())
    if errors:
        reported = f"failed: {sorted(set(errors))[0]}"
        if len(files) > 1:
            reported = f"{len(errors)} of {len(files)} failed ({', '.join(sorted(set(errors)))})"
    else:
        reported = "success"
    truth = (
        f"{landed} of {len(files)} byte-exact"
        if len(files) > 1
        else ("object byte-exact" if landed else "no object")
    )
    open_uploads = len(admin.list_multipart_uploads(Bucket="bench").get("Uploads", []))
    return Outcome(reported, truth, sum(proxy.stats.requests.values()), seconds, open_uploads)


def make_session(server: S3Server, scenario: Scenario, proxy: ChaosProxy) -> boto3.Session:
    if scenario.session == "vendor":
        vendor = CredentialVendor(server.identities, proxy, lifetime=10, server_early=2)
        return vendor.boto3_session(region_name=server.region)  # type: ignore[no-any-return]
    if scenario.session == "reader":
        reader = next(i for i in server.identities if i.name == "reader")
        keys = (reader.access_key, reader.secret_key)
    elif scenario.session == "wrong-secret":
        keys = (server.access_key, "not-the-secret")
    else:
        keys = (server.access_key, server.secret_key)
    return boto3.Session(
        aws_access_key_id=keys[0], aws_secret_access_key=keys[1], region_name=server.region
    )


def upload(
    client: str,
    session: boto3.Session,
    endpoint: str,
    bucket: str,
    files: dict[str, tuple[Path, str]],
) -> list[str]:
    """Upload every file; the error code (or exception type) of each failure."""
    errors = []
    if client == "resilient-s3":
        with ResilientUploader(session=session, endpoint_url=endpoint) as up:
            for key, (path, _) in files.items():
                try:
                    up.upload_file(path, bucket, key)
                except UploadError as exc:
                    errors.append(getattr(exc, "code", None) or type(exc).__name__)
        return errors
    s3 = session.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(retries={"mode": "standard"}, s3={"addressing_style": "path"}),
    )
    for key, (path, _) in files.items():
        try:
            s3.upload_file(str(path), bucket, key)
        except ClientError as exc:
            errors.append(exc.response.get("Error", {}).get("Code") or "ClientError")
        except Exception as exc:  # S3UploadFailedError, EndpointConnectionError, ...
            cause = exc.__cause__ or exc.__context__
            code = (
                cause.response.get("Error", {}).get("Code")
                if isinstance(cause, ClientError)
                else None
            )
            errors.append(code or type(exc).__name__)
    s3.close()
    return errors


def stored_sha256(client: Any, bucket: str, key: str) -> str | None:
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError:
        return None
    digest = hashlib.sha256()
    for chunk in body.iter_chunks(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


if __name__ == "__main__":
    main()
