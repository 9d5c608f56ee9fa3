"""Presigned uploads against the real server: URLs sent by a plain HTTP client, the
credential-less PresignedUploader (expiring URLs, resume after kill -9), TTLs that never outlive
their credentials, a skewed signer, the Uppy backend's rules, and the CLI."""

from __future__ import annotations

import base64
import datetime
import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resilient_s3 import (
    AsyncPresignedUploader,
    AsyncPresigner,
    InvalidUploadError,
    PresignedMultipart,
    PresignedRequest,
    PresignedUploader,
    Presigner,
    S3RequestError,
    SignRequest,
    UploadConfig,
    diagnose,
)
from resilient_s3._cli import main
from resilient_s3.testing import ChaosProxy, Fault, FaultKind, S3Server, skewed_clock
from s3_helpers import (
    Backend,
    admin_session,
    form,
    open_uploads,
    presigner,
    send,
    stored_sha256,
    write_random,
)

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024


def test_presigned_put_multipart_and_post_land_byte_exact_through_plain_http(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    small, big = os.urandom(70_000), os.urandom(12 * MiB + 5)
    with presigner(s3_server) as signer:
        put = signer.presign_put(s3_bucket, "put.txt", content_type="text/plain")
        assert put.headers == {"Content-Type": "text/plain"}  # exactly what the client sends
        assert send("PUT", put.url, dict(put.headers), small)[0] == 200

        upload = signer.create_multipart(s3_bucket, "multi.bin", size=len(big), part_size=5 * MiB)
        assert [(p.offset, p.length) for p in upload.parts] == [
            (0, 5 * MiB),
            (5 * MiB, 5 * MiB),
            (10 * MiB, 2 * MiB + 5),
        ]
        etags = []
        for part in upload.parts:
            status, headers, _ = send(
                "PUT", part.url, dict(part.headers), big[part.offset : part.offset + part.length]
            )
            assert status == 200
            etags.append((part.part_number, headers["ETag"].strip('"')))  # as Uppy 6 sends them
        assert [
            p.part_number for p in signer.list_parts(s3_bucket, "multi.bin", upload.upload_id)
        ] == [1, 2, 3]
        done = signer.complete_multipart(s3_bucket, "multi.bin", upload.upload_id, etags)
        assert done.etag.strip('"').endswith("-3")

        post = signer.presign_post(
            s3_bucket, key_prefix="forms/", content_type_prefix="text/", size_range=(1, MiB)
        )
        fields = {**post.fields, "key": "forms/note.txt", "Content-Type": "text/plain"}
        body, content_type = form(fields, small)
        assert send("POST", post.url, {"Content-Type": content_type}, body)[0] in (200, 201, 204)
        # The policy holds: another prefix is refused.
        body, content_type = form({**fields, "key": "elsewhere/note.txt"}, small)
        assert send("POST", post.url, {"Content-Type": content_type}, body)[0] == 403

    assert s3_client.get_object(Bucket=s3_bucket, Key="put.txt")["Body"].read() == small
    assert s3_client.get_object(Bucket=s3_bucket, Key="multi.bin")["Body"].read() == big
    assert s3_client.get_object(Bucket=s3_bucket, Key="forms/note.txt")["Body"].read() == small
    assert open_uploads(s3_client, s3_bucket) == []


def test_list_parts_reads_every_page_of_a_large_upload(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    """1,005 parts: an answer far past the HTTP client's 64 KiB buffer, and two pages."""
    upload_id = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="many")["UploadId"]
    for number in range(1, 1006):
        s3_client.upload_part(
            Bucket=s3_bucket, Key="many", UploadId=upload_id, PartNumber=number, Body=b"p"
        )
    with presigner(s3_server) as signer:
        listed = signer.list_parts(s3_bucket, "many", upload_id)
        assert [part.part_number for part in listed] == list(range(1, 1006))
        signer.abort_multipart(s3_bucket, "many", upload_id)


def test_presign_upload_picks_a_single_put_or_parts_by_size(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    with presigner(s3_server) as signer:
        small = signer.presign_upload(s3_bucket, "small", 1000)
        assert isinstance(small, PresignedRequest)
        assert (small.expires_in, small.headers["Content-Length"]) == (900, "1000")
        large = signer.presign_upload(s3_bucket, "large", 200 * MiB, content_type="video/mp4")
        assert isinstance(large, PresignedMultipart)
        assert (large.part_size, len(large.parts), large.expires_in) == (16 * MiB, 13, 3600)
        signer.abort_multipart(s3_bucket, "large", large.upload_id)
        with pytest.raises(InvalidUploadError, match=r"5 GiB.*presign multipart"):
            signer.presign_put(s3_bucket, "huge", size=5 * 1024 * MiB + 1)
    assert open_uploads(s3_client, s3_bucket) == []


def test_what_was_signed_holds_a_post_field_and_a_part_checksum(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    data = os.urandom(5 * MiB)
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    with presigner(s3_server) as signer:
        # An extra form field gets its own condition: another value is refused.
        post = signer.presign_post(s3_bucket, "tagged", fields={"x-amz-meta-owner": "alice"})
        body, content_type = form({**post.fields, "x-amz-meta-owner": "mallory"}, b"data")
        assert send("POST", post.url, {"Content-Type": content_type}, body)[0] == 403
        body, content_type = form(dict(post.fields), b"data")
        assert send("POST", post.url, {"Content-Type": content_type}, body)[0] in (200, 204)
        # A part URL signed with the part's checksum takes only those bytes, with the header.
        upload = signer.create_multipart(s3_bucket, "summed", checksum_algorithm="CRC32")
        part = signer.presign_part(
            s3_bucket, "summed", upload.upload_id, 1, checksum=("CRC32", crc)
        )
        assert part.headers["x-amz-checksum-crc32"] == crc
        assert send("PUT", part.url, {}, data)[0] == 403  # the signed header is missing
        other = os.urandom(len(data))
        status, _, answer = send("PUT", part.url, dict(part.headers), other)
        assert (status, b"BadDigest" in answer) == (400, True)
        assert send("PUT", part.url, dict(part.headers), data)[0] == 200
        signer.abort_multipart(s3_bucket, "summed", upload.upload_id)
    assert s3_client.head_object(Bucket=s3_bucket, Key="tagged")["Metadata"] == {"owner": "alice"}


def test_a_content_type_other_than_the_signed_one_is_refused_and_diagnosed(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    with presigner(s3_server) as signer:
        put = signer.presign_put(s3_bucket, "photo.jpg", content_type="image/jpeg")
    sent = {"Content-Type": "image/png"}
    status, headers, body = send("PUT", put.url, sent, b"x" * 100)
    assert status == 403
    diagnosis = diagnose(
        status=status, headers=dict(headers), body=body, url=put, request_headers=sent
    )
    assert diagnosis.cause == "signature-mismatch"
    assert "header content-type: signed 'image/jpeg', sent 'image/png'" in diagnosis.evidence
    assert "photo.jpg" not in [
        o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])
    ]


def test_urls_never_outlive_the_signing_credentials(s3_server: S3Server, s3_bucket: str) -> None:
    expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=60)

    def credentials() -> dict[str, Any]:
        return {
            "access_key": s3_server.access_key,
            "secret_key": s3_server.secret_key,
            "token": None,
            "expiry_time": expiry.isoformat(),
        }

    with Presigner(
        endpoint_url=s3_server.endpoint_url, region_name=s3_server.region, credentials=credentials
    ) as signer:
        put = signer.presign_put(s3_bucket, "k", expires_in=900)
        post = signer.presign_post(s3_bucket, "k", expires_in=900)
    assert 50 <= put.expires_in <= 60
    assert abs((put.expires_at - expiry).total_seconds()) <= 2
    assert put.clamped is not None
    assert "signing credentials expire" in put.clamped
    assert "X-Amz-Expires=" + str(put.expires_in) in put.url
    assert post.clamped is not None
    assert post.expires_in <= 60
    assert send("PUT", put.url, dict(put.headers), b"still valid")[0] == 200

    with presigner(s3_server) as signer:
        week = signer.presign_put(s3_bucket, "k", expires_in=30 * 24 * 3600)
    assert week.expires_in == 604_800
    assert week.clamped is not None
    assert "7 days" in week.clamped


@pytest.mark.parametrize("skew", [30 * 60, -30 * 60], ids=["ahead", "behind"])
def test_a_signer_whose_clock_is_30_minutes_off_issues_urls_the_server_accepts(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, skew: int
) -> None:
    with skewed_clock(skew), presigner(s3_server) as signer:
        assert abs(signer.clock_offset + skew) <= 5  # learned from the server when it opened
        put = signer.presign_put(s3_bucket, "skewed", expires_in=300)
        # A URL signed with this machine's clock instead: the server refuses it.
        from resilient_s3._auth.sigv4 import presign_url

        naive = presign_url(
            "PUT",
            put.url.split("?")[0],
            {},
            credentials=_admin_credentials(s3_server),
            region=s3_server.region,
            expires_in=300,
        )
    assert send("PUT", put.url, dict(put.headers), b"on the server's time")[0] == 200
    if skew < 0:
        # Signed on this clock, the URL expired 25 minutes before it was made. (A URL dated in
        # the future is "not yet valid" on AWS; SeaweedFS takes it, so that case is not shown.)
        assert send("PUT", naive, {}, b"on this clock")[0] == 403
    assert (
        s3_client.get_object(Bucket=s3_bucket, Key="skewed")["Body"].read()
        == b"on the server's time"
    )


def test_a_clock_that_drifts_after_opening_is_read_again(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backend that only presigns makes no request that would show its clock drifting: the
    server's time is read again once SERVER_TIME_RECHECK has passed (0 here)."""
    from resilient_s3._api import presigner as module

    with presigner(s3_server) as signer:
        signer.presign_put(s3_bucket, "first")
        assert abs(signer.clock_offset) <= 5
        monkeypatch.setattr(module, "SERVER_TIME_RECHECK", 0.0)
        with skewed_clock(-1800):
            put = signer.presign_put(s3_bucket, "drifted", expires_in=300)
            assert abs(signer.clock_offset - 1800) <= 5
    assert send("PUT", put.url, dict(put.headers), b"on the server's time")[0] == 200


def _admin_credentials(server: S3Server) -> Any:
    from botocore.credentials import ReadOnlyCredentials

    return ReadOnlyCredentials(server.access_key, server.secret_key, None)


# -- the credential-less uploader -------------------------------------------------------------


async def test_part_urls_that_expire_mid_upload_are_asked_for_again(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "video"
    digest = write_random(path, 40 * MiB)
    # Part URLs live 2 s; the link is slow, so the URLs handed out at the start go stale
    # (asked for again before use), and two parts are held 3 s in the proxy, so that they
    # reach S3 with an expired URL (403 Request has expired, asked for again after).
    held = Fault(FaultKind.DELAY, 1.0, {"UploadPart"}, seconds=3, limit=2)
    with ChaosProxy(s3_server.endpoint_url, bandwidth=12 * MiB, faults=[held]) as proxy:
        async with AsyncPresigner(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url
        ) as signer:

            async def sign(request: SignRequest) -> Any:
                return await signer.answer(request, bucket=s3_bucket, part_expires_in=2)

            config = UploadConfig(
                multipart_threshold=8 * MiB,
                part_size=5 * MiB,
                max_concurrency=2,
                journal_dir=str(tmp_path / "j"),
            )
            async with AsyncPresignedUploader(sign, config, checksums=False) as up:
                result = await up.upload_file(path, "video.bin")
                stats = up.stats
        forwarded = proxy.stats.forwarded.get("UploadPart", 0)
    assert stored_sha256(s3_client, s3_bucket, "video.bin") == digest
    assert result.parts == 8
    assert result.retries.get("presigned-url-expired", 0) >= 1  # refused by S3, asked again
    assert result.renewed_urls >= 4  # stale ones replaced before use, and the refused ones
    assert stats.renewed_urls == result.renewed_urls
    assert forwarded >= 8
    assert open_uploads(s3_client, s3_bucket) == []


async def test_presigned_uploads_ride_out_throttling_server_errors_and_resets(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    big, small = tmp_path / "big", tmp_path / "small"
    digests = {"big": write_random(big, 30 * MiB), "small": write_random(small, 300_000)}
    bodies = {"UploadPart", "PutObject"}
    faults = [
        Fault(FaultKind.SLOWDOWN, 0.2, bodies),
        Fault(FaultKind.INTERNAL_ERROR, 0.1, bodies),
        Fault(FaultKind.RESET, 0.1, bodies, after_bytes=64 * 1024),
    ]
    with ChaosProxy(s3_server.endpoint_url, faults=faults, seed=11) as proxy:
        async with AsyncPresigner(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url
        ) as signer:

            async def sign(request: SignRequest) -> Any:
                return await signer.answer(request, bucket=s3_bucket)

            config = UploadConfig(
                multipart_threshold=8 * MiB, part_size=5 * MiB, journal_dir=str(tmp_path / "j")
            )
            async with AsyncPresignedUploader(sign, config) as up:
                results = [await up.upload_file(big, "big"), await up.upload_file(small, "small")]
        injected = proxy.stats.faults
    for key, digest in digests.items():
        assert stored_sha256(s3_client, s3_bucket, key) == digest
    retried = {cause for result in results for cause in result.retries}
    assert sum(injected.values()) > 0
    assert retried
    assert retried <= {"throttled", "server-error", "network"}
    assert results[0].parts == 6
    assert open_uploads(s3_client, s3_bucket) == []


@pytest.fixture
def backend(s3_server: S3Server, s3_bucket: str) -> Iterator[Backend]:
    running = Backend(
        s3_server, s3_bucket, max_size=20 * MiB, content_types=["video/", "text/plain"]
    )
    yield running
    running.close()


CHILD = textwrap.dedent(
    """
    import sys
    from resilient_s3 import PresignedUploader, UploadConfig
    from resilient_s3.uppy import signer
    url, path, journal = sys.argv[1:]
    config = UploadConfig(multipart_threshold=8 * 2**20, part_size=5 * 2**20,
                          max_concurrency=2, journal_dir=journal)
    with PresignedUploader(signer(url), config) as up:
        up.upload_file(path, "resumed.bin")
    """
)


def test_a_killed_presigned_upload_resumes_through_list_parts(
    s3_server: S3Server, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    digest = write_random(path, 60 * MiB)
    journal = tmp_path / "journal"
    with ChaosProxy(s3_server.endpoint_url, bandwidth=20 * MiB) as proxy:
        backend = Backend(_via(s3_server, proxy), s3_bucket)
        try:
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, backend.url, str(path), str(journal)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + 60
            while proxy.stats.forwarded.get("UploadPart", 0) < 4 and time.monotonic() < deadline:
                time.sleep(0.02)
            child.send_signal(signal.SIGKILL)
            _, errors = child.communicate(timeout=30)
            assert child.returncode == -signal.SIGKILL, errors.decode()
            time.sleep(1)
            assert len(open_uploads(s3_client, s3_bucket)) == 1

            proxy.reset_stats()
            from resilient_s3.uppy import signer

            config = UploadConfig(
                multipart_threshold=8 * MiB, part_size=5 * MiB, journal_dir=str(journal)
            )
            with PresignedUploader(signer(backend.url), config) as up:
                result = up.upload_file(path, "resumed.bin")
            sent = proxy.stats.forwarded.get("UploadPart", 0)
        finally:
            backend.close()
    assert result.resumed_parts >= 3
    assert sent <= 12 - result.resumed_parts + sum(result.retries.values())
    assert result.key == "incoming/resumed.bin"
    assert stored_sha256(s3_client, s3_bucket, "incoming/resumed.bin") == digest
    assert open_uploads(s3_client, s3_bucket) == []


def _via(server: S3Server, proxy: ChaosProxy) -> Any:
    """The server's keys, at the proxy's endpoint: URLs are signed for the proxy."""

    class Via:
        access_key, secret_key, region = server.access_key, server.secret_key, server.region
        endpoint_url = proxy.endpoint_url

    return Via()


def test_the_uppy_backend_keeps_clients_inside_its_rules(
    backend: Backend, s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    status, created = backend.call(
        "POST",
        "/s3/multipart",
        {"filename": "../../etc/passwd", "type": "text/plain", "metadata": {}},
    )
    assert status == 200
    key, upload_id = created["key"], created["uploadId"]
    assert key.startswith("incoming/")
    assert key.endswith("/passwd")
    assert ".." not in key
    # A key the client makes up outside the prefix, or climbing out of it, is refused.
    for bad in ("elsewhere/x", "incoming/../x", "/incoming/x"):
        status, answer = backend.call(
            "GET", f"/s3/multipart/{upload_id}/1?key={urllib.parse.quote(bad)}"
        )
        assert status == 403, (bad, answer)
    # A content type the backend does not take.
    status, answer = backend.call(
        "POST", "/s3/multipart", {"filename": "x.exe", "type": "application/x-msdownload"}
    )
    assert status == 415
    # Parts past max_size: refused at completion, and the upload aborted.
    parts = []
    for number in (1, 2, 3, 4, 5):
        status, signed = backend.call("GET", f"/s3/multipart/{upload_id}/{number}?key={key}")
        assert status == 200
        assert signed["expires"] == 3600
        status, headers, _ = send("PUT", signed["url"], {}, os.urandom(5 * MiB))
        assert status == 200
        parts.append({"PartNumber": number, "ETag": headers["ETag"]})
    status, listed = backend.call("GET", f"/s3/multipart/{upload_id}?key={key}")
    assert [p["PartNumber"] for p in listed] == [1, 2, 3, 4, 5]
    status, answer = backend.call(
        "POST", f"/s3/multipart/{upload_id}/complete?key={key}", {"parts": parts}
    )
    assert status == 413, answer
    assert open_uploads(s3_client, s3_bucket) == []
    # A form upload's policy carries the limit.
    status, params = backend.call("GET", "/s3/params?filename=note.txt&type=text/plain")
    assert status == 200
    assert params["method"] == "POST"
    assert params["fields"]["key"].startswith("incoming/")


def test_the_uppy_backend_stores_the_files_metadata(
    backend: Backend, s3_bucket: str, s3_client: Any
) -> None:
    """As Companion does: Uppy's metadata becomes the object's user metadata, non-ASCII
    values RFC 2047-encoded, names S3 would refuse and empty values left out."""
    sent = {"caption": "a cat", "name": "chat é.txt", "bad name!": "x", "relativePath": None}
    status, created = backend.call(
        "POST", "/s3/multipart", {"filename": "a.txt", "type": "text/plain", "metadata": sent}
    )
    key, upload_id = created["key"], created["uploadId"]
    status, signed = backend.call("GET", f"/s3/multipart/{upload_id}/1?key={key}")
    status, headers, _ = send("PUT", signed["url"], {}, b"meow")
    parts = [{"PartNumber": 1, "ETag": headers["ETag"]}]
    status, _ = backend.call(
        "POST", f"/s3/multipart/{upload_id}/complete?key={key}", {"parts": parts}
    )
    assert status == 200
    encoded = "=?UTF-8?B?" + base64.b64encode("chat é.txt".encode()).decode() + "?="
    stored = s3_client.head_object(Bucket=s3_bucket, Key=key)["Metadata"]
    assert stored == {"caption": "a cat", "name": encoded}
    # A form upload carries it as fields the policy pins.
    status, params = backend.call(
        "GET", "/s3/params?filename=b.txt&type=text/plain&metadata[caption]=hi"
    )
    assert params["fields"]["x-amz-meta-caption"] == "hi"
    body, content_type = form(params["fields"], b"hello")
    assert send("POST", params["url"], {"Content-Type": content_type}, body)[0] in (200, 204)
    stored = s3_client.head_object(Bucket=s3_bucket, Key=params["fields"]["key"])["Metadata"]
    assert stored == {"caption": "hi"}


def test_an_authorize_hook_refuses(s3_server: S3Server, s3_bucket: str) -> None:
    def authorize(request: Any) -> Any:
        if request.headers.get("authorization") != "Bearer let-me-in":
            raise PermissionError("sign in first")
        return "alice"

    backend = Backend(s3_server, s3_bucket, authorize=authorize)
    try:
        status, answer = backend.call(
            "POST", "/s3/multipart", {"filename": "a", "type": "text/plain"}
        )
    finally:
        backend.close()
    assert (status, answer) == (403, {"message": "sign in first"})


def test_the_sign_route_keeps_each_user_in_their_folder_and_under_the_size_limit(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    """PresignedUploader's route: the key is sign_key's (per user here), a single PUT's URL
    takes exactly the size it asked for, and max_size holds at creation and completion."""

    def put(user: str, key: str, size: int | None) -> tuple[int, Any]:
        asked = SignRequest("put", key, size=size, content_type="text/plain")
        return routes.call("POST", "/s3/sign", asked.to_json(), user=user)

    routes = Backend(
        s3_server,
        s3_bucket,
        authorize=lambda request: request.headers.get("authorization") or False,
        user_folder=lambda user: user,  # readable folders: incoming/alice/
        sign_key=lambda key, user: f"incoming/{user}/{key}",
        max_size=MiB,
    )
    try:
        status, signed = put("alice", "report.txt", 1000)
        assert status == 200
        assert signed["key"] == "incoming/alice/report.txt"
        assert send("PUT", signed["url"], {}, os.urandom(2 * MiB))[0] == 403  # more than asked
        assert send("PUT", signed["url"], dict(signed["headers"]), b"a" * 1000)[0] == 200
        # Bob cannot reach Alice's object, whatever key he asks for.
        assert put("bob", "report.txt", 10)[1]["key"] == "incoming/bob/report.txt"
        assert put("bob", "../alice/report.txt", 10)[0] == 403
        assert put("mallory", "report.txt", 2 * MiB)[0] == 413
        assert put("mallory", "report.txt", None)[0] == 411  # a PUT must say its size
        create = SignRequest("create", "big.bin", size=2 * MiB).to_json()
        assert routes.call("POST", "/s3/sign", create, user="bob")[0] == 413
        # A multipart upload that did not say its size is held to the limit at completion.
        status, created = routes.call(
            "POST", "/s3/sign", SignRequest("create", "big.bin").to_json(), user="bob"
        )
        assert status == 200
        upload_id = created["upload_id"]
        part = SignRequest("part", "big.bin", upload_id=upload_id, part_number=1)
        status, url = routes.call("POST", "/s3/sign", part.to_json(), user="bob")
        status, headers, _ = send("PUT", url["url"], {}, os.urandom(2 * MiB))
        assert status == 200
        complete = SignRequest(
            "complete", "big.bin", upload_id=upload_id, parts=((1, headers["ETag"], None),)
        )
        assert routes.call("POST", "/s3/sign", complete.to_json(), user="bob")[0] == 413
    finally:
        routes.close()
    assert open_uploads(s3_client, s3_bucket) == []
    stored = s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in stored] == [("incoming/alice/report.txt", 1000)]


# -- the command line --------------------------------------------------------------------------


@pytest.fixture
def aws_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    return ["--endpoint-url", s3_server.endpoint_url]


def test_cli_presigns_and_checks_cors(
    aws_env: list[str], s3_bucket: str, s3_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "presign",
                "put",
                f"s3://{s3_bucket}/cli.txt",
                "--content-type",
                "text/plain",
                "--json",
                *aws_env,
            ]
        )
        == 0
    )
    put = json.loads(capsys.readouterr().out)
    assert send("PUT", put["url"], put["headers"], b"from the cli")[0] == 200
    assert s3_client.get_object(Bucket=s3_bucket, Key="cli.txt")["Body"].read() == b"from the cli"

    argv = ["presign", "multipart", f"s3://{s3_bucket}/m.bin", "--size", "12MiB"]
    assert main([*argv, "--part-size", "8MiB", *aws_env]) == 0
    printed = capsys.readouterr().out
    assert printed.count(": PUT http") == 2  # 12 MiB in 8 MiB parts
    s3_client.put_bucket_cors(
        Bucket=s3_bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": ["https://app.example"],
                    "AllowedMethods": ["PUT"],
                    "AllowedHeaders": ["*"],
                }
            ]
        },
    )
    code = main(
        [
            "cors",
            "check",
            f"s3://{s3_bucket}",
            "--origin",
            "https://app.example",
            "--print-rules",
            *aws_env,
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "ExposeHeaders" in captured.out
    assert "ETag" in captured.out
    assert "does not let https://app.example upload" in captured.err


# -- issue 19: what a presigner refuses, and what a client without credentials is told ---------


async def _no_wait(seconds: float) -> None:
    """The retrier's sleep, skipped: these tests wait for nothing but the server."""


def test_a_failed_abort_of_a_client_without_credentials_is_left_to_the_backends_operator(
    s3_server: S3Server,
    s3_bucket: str,
    s3_client: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every part fails, and the backend refuses the abort (it is asked without alice's
    token): the client has no credentials that could abort the upload later, so nothing is
    remembered for `resilient-s3 cleanup`; the warning says the upload stays open, where it
    is, and that the backend's operator can clean it."""
    from resilient_s3._upload.journal import Journal
    from resilient_s3.uppy import signer

    path = tmp_path / "ct.mp4"
    write_random(path, 12 * MiB)
    journal = tmp_path / "journal"
    broken = Fault(FaultKind.INTERNAL_ERROR, 1.0, {"UploadPart"})
    with ChaosProxy(s3_server.endpoint_url, faults=[broken]) as proxy:
        routes = Backend(
            _via(s3_server, proxy),
            s3_bucket,
            authorize=lambda request: request.headers.get("authorization") or False,
        )
        try:
            as_alice = signer(routes.url, headers={"authorization": "alice"})
            anonymous = signer(routes.url)

            async def sign(request: SignRequest) -> Any:
                return await (anonymous if request.action == "abort" else as_alice)(request)

            config = UploadConfig(
                multipart_threshold=8 * MiB,
                part_size=5 * MiB,
                max_attempts=2,
                journal_dir=str(journal),
            )
            with (
                PresignedUploader(sign, config, _sleep=_no_wait) as up,
                pytest.raises(S3RequestError),
            ):
                up.upload_file(path, "videos/ct.mp4")
        finally:
            routes.close()
    assert Journal(journal).pending_aborts() == []
    [upload] = open_uploads(s3_client, s3_bucket)
    key = upload["Key"]
    assert key.startswith("incoming/")
    assert key.endswith("/videos/ct.mp4")
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    [left_open] = [message for message in warned if upload["UploadId"] in message]
    assert f"s3://{s3_bucket}/{key}" in left_open
    assert "stays open" in left_open
    assert f"resilient-s3 cleanup s3://{s3_bucket}/{key}" in left_open
    assert "remembered" not in left_open
    s3_client.abort_multipart_upload(Bucket=s3_bucket, Key=key, UploadId=upload["UploadId"])


def test_a_form_for_a_content_type_prefix_posts_as_documented(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    """The fields carry Content-Type set to the prefix, and `client_fields` names it: posted
    as they are, the form is accepted; with the file's type in it, that type is stored; a
    type outside the prefix is refused."""
    with presigner(s3_server) as signer:
        post = signer.presign_post(s3_bucket, key_prefix="images/", content_type_prefix="image/")
    assert post.fields["Content-Type"] == "image/"
    assert post.client_fields == ("Content-Type",)
    assert post.to_json()["client_fields"] == ["Content-Type"]

    def posted(**changes: str) -> int:
        body, content_type = form({**post.fields, **changes}, b"\x89PNG")
        return send("POST", post.url, {"Content-Type": content_type}, body)[0]

    assert posted() in (200, 204)  # "these fields, then the file"
    assert posted(key="images/cat.png", **{"Content-Type": "image/png"}) in (200, 204)
    assert posted(key="images/note.txt", **{"Content-Type": "text/plain"}) == 403
    stored = s3_client.head_object(Bucket=s3_bucket, Key="images/cat.png")
    assert stored["ContentType"] == "image/png"


def _expiring(server: S3Server, seconds: float) -> Any:
    """A credentials= callable whose keys expire ``seconds`` from now (in the past if
    negative)."""
    expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)

    def credentials() -> dict[str, Any]:
        return {
            "access_key": server.access_key,
            "secret_key": server.secret_key,
            "token": None,
            "expiry_time": expiry.isoformat(),
        }

    return credentials


def test_credentials_that_expired_already_sign_nothing(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    from resilient_s3 import CredentialRefreshError

    with Presigner(
        endpoint_url=s3_server.endpoint_url,
        region_name=s3_server.region,
        credentials=_expiring(s3_server, -60),
    ) as signer:
        for call in (
            lambda: signer.presign_put(s3_bucket, "k"),
            lambda: signer.presign_post(s3_bucket, "k"),
            lambda: signer.create_multipart(s3_bucket, "k", size=20 * MiB),
            lambda: signer.presign_part(s3_bucket, "k", "u", 1),
        ):
            with pytest.raises(CredentialRefreshError, match=r"expired at \d{4}-.*Z") as failed:
                call()
            assert failed.value.diagnosis is not None
            assert failed.value.diagnosis.cause == "credentials-expired"
    assert open_uploads(s3_client, s3_bucket) == []  # nothing created for a URL never signed


def test_credentials_about_to_expire_sign_with_a_warning(
    s3_server: S3Server, s3_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    with Presigner(
        endpoint_url=s3_server.endpoint_url,
        region_name=s3_server.region,
        credentials=_expiring(s3_server, 30),
    ) as signer:
        put = signer.presign_put(s3_bucket, "k", expires_in=900)
    assert put.expires_in <= 30
    [warning] = [r.getMessage() for r in caplog.records if r.name == "resilient_s3"]
    assert "expire at" in warning
    assert f"{put.expires_in} s" in warning
    assert "900 s" in warning


def test_part_urls_of_a_known_size_take_only_their_parts_length(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    """Each part's Content-Length is signed, as a single PUT's with size: part 3's bytes on
    part 1's URL are refused at once, not found "too small" at completion."""
    data = os.urandom(12 * MiB + 5)
    with presigner(s3_server) as signer:
        upload = signer.create_multipart(s3_bucket, "cut.bin", size=len(data), part_size=5 * MiB)
        first, _, last = upload.parts
        assert first.headers["Content-Length"] == str(5 * MiB)
        assert last.headers["Content-Length"] == str(2 * MiB + 5)
        tail = data[last.offset :]
        assert send("PUT", first.url, {}, tail)[0] == 403
        again = signer.presign_part(s3_bucket, "cut.bin", upload.upload_id, 1, size=5 * MiB)
        assert send("PUT", again.url, {}, tail)[0] == 403
        etags = []
        for part in upload.parts:
            body = data[part.offset : part.offset + part.length]
            status, headers, _ = send("PUT", part.url, dict(part.headers), body)
            assert status == 200
            etags.append((part.part_number, headers["ETag"]))
        signer.complete_multipart(s3_bucket, "cut.bin", upload.upload_id, etags)
    assert s3_client.get_object(Bucket=s3_bucket, Key="cut.bin")["Body"].read() == data


async def test_urls_that_expire_before_reaching_s3_name_the_setting_to_raise(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    """The backend's URLs live 1 s and every request takes 2 s to reach S3: renewing cannot
    help, and the error says so, with the seconds, and which lifetime to raise."""
    from resilient_s3 import RetriesExhaustedError

    held = Fault(FaultKind.DELAY, 1.0, {"PutObject"}, seconds=2)
    with ChaosProxy(s3_server.endpoint_url, faults=[held]) as proxy:
        async with AsyncPresigner(
            admin_session(s3_server), endpoint_url=proxy.endpoint_url
        ) as signer:

            async def sign(request: SignRequest) -> Any:
                return await signer.answer(request, bucket=s3_bucket, put_expires_in=1)

            config = UploadConfig(journal_dir=str(tmp_path / "j"))
            async with AsyncPresignedUploader(sign, config, _sleep=_no_wait) as up:
                with pytest.raises(RetriesExhaustedError) as failed:
                    await up.upload_fileobj(io.BytesIO(b"x" * 1000), "late.txt")
    text = str(failed.value)
    assert "3 URL renewals" in text
    assert "does it by itself" not in text
    assert failed.value.diagnosis is not None
    fix = failed.value.diagnosis.fixes[0]
    assert re.search(r"they live 1 s, and this request took [2-9]\.\d s", fix), fix
    assert "the backend's put_expires_in" in fix
    assert "expires_in of the Presigner calls" in fix
