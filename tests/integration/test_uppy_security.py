"""The Uppy backend as an attacker with a normal signed-in account sees it: two users, a real
SeaweedFS behind plain http, a raw listener standing in for S3 where bytes on the wire matter.
Each test here failed before the fix it names (docs/deploying-uppy.md has the threat model)."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import socket
import time
import urllib.parse
from typing import Any

import pytest

from resilient_s3 import InvalidUploadError, Presigner, SignRequest
from resilient_s3.testing import ChaosProxy, Fault, FaultKind, S3Server
from s3_helpers import Backend, RawS3, open_uploads, send

MiB = 1024 * 1024
SMUGGLED = "image/png\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: s3\r\n\r\n"


def signed_in(request: Any) -> Any:
    return request.headers.get("authorization") or False


def quoted(key: str) -> str:
    return urllib.parse.quote(key, safe="")


# -- CR/LF never reaches the wire ----------------------------------------------------------------


def test_no_header_a_browser_sends_is_smuggled_onto_the_connection_to_s3() -> None:
    """A Content-Type or metadata with CR/LF, through every route that takes one, is refused
    with 400 before anything is sent: the listener standing in for S3 never sees the second
    request (it saw it, on the pooled keep-alive connection, before the fix)."""
    with RawS3() as raw, Backend(raw, "raw-bucket", content_types=["image/"]) as backend:
        hostile = [
            ("POST", "/s3/multipart", {"filename": "a.png", "type": SMUGGLED}),
            (
                "POST",
                "/s3/multipart",
                {"filename": "a.png", "type": "image/png", "metadata": {"x": "1\r\nX-Evil: 1"}},
            ),
            ("GET", "/s3/params?filename=a.png&type=" + quoted(SMUGGLED), None),
            ("POST", "/s3/sign", SignRequest("create", "k", content_type=SMUGGLED).to_json()),
            ("POST", "/s3/sign", SignRequest("put", "k", size=1, content_type=SMUGGLED).to_json()),
            (
                "POST",
                "/s3/sign",
                SignRequest(
                    "create", "k", content_type="image/png", metadata={"a\r\nb": "c"}
                ).to_json(),
            ),
        ]
        for method, path, body in hostile:
            status, answer = backend.call(method, path, body)
            assert status in (200, 400), (path, status, answer)
        # The same route with honest input does reach the listener: the test can see bytes.
        status, created = backend.call(
            "POST",
            "/s3/multipart",
            {"filename": "a.png", "type": "IMAGE/PNG", "metadata": {"x": "1\r\nX-Evil: 1"}},
        )
        assert status == 200, created
    wire = bytes(raw.received)
    assert b"smuggled" not in wire
    assert b"X-Evil" not in wire
    assert not any("smuggled" in line for line in raw.requests)
    assert any("?uploads" in line for line in raw.requests)
    assert b"Content-Type: image/png\r\n" in wire  # normalised to lower case, as S3 stores it


def test_a_media_type_is_checked_as_one_and_image_prefixes_leave_out_svg(
    s3_server: S3Server, s3_bucket: str
) -> None:
    with Backend(s3_server, s3_bucket, content_types=["image/", "Text/Plain"]) as backend:

        def create(content_type: Any) -> tuple[int, Any]:
            return backend.call("POST", "/s3/multipart", {"filename": "f", "type": content_type})

        assert create("image/png")[0] == 200
        assert create("IMAGE/JPEG")[0] == 200
        assert create("text/plain; charset=utf-8")[0] == 200
        assert create("image/svg+xml")[0] == 415  # scripts run from the bucket's origin
        assert create("image")[0] == 400
        assert create("image/png extra")[0] == 400
        assert create("")[0] == 415  # no type, where types are checked
        assert create(12)[0] == 400
    from resilient_s3.uppy import uppy_app

    with pytest.raises(InvalidUploadError, match="content_types"):
        uppy_app(Presigner(), bucket="b", content_types=["image"])


# -- each user's uploads are their own ------------------------------------------------------------


def test_another_user_can_touch_no_route_of_an_upload(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    """Bob knows Alice's key and upload id (they travel in URLs and logs): every route refuses
    him with 403 and her upload goes on untouched; she completes it."""
    with Backend(s3_server, s3_bucket, authorize=signed_in) as backend:
        status, created = backend.call(
            "POST", "/s3/multipart", {"filename": "a.bin", "type": "text/plain"}, user="alice"
        )
        assert status == 200
        key, upload_id = created["key"], created["uploadId"]
        status, signed = backend.call(
            "GET", f"/s3/multipart/{upload_id}/1?key={quoted(key)}", user="alice"
        )
        status, headers, _ = send("PUT", signed["url"], {}, b"alice's bytes")
        assert status == 200
        parts = [{"PartNumber": 1, "ETag": headers["ETag"]}]

        where = f"{upload_id}?key={quoted(key)}"
        attempts = [
            ("GET", f"/s3/multipart/{upload_id}/1?key={quoted(key)}", None),
            ("GET", f"/s3/multipart/{upload_id}/batch?key={quoted(key)}&partNumbers=1,2", None),
            ("GET", f"/s3/multipart/{where}", None),
            ("POST", f"/s3/multipart/{upload_id}/complete?key={quoted(key)}", {"parts": parts}),
            ("DELETE", f"/s3/multipart/{where}", None),
        ]
        for method, path, body in attempts:
            status, answer = backend.call(method, path, body, user="bob")
            assert status == 403, (path, answer)
        # The sign route places Bob's keys in his own folder, whatever key he names.
        for action, extra in (
            ("head", {}),
            ("list", {"upload_id": upload_id}),
            ("abort", {"upload_id": upload_id}),
            ("part", {"upload_id": upload_id, "part_number": 1}),
            ("complete", {"upload_id": upload_id, "parts": [[1, headers["ETag"], None]]}),
            ("put", {"size": 3}),
        ):
            status, answer = backend.call(
                "POST", "/s3/sign", {"action": action, "key": key, **extra}, user="bob"
            )
            assert status in (200, 404), (action, status, answer)
            if status == 200 and isinstance(answer, dict):
                assert answer.get("key", "") != key, action
            if action == "head":
                assert answer is None  # not Alice's object: Bob's folder holds none
        assert [u["Key"] for u in open_uploads(s3_client, s3_bucket)] == [key]
        status, listed = backend.call("GET", f"/s3/multipart/{where}", user="alice")
        assert [p["PartNumber"] for p in listed] == [1]
        status, done = backend.call(
            "POST",
            f"/s3/multipart/{upload_id}/complete?key={quoted(key)}",
            {"parts": parts},
            user="alice",
        )
        assert status == 200, done
    assert s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == b"alice's bytes"
    assert len(key.split("/")) == 4  # incoming/<alice's folder>/<random>/a.bin
    alice_folder = hashlib.sha256(b"alice").hexdigest()[:32]
    assert key.startswith(f"incoming/{alice_folder}/")


def test_the_sign_route_keeps_each_identity_in_its_own_folder_by_default(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    """With authorize given and no sign_key, Bob's PUT of Alice's key lands in his folder and
    Alice's object is untouched (before: it was overwritten)."""
    with Backend(s3_server, s3_bucket, authorize=signed_in) as backend:
        status, signed = backend.call(
            "POST", "/s3/sign", SignRequest("put", "report.txt", size=5).to_json(), user="alice"
        )
        assert send("PUT", signed["url"], dict(signed["headers"]), b"alice")[0] == 200
        alice_key = signed["key"]
        for asked in ("report.txt", alice_key):
            status, signed = backend.call(
                "POST", "/s3/sign", SignRequest("put", asked, size=3).to_json(), user="bob"
            )
            assert status == 200
            assert signed["key"] != alice_key
            assert send("PUT", signed["url"], dict(signed["headers"]), b"bob")[0] == 200
    assert s3_client.get_object(Bucket=s3_bucket, Key=alice_key)["Body"].read() == b"alice"


def test_identities_that_are_not_ids_need_a_user_folder(
    s3_server: S3Server, s3_bucket: str
) -> None:
    """An authorize hook that returns None or an object is a mistake the developer must see
    (a 500 naming the fix), never a folder shared by everybody."""
    for identity in (None, {"user": 1}):
        with Backend(s3_server, s3_bucket, authorize=lambda request, i=identity: i) as backend:
            status, answer = backend.call("POST", "/s3/multipart", {"filename": "a"})
        assert status == 500
        assert "authorize returned" in answer["message"]
    with Backend(
        s3_server,
        s3_bucket,
        authorize=lambda request: {"id": 7},
        user_folder=lambda user: f"user-{user['id']}",
    ) as backend:
        status, created = backend.call("POST", "/s3/multipart", {"filename": "a"})
    assert status == 200
    assert created["key"].startswith("incoming/user-7/")


# -- CORS ------------------------------------------------------------------------------------------


def test_a_wildcard_origin_is_served_without_credentials(
    s3_server: S3Server, s3_bucket: str
) -> None:
    with Backend(s3_server, s3_bucket, cors_origins=["*"]) as backend:
        status, headers, _ = send(
            "GET",
            backend.url + "/s3/params?filename=a&type=text/plain",
            {"Origin": "https://evil.example", "Cookie": "session=alice"},
            b"",
        )
    assert status == 200
    assert headers.get("access-control-allow-credentials") is None
    from resilient_s3.uppy import uppy_app

    for bad in (
        ["https://app.example/"],
        ["app.example"],
        ["https://app.example/path"],
        ["*", "https://a.example"],
        "https://app.example",
    ):
        with pytest.raises(InvalidUploadError, match="cors_origins"):
            uppy_app(Presigner(), bucket="b", cors_origins=bad)


def test_a_cross_site_form_or_text_post_is_refused_before_anything_happens(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    """Another site can make a signed-in user's browser POST a form or text/plain with their
    cookie, no CORS asked; the JSON routes take only application/json, which needs CORS."""
    with Backend(s3_server, s3_bucket, authorize=signed_in) as backend:
        body = json.dumps({"filename": "csrf.txt"}).encode()
        for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
            status, _, answer = send(
                "POST",
                backend.url + "/s3/multipart",
                {"Content-Type": kind, "Authorization": "alice"},
                body,
            )
            assert status == 415, (kind, answer)
        status, _, answer = send(
            "POST",
            backend.url + "/s3/multipart",
            {"Content-Type": "application/json; charset=utf-8", "Authorization": "alice"},
            body,
        )
        assert status == 200, answer
    assert len(open_uploads(s3_client, s3_bucket)) == 1


# -- max_size holds -------------------------------------------------------------------------------


def test_a_part_replaced_after_the_size_check_is_caught_after_completion(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    """The backend lists the parts (within max_size), then completes; a part replaced in
    between (its ETag is the MD5 of the new bytes, known in advance) made a 9 MiB object
    under an 8 MiB limit. Now the object is measured after completion and deleted."""
    first, small, large = os.urandom(5 * MiB), os.urandom(MiB), os.urandom(4 * MiB)
    with ChaosProxy(
        s3_server.endpoint_url,
        faults=[Fault(FaultKind.DELAY, operations=["CompleteMultipartUpload"], seconds=2.0)],
    ) as proxy:

        class Via:
            access_key, secret_key, region = (
                s3_server.access_key,
                s3_server.secret_key,
                s3_server.region,
            )
            endpoint_url = proxy.endpoint_url

        with Backend(Via(), s3_bucket, max_size=8 * MiB) as backend:
            status, created = backend.call("POST", "/s3/multipart", {"filename": "v.bin"})
            key, upload_id = created["key"], created["uploadId"]
            urls = {}
            for number, data in ((1, first), (2, small)):
                status, signed = backend.call(
                    "GET", f"/s3/multipart/{upload_id}/{number}?key={quoted(key)}"
                )
                urls[number] = signed["url"]
                assert send("PUT", urls[number], {}, data)[0] == 200
            parts = [
                {"PartNumber": 1, "ETag": hashlib.md5(first).hexdigest()},
                {"PartNumber": 2, "ETag": hashlib.md5(large).hexdigest()},
            ]
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                completing = pool.submit(
                    backend.call,
                    "POST",
                    f"/s3/multipart/{upload_id}/complete?key={quoted(key)}",
                    {"parts": parts},
                )
                deadline = time.monotonic() + 10
                while (
                    proxy.stats.forwarded.get("ListParts", 0) == 0 and time.monotonic() < deadline
                ):
                    time.sleep(0.01)
                assert send("PUT", urls[2], {}, large)[0] == 200  # while the completion waits
                status, answer = completing.result(30)
    assert status == 413, answer
    assert "deleted" in answer["message"]
    assert "Contents" not in s3_client.list_objects_v2(Bucket=s3_bucket)


def test_a_declared_size_over_the_limit_is_refused_at_creation(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    with Backend(s3_server, s3_bucket, max_size=MiB) as backend:
        status, answer = backend.call("POST", "/s3/multipart", {"filename": "big", "size": 2 * MiB})
    assert status == 413, answer
    assert open_uploads(s3_client, s3_bucket) == []


# -- bounded work per request ---------------------------------------------------------------------


def test_bodies_are_bounded_before_they_are_read(s3_server: S3Server, s3_bucket: str) -> None:
    """A declared 200 MiB body is refused from its headers; a chunked one past 1 MiB is cut
    off while it streams (before: read whole, the worker grew by 400 MB)."""
    with Backend(s3_server, s3_bucket) as backend:
        port = int(backend.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /s3/multipart HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 209715200\r\n\r\n{"
            )
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /s3/multipart HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                b"Content-Type: application/json\r\n\r\n"
            )
            chunk = b"[" * 65536
            answer = b""
            for _ in range(64):  # 4 MiB at most
                try:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except OSError:
                    break
                sock.settimeout(0.05)
                try:
                    answer = sock.recv(65536)
                except TimeoutError:
                    continue
                if answer:
                    break
            sock.settimeout(10)
            answer = answer or sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_batch_signs_few_distinct_valid_part_numbers(s3_server: S3Server, s3_bucket: str) -> None:
    with Backend(s3_server, s3_bucket) as backend:
        status, created = backend.call("POST", "/s3/multipart", {"filename": "b"})
        base = f"/s3/multipart/{created['uploadId']}/batch?key={quoted(created['key'])}"
        status, answer = backend.call("GET", base + "&partNumbers=" + ",".join(["1"] * 4000))
        assert status == 400, answer
        status, answer = backend.call("GET", base + "&partNumbers=3,1,3,2")
        assert status == 200
        assert sorted(answer["presignedUrls"]) == ["1", "2", "3"]
        for bad in ("0", "10001", "1,x", "-1", ""):
            status, answer = backend.call("GET", base + "&partNumbers=" + bad)
            assert status == 400, (bad, answer)
            assert "message" in answer


def test_a_huge_create_through_the_sign_route_answers_a_bounded_number_of_urls(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    with Backend(s3_server, s3_bucket) as backend:
        asked = SignRequest("create", "huge.bin", size=5 * 2**40).to_json()
        started = time.monotonic()
        status, created = backend.call("POST", "/s3/sign", asked)
        took = time.monotonic() - started
        assert status == 200
        assert 0 < len(created["parts"]) <= 64
        assert len(json.dumps(created)) < 100_000
        assert took < 30  # before: 9,987 URLs, 5.4 MB
        abort = SignRequest("abort", "huge.bin", upload_id=created["upload_id"]).to_json()
        assert backend.call("POST", "/s3/sign", abort)[0] == 200
    assert open_uploads(s3_client, s3_bucket) == []


# -- malformed input answers 400 with a message ---------------------------------------------------


def test_malformed_input_answers_400_json_never_a_traceback(
    s3_server: S3Server, s3_bucket: str
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with Backend(s3_server, s3_bucket) as backend:
        status, created = backend.call("POST", "/s3/multipart", {"filename": "m"})
        where = f"{created['uploadId']}?key={quoted(created['key'])}"
        complete = f"/s3/multipart/{created['uploadId']}/complete?key={quoted(created['key'])}"
        cases: list[tuple[str, str, Any]] = [
            ("POST", "/s3/multipart", {"filename": 12}),
            ("POST", "/s3/multipart", {"filename": "a", "metadata": [1, 2]}),
            ("POST", "/s3/multipart", {"filename": "a", "size": "5"}),
            ("POST", "/s3/multipart", {"filename": "a", "size": True}),
            ("POST", "/s3/multipart", [1, 2]),
            ("POST", complete, {"parts": "abc"}),
            ("POST", complete, {"parts": [{"PartNumber": "one", "ETag": "x"}]}),
            ("POST", complete, {"parts": [{"PartNumber": 1}]}),
            ("POST", complete, {"parts": [{"PartNumber": 0, "ETag": "x"}]}),
            ("POST", complete, {"parts": []}),
            ("GET", f"/s3/multipart/{created['uploadId']}/0?key={quoted(created['key'])}", None),
            ("GET", f"/s3/multipart/{created['uploadId']}/x?key={quoted(created['key'])}", None),
            ("POST", "/s3/sign", {}),
            ("POST", "/s3/sign", {"key": "k"}),
            ("POST", "/s3/sign", {"action": "put", "key": "k", "size": "5"}),
            ("POST", "/s3/sign", {"action": "put", "key": "k", "size": True}),
            ("POST", "/s3/sign", {"action": "nope", "key": "k"}),
            (
                "POST",
                "/s3/sign",
                {"action": "complete", "key": "k", "upload_id": "u", "parts": [["a"]]},
            ),
            ("GET", f"/s3/multipart/{where}".replace("?key=", "?nokey="), None),
        ]
        for method, path, body in cases:
            status, answer = backend.call(method, path, body)
            assert status == 400, (path, body, status, answer)
            assert isinstance(answer, dict), (path, body)
            assert answer["message"], (path, body)
        status, _, raw = send(
            "POST",
            backend.url + "/s3/multipart",
            {"Content-Type": "application/json"},
            deep.encode(),
        )
        assert (status, "message" in json.loads(raw)) == (400, True)
        status, answer = backend.call("GET", "/s3/nowhere")
        assert status == 404
        assert answer["message"]


def test_the_wrong_users_folder_setting_is_the_developers_error(
    s3_server: S3Server, s3_bucket: str
) -> None:
    with Backend(
        s3_server, s3_bucket, authorize=lambda request: "alice", user_folder=lambda user: "a/b"
    ) as backend:
        status, answer = backend.call("POST", "/s3/multipart", {"filename": "a"})
    assert status == 500
    assert "user_folder" in answer["message"]


def test_an_open_backend_still_serves_everyone_below_the_prefix(
    s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    """Without authorize, nothing changes: the prefix is shared (documented as public)."""
    with Backend(s3_server, s3_bucket) as backend:
        status, created = backend.call("POST", "/s3/multipart", {"filename": "p.txt"})
        assert status == 200
        assert created["key"].startswith("incoming/")
        status, _ = backend.call(
            "DELETE", f"/s3/multipart/{created['uploadId']}?key={quoted(created['key'])}"
        )
        assert status == 200
    assert open_uploads(s3_client, s3_bucket) == []


def test_the_default_key_keeps_letters_of_every_script(s3_server: S3Server, s3_bucket: str) -> None:
    """`日本 été.png` kept its name (before: `_ _t_.png`); separators, controls and a path
    climbing out still go."""
    with Backend(s3_server, s3_bucket) as backend:
        for sent, kept in (
            ("日本 été.png", "日本 été.png"),
            ("..\\..\\win\\a\tb.txt", "a_b.txt"),
            ("dir/../../x<y>.txt", "x_y_.txt"),
        ):
            status, created = backend.call("POST", "/s3/multipart", {"filename": sent})
            assert status == 200, created
            assert created["key"].rsplit("/", 1)[1] == kept, sent


def test_a_missing_bucket_is_the_backends_problem_on_every_route(s3_server: S3Server) -> None:
    """A backend set up with a bucket that does not exist answers 502 naming the cause (the
    form route signs without S3 and answered 200 with a URL that could never work)."""
    with Backend(s3_server, "no-such-bucket-here") as backend:
        status, params = backend.call("GET", "/s3/params?filename=a.txt&type=text/plain")
        assert status == 502, params
        assert params["cause"] == "no-such-bucket"
        status, created = backend.call("POST", "/s3/multipart", {"filename": "a.txt"})
        assert status == 502, created


def test_the_clients_mistakes_are_4xx_and_the_backends_own_are_502(
    s3_server: S3Server, s3_bucket: str
) -> None:
    """A wrong ETag is the client's (400, with the ListParts fix); completing twice says the
    upload was completed or aborted (404); a backend whose own secret is wrong answers 502
    with the cause, never a 403 that Uppy reads as "not allowed"."""
    with Backend(s3_server, s3_bucket, max_size=MiB) as backend:  # completion lists parts
        status, created = backend.call("POST", "/s3/multipart", {"filename": "e.bin"})
        key, upload_id = created["key"], created["uploadId"]
        status, signed = backend.call("GET", f"/s3/multipart/{upload_id}/1?key={quoted(key)}")
        status, headers, _ = send("PUT", signed["url"], {}, b"part one")
        complete = f"/s3/multipart/{upload_id}/complete?key={quoted(key)}"
        wrong = {"parts": [{"PartNumber": 1, "ETag": "0" * 32}]}
        status, answer = backend.call("POST", complete, wrong)
        assert status == 400, answer
        right = {"parts": [{"PartNumber": 1, "ETag": headers["ETag"]}]}
        assert backend.call("POST", complete, right)[0] == 200
        status, answer = backend.call("POST", complete, right)
        assert status == 404, answer
        assert "completed or aborted" in answer["message"]

    class WrongSecret:
        access_key, secret_key, region = s3_server.access_key, "not-the-secret", s3_server.region
        endpoint_url = s3_server.endpoint_url

    with Backend(WrongSecret(), s3_bucket) as backend:
        status, answer = backend.call("POST", "/s3/multipart", {"filename": "w.bin"})
    assert status == 502, answer
    assert answer["cause"] == "signature-mismatch"
