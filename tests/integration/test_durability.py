"""Durability against the real server: resume after kill -9, no mixing of file versions, cleanup
of stale uploads, failed aborts remembered, conditional writes, verification."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from resilient_s3 import (
    AsyncResilientUploader,
    IntegrityError,
    ObjectExistsError,
    RetriesExhaustedError,
    UploadConfig,
)
from resilient_s3._cli import main
from resilient_s3._upload.journal import Header, Journal, JournalPart
from resilient_s3.testing import ChaosProxy, Fault, FaultKind, S3Server
from s3_helpers import Wrapped, admin_session, open_uploads, stored_sha256, write_random

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
PARTS = 25  # 200 MiB in 8 MiB parts


CHILD = textwrap.dedent(
    """
    import sys, boto3
    from resilient_s3 import ResilientUploader, UploadConfig
    endpoint, access, secret, region, path, bucket, key, journal = sys.argv[1:]
    session = boto3.Session(aws_access_key_id=access, aws_secret_access_key=secret,
                            region_name=region)
    config = UploadConfig(max_concurrency=4, journal_dir=journal)
    with ResilientUploader(session=session, endpoint_url=endpoint, config=config) as up:
        up.upload_file(path, bucket, key)
    print("finished")
    """
)


def crash_midway(
    server: S3Server, proxy: ChaosProxy, path: Path, bucket: str, key: str, journal: Path
) -> None:
    """Start the upload in a child process and kill -9 it once several parts reached S3."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            proxy.endpoint_url,
            server.access_key,
            server.secret_key,
            server.region,
            str(path),
            bucket,
            key,
            str(journal),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while proxy.stats.forwarded.get("UploadPart", 0) < 8:
            if child.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        _, errors = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, errors.decode()
    settle(proxy)


def settle(proxy: ChaosProxy) -> None:
    """Wait until the proxy has relayed what the killed child had already sent (the
    bandwidth limit holds it back), so that later counts are the re-run's alone."""
    last = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = (proxy.stats.forwarded, proxy.stats.bytes_up)
        if now == last:
            return
        last = now
        time.sleep(0.5)


async def test_an_upload_killed_midway_resumes_with_only_the_missing_parts(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "big"
    digest = write_random(path, PARTS * 8 * MiB)
    journal = tmp_path / "journal"
    with ChaosProxy(s3_server.endpoint_url, bandwidth=48 * MiB) as proxy:
        crash_midway(s3_server, proxy, path, s3_bucket, "big", journal)
        before = open_uploads(s3_client, s3_bucket)
        assert len(before) == 1  # the killed run could not abort
        on_server = s3_client.list_parts(
            Bucket=s3_bucket, Key="big", UploadId=before[0]["UploadId"]
        ).get("Parts", [])
        assert 4 <= len(on_server) < PARTS

        proxy.reset_stats()
        config = UploadConfig(max_concurrency=4, journal_dir=str(journal))
        async with AsyncResilientUploader(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url, config=config
        ) as up:
            result = await up.upload_file(path, s3_bucket, "big")
        stats = proxy.stats

    # Every part the server had (and the journal recorded) was kept; only the others were sent.
    assert result.resumed_parts >= 4, result
    assert result.resumed_parts >= len(on_server) - 4, (result, on_server)  # in flight at the kill
    sent = stats.forwarded.get("UploadPart", 0)
    retried = sum(result.retries.values())  # a part retried on a loaded machine counts twice
    assert PARTS - result.resumed_parts <= sent <= PARTS - result.resumed_parts + retried, (
        sent,
        result,
    )
    assert stats.requests.get("CreateMultipartUpload", 0) == 0
    assert stats.requests.get("ListParts", 0) == 1
    assert result.upload_id == before[0]["UploadId"]
    assert result.parts == PARTS
    assert stored_sha256(s3_client, s3_bucket, "big") == digest
    assert open_uploads(s3_client, s3_bucket) == []
    assert list(journal.glob("*.jsonl")) == []


ADOPT_CHILD = textwrap.dedent(
    """
    import sys, boto3
    from resilient_s3 import ResilientUploader, UploadConfig
    endpoint, access, secret, region, path, bucket, key, journal = sys.argv[1:]
    session = boto3.Session(aws_access_key_id=access, aws_secret_access_key=secret,
                            region_name=region)
    config = UploadConfig(max_concurrency=16, part_size=5 * 1024 * 1024, journal_dir=journal)
    with ResilientUploader(session=session, endpoint_url=endpoint, config=config) as up:
        up.upload_file(path, bucket, key)
    """
)


def journaled_parts(journal: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) - 1 for p in journal.glob("*.jsonl"))


def crash_with_answers_held(
    server: S3Server, proxy: ChaosProxy, path: Path, bucket: str, journal: Path
) -> None:
    """Upload in a child; once 9 parts are journaled, S3 keeps storing parts but their answers
    are held back, so the journal never hears of them; kill -9 the child once 18 reached S3."""
    argv = [proxy.endpoint_url, server.access_key, server.secret_key]
    argv += [server.region, str(path), bucket, "big", str(journal)]
    child = subprocess.Popen(
        [sys.executable, "-c", ADOPT_CHILD, *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while journaled_parts(journal) < 9 and time.monotonic() < deadline:
            time.sleep(0.01)
        proxy.add_fault(Fault(FaultKind.HOLD_ANSWER, 1.0, {"UploadPart"}, seconds=300))
        while proxy.stats.forwarded.get("UploadPart", 0) < 18 and time.monotonic() < deadline:
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
    finally:
        _, errors = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, errors.decode()


async def test_parts_that_landed_after_the_last_journal_write_are_adopted(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    parts = 21
    path = tmp_path / "big"
    digest = write_random(path, parts * 5 * MiB)
    journal = tmp_path / "journal"
    with ChaosProxy(s3_server.endpoint_url) as proxy:
        crash_with_answers_held(s3_server, proxy, path, s3_bucket, journal)
        settle(proxy)
        proxy.clear_faults()
        upload_id = open_uploads(s3_client, s3_bucket)[0]["UploadId"]
        held = s3_client.list_parts(Bucket=s3_bucket, Key="big", UploadId=upload_id)["Parts"]
        known = journaled_parts(journal)
        assert len(held) > known  # parts S3 has and the journal does not

        proxy.reset_stats()
        config = UploadConfig(max_concurrency=16, part_size=5 * MiB, journal_dir=str(journal))
        async with AsyncResilientUploader(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url, config=config
        ) as up:
            result = await up.upload_file(path, s3_bucket, "big")
        stats = proxy.stats

    assert result.upload_id == upload_id
    # Every part S3 holds was kept, those the journal never heard of too (SeaweedFS may list a
    # part a moment late: the re-run's own ListParts is the measure).
    assert result.resumed_parts >= len(held) > known
    sent = stats.forwarded.get("UploadPart", 0)
    assert sent <= parts - result.resumed_parts + sum(result.retries.values()), (sent, result)
    assert stored_sha256(s3_client, s3_bucket, "big") == digest
    assert open_uploads(s3_client, s3_bucket) == []


def test_a_listed_part_matches_by_checksum_else_by_md5_etag() -> None:
    from resilient_s3._upload.backend import ListedPart
    from resilient_s3._upload.checksums import PartDigest
    from resilient_s3._upload.resume import part_matches

    local = PartDigest(b"\x01\x02", None, md5_hex="0123456789abcdef0123456789abcdef")
    md5_etag = '"0123456789abcdef0123456789abcdef"'
    assert part_matches(ListedPart(md5_etag, 5, None), local)
    assert not part_matches(ListedPart('"ffff"', 5, None), local)
    # A listed checksum decides, whatever the ETag.
    assert part_matches(ListedPart('"kms-etag"', 5, local.checksum_b64), local)
    assert not part_matches(ListedPart(md5_etag, 5, "AAAA"), local)
    # SSE-KMS / SSE-C: no MD5 was computed, so the ETag proves nothing.
    no_md5 = PartDigest(b"\x01\x02", None)
    assert not part_matches(ListedPart(md5_etag, 5, None), no_md5)


def change_in_place_unnoticed(path: Path) -> str:
    """Change 1 MiB in the second part and put the mtime back: size, mtime and inode stay the
    same and the change is outside the fingerprint's sampled windows."""
    stat = path.stat()
    with path.open("r+b") as f:
        f.seek(9 * MiB)
        f.write(os.urandom(MiB))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("change", ["rewritten", "in-place-mtime-kept"])
async def test_a_file_changed_after_the_crash_is_uploaded_anew_never_mixed(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path, change: str
) -> None:
    path = tmp_path / "big"
    write_random(path, PARTS * 8 * MiB)
    journal = tmp_path / "journal"
    with ChaosProxy(s3_server.endpoint_url, bandwidth=48 * MiB) as proxy:
        crash_midway(s3_server, proxy, path, s3_bucket, "big", journal)
        stale = open_uploads(s3_client, s3_bucket)[0]["UploadId"]
        if change == "rewritten":
            new_digest = write_random(path, PARTS * 8 * MiB)  # same size, new content
        else:
            new_digest = change_in_place_unnoticed(path)

        proxy.reset_stats()
        config = UploadConfig(max_concurrency=4, journal_dir=str(journal))
        async with AsyncResilientUploader(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url, config=config
        ) as up:
            result = await up.upload_file(path, s3_bucket, "big")
        stats = proxy.stats

    assert result.resumed_parts == 0
    assert result.upload_id != stale
    assert stats.requests["AbortMultipartUpload"] == 1  # the stale upload
    assert PARTS <= stats.forwarded["UploadPart"] <= PARTS + sum(result.retries.values())
    assert stored_sha256(s3_client, s3_bucket, "big") == new_digest
    assert open_uploads(s3_client, s3_bucket) == []


async def test_resume_false_starts_over(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    write_random(path, 24 * MiB)
    journal = tmp_path / "journal"
    config = UploadConfig(resume=False, journal_dir=str(journal))
    async with AsyncResilientUploader(
        admin_session(s3_server), endpoint_url=s3_server.endpoint_url, config=config
    ) as up:
        result = await up.upload_file(path, s3_bucket, "k")
    assert result.resumed_parts == 0
    assert not journal.exists() or list(journal.glob("*.jsonl")) == []


async def test_cleanup_aborts_old_uploads_and_keeps_young_ones(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    old = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="logs/old")["UploadId"]
    other = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="other/old")["UploadId"]
    await anyio.sleep(2.5)
    young = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="logs/young")["UploadId"]
    config = UploadConfig(journal_dir=str(tmp_path / "journal"))
    async with AsyncResilientUploader(
        admin_session(s3_server), endpoint_url=s3_server.endpoint_url, config=config
    ) as up:
        dry = await up.cleanup(s3_bucket, "logs/", older_than=2, dry_run=True)
        assert [u.upload_id for u in dry.would_abort] == [old]
        assert dry.aborted == []  # nothing was: a dry run
        assert len(open_uploads(s3_client, s3_bucket)) == 3  # a dry run changes nothing

        report = await up.cleanup(s3_bucket, "logs/", older_than=2)
    assert [u.upload_id for u in report.aborted] == [old]
    assert [u.upload_id for u in report.kept] == [young]
    remaining = {u["UploadId"] for u in open_uploads(s3_client, s3_bucket)}
    assert remaining == {young, other}  # outside the prefix: untouched


async def test_a_failed_abort_is_remembered_and_done_by_the_next_run(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    write_random(path, 20 * MiB)
    journal = tmp_path / "journal"
    faults = [
        Fault(FaultKind.INTERNAL_ERROR, 1.0, {"UploadPart"}),
        Fault(FaultKind.INTERNAL_ERROR, 1.0, {"AbortMultipartUpload"}),
    ]
    config = UploadConfig(max_attempts=2, journal_dir=str(journal))
    with ChaosProxy(s3_server.endpoint_url, faults=faults) as proxy:
        async with AsyncResilientUploader(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url, config=config
        ) as up:
            with pytest.raises(RetriesExhaustedError):
                await up.upload_file(path, s3_bucket, "doomed")
        port = int(proxy.endpoint_url.rsplit(":", 1)[1])
    assert len(open_uploads(s3_client, s3_bucket)) == 1
    assert len(Journal(journal).pending_aborts()) == 1

    # The next uploader for the same endpoint (the journal remembers where) does it on opening.
    with ChaosProxy(s3_server.endpoint_url, port=port) as healthy:
        async with AsyncResilientUploader(
            admin_session(s3_server), endpoint_url=healthy.endpoint_url, config=config
        ):
            pass
    assert open_uploads(s3_client, s3_bucket) == []
    assert Journal(journal).pending_aborts() == []


async def test_cleanup_retries_remembered_aborts(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "journal")
    config = UploadConfig(journal_dir=str(journal.directory))
    async with AsyncResilientUploader(
        admin_session(s3_server), endpoint_url=s3_server.endpoint_url, config=config
    ) as up:
        upload_id = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="k")["UploadId"]
        journal.remember_abort(s3_server.endpoint_url, s3_bucket, "k", upload_id)
        report = await up.cleanup(s3_bucket, older_than=3600)
    assert report.retried_aborts == 1
    assert report.kept == []  # aborted before the listing
    assert open_uploads(s3_client, s3_bucket) == []
    assert journal.pending_aborts() == []


def test_cleanup_command(
    s3_server: S3Server,
    s3_bucket: str,
    s3_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    upload_id = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="k")["UploadId"]
    endpoint = ["--endpoint-url", s3_server.endpoint_url]
    assert main(["cleanup", f"s3://{s3_bucket}", "--older-than", "0", *endpoint, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [u["upload_id"] for u in report["aborted"]] == [upload_id]
    assert open_uploads(s3_client, s3_bucket) == []


def test_resume_command_finishes_interrupted_uploads(
    s3_server: S3Server,
    s3_bucket: str,
    s3_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "big"
    digest = write_random(path, PARTS * 8 * MiB)
    journal = tmp_path / "journal"
    monkeypatch.setenv("RESILIENT_S3_JOURNAL_DIR", str(journal))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    with ChaosProxy(s3_server.endpoint_url, bandwidth=48 * MiB) as proxy:
        crash_midway(s3_server, proxy, path, s3_bucket, "big", journal)
        args = ["resume", "--endpoint-url", proxy.endpoint_url, "--json"]
        assert main(args) == 0
    [line] = capsys.readouterr().out.splitlines()  # a JSON line per resumed upload
    result = json.loads(line)
    assert result["resumed_parts"] >= 4
    assert stored_sha256(s3_client, s3_bucket, "big") == digest
    assert open_uploads(s3_client, s3_bucket) == []


# -- conditional writes ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1 * MiB, 20 * MiB], ids=["single", "multipart"])
async def test_overwrite_false_refuses_an_existing_key(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path, size: int
) -> None:
    path = tmp_path / "f"
    digest = write_random(path, size)
    s3_client.put_object(Bucket=s3_bucket, Key="taken", Body=b"first")
    async with AsyncResilientUploader(
        admin_session(s3_server), endpoint_url=s3_server.endpoint_url
    ) as up:
        with pytest.raises(ObjectExistsError, match="overwrite=False"):
            await up.upload_file(path, s3_bucket, "taken", overwrite=False)
        result = await up.upload_file(path, s3_bucket, "free", overwrite=False)
    assert s3_client.get_object(Bucket=s3_bucket, Key="taken")["Body"].read() == b"first"
    assert stored_sha256(s3_client, s3_bucket, "free") == digest
    assert result.size == size
    assert open_uploads(s3_client, s3_bucket) == []


async def test_overwrite_false_loses_a_race_at_completion_cleanly(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    write_random(path, 20 * MiB)
    raced: list[int] = []

    def another_writer(done: int, total: int | None) -> None:
        if done == total and not raced:  # every part sent, Complete not yet
            raced.append(1)
            s3_client.put_object(Bucket=s3_bucket, Key="race", Body=b"the other writer")

    async with AsyncResilientUploader(
        admin_session(s3_server), endpoint_url=s3_server.endpoint_url
    ) as up:
        with pytest.raises(ObjectExistsError):
            await up.upload_file(path, s3_bucket, "race", None, another_writer, overwrite=False)
    body = s3_client.get_object(Bucket=s3_bucket, Key="race")["Body"].read()
    assert body == b"the other writer"
    assert open_uploads(s3_client, s3_bucket) == []


async def test_a_throttled_conditional_put_does_not_claim_an_equal_object(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    write_random(path, 1 * MiB)
    s3_client.put_object(Bucket=s3_bucket, Key="same", Body=path.read_bytes())  # equal bytes
    throttled = Fault(FaultKind.SLOWDOWN, 1.0, {"PutObject"}, limit=1)
    with ChaosProxy(s3_server.endpoint_url, faults=[throttled]) as proxy:
        async with AsyncResilientUploader(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url
        ) as up:
            with pytest.raises(ObjectExistsError):
                await up.upload_file(path, s3_bucket, "same", overwrite=False)


async def test_cleanup_leaves_uploads_in_progress_elsewhere_alone(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "journal")
    upload_id = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="busy")["UploadId"]
    other = journal.open(s3_server.endpoint_url, s3_bucket, "busy", tmp_path / "f")
    assert other is not None  # held, as by an upload running in another process
    other.start(header(upload_id=upload_id, bucket=s3_bucket, key="busy"))
    try:
        config = UploadConfig(journal_dir=str(journal.directory))
        async with AsyncResilientUploader(
            admin_session(s3_server), endpoint_url=s3_server.endpoint_url, config=config
        ) as up:
            report = await up.cleanup(s3_bucket, older_than=0)
    finally:
        other.close()
    assert [u.upload_id for u in report.kept] == [upload_id]
    assert len(open_uploads(s3_client, s3_bucket)) == 1


async def test_extra_args_json_cannot_hold_are_journaled(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    import datetime

    path = tmp_path / "f"
    write_random(path, 20 * MiB)
    expires = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    config = UploadConfig(journal_dir=str(tmp_path / "journal"))
    async with AsyncResilientUploader(
        admin_session(s3_server), endpoint_url=s3_server.endpoint_url, config=config
    ) as up:
        result = await up.upload_file(path, s3_bucket, "k", {"Expires": expires})
    assert result.parts == 3


async def test_a_conditional_put_whose_answer_was_lost_is_confirmed(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    digest = write_random(path, 1 * MiB)
    lost = Fault(FaultKind.LOSE_RESPONSE, 1.0, {"PutObject"}, limit=1)
    with ChaosProxy(s3_server.endpoint_url, faults=[lost]) as proxy:
        async with AsyncResilientUploader(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url
        ) as up:
            result = await up.upload_file(path, s3_bucket, "once", overwrite=False)
    assert result.retries == {"network": 1}
    assert stored_sha256(s3_client, s3_bucket, "once") == digest


async def test_verification_after_upload(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    write_random(path, 20 * MiB)
    config = UploadConfig(verify_after_upload=True)

    class Shorter(Wrapped):
        shorten = False

        async def head_object(self, *args: Any) -> Any:
            head = await self.inner.head_object(*args)
            if Shorter.shorten:
                assert head is not None
                return {**head, "ContentLength": head["ContentLength"] - 1}
            return head

    async with AsyncResilientUploader(
        admin_session(s3_server),
        endpoint_url=s3_server.endpoint_url,
        config=config,
        _backend=Shorter,
    ) as up:
        result = await up.upload_file(path, s3_bucket, "checked")
        assert result.parts == 3

        Shorter.shorten = True
        with pytest.raises(IntegrityError, match="verification after the upload failed: size"):
            await up.upload_file(path, s3_bucket, "checked")


# -- the journal itself ------------------------------------------------------------------------


def header(**overrides: Any) -> Header:
    fields: dict[str, Any] = {
        "endpoint": "http://e",
        "bucket": "b",
        "key": "k",
        "path": "/f",
        "upload_id": "u",
        "token": "t",
        "part_size": 8 * MiB,
        "algorithm": "CRC64NVME",
        "args": "",
        "size": 1,
        "mtime_ns": 1,
        "inode": 1,
        "sample": "s",
        "created": 0.0,
        "extra_args": {},
        "needs_secrets": False,
    }
    return Header(**{**fields, **overrides})


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    entry = journal.open("http://e", "b", "k", Path("/f"))
    assert entry is not None
    entry.start(header())
    entry.add_part(JournalPart(1, '"e1"', "c1", 10))
    entry.add_part(JournalPart(2, '"e2"', "c2", 10))
    with entry.path.open("ab") as f:
        f.write(b'{"number": 3, "etag": "')  # a crash in the middle of a write
    found = entry.read()
    assert found is not None
    assert sorted(found[1]) == [1, 2]


def test_an_entry_in_use_is_not_shared(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    first = journal.open("http://e", "b", "k", Path("/f"))
    assert first is not None
    # Another process (flock is per open file description, so this stands for one).
    assert journal.open("http://e", "b", "k", Path("/f")) is None
    assert journal.open("http://e", "b", "other", Path("/f")) is not None
    first.close()
    assert journal.open("http://e", "b", "k", Path("/f")) is not None


def test_the_header_is_replaced_atomically(tmp_path: Path) -> None:
    entry = Journal(tmp_path).open("http://e", "b", "k", Path("/f"))
    assert entry is not None
    entry.start(header(upload_id="first"))
    entry.add_part(JournalPart(1, '"e1"', "c1", 10))
    entry.start(header(upload_id="second"))
    found = entry.read()
    assert found is not None
    assert found[0].upload_id == "second"
    assert found[1] == {}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
