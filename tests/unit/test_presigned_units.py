"""Pure parts of presigned uploads: the CORS checker, the sign protocol's JSON, redaction, the
backend's URL renewal, and what a presigner refuses before any request (against a listener that
stands in for S3)."""

from __future__ import annotations

import base64
import datetime
import io
import re
from collections.abc import Callable, Iterator

import boto3
import pytest

from resilient_s3 import (
    AsyncResilientUploader,
    CompletedUpload,
    InvalidUploadError,
    PresignedMultipart,
    PresignedPart,
    PresignedPost,
    PresignedRequest,
    Presigner,
    SignRequest,
    UploadedPart,
    check_cors_rules,
)
from resilient_s3._presigned import answer_from_json, answer_to_json
from resilient_s3._redact import redact_headers, redact_text
from s3_helpers import RawS3

ORIGIN = "https://app.example"
GOOD = {
    "AllowedOrigins": [ORIGIN],
    "AllowedMethods": ["GET", "PUT", "POST"],
    "AllowedHeaders": ["*"],
    "ExposeHeaders": ["ETag", "Location"],
}
WHEN = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize("mode", ["put", "multipart", "post"])
def test_rules_that_allow_the_upload_are_ok(mode: str) -> None:
    report = check_cors_rules([GOOD], origin=ORIGIN, mode=mode)  # type: ignore[arg-type]
    assert report.ok
    assert report.findings == ()


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        (None, "no CORS configuration"),
        ([{**GOOD, "AllowedOrigins": ["https://other.example"]}], "no CORS rule allows the origin"),
        ([{**GOOD, "AllowedMethods": ["GET"]}], "do not allow the PUT method"),
        ([{**GOOD, "ExposeHeaders": []}], "cannot read the ETag header"),
        ([{**GOOD, "AllowedHeaders": ["content-type"]}], "x-amz-checksum-crc32 are not in"),
    ],
)
def test_what_a_browser_would_hit_is_named_with_its_fix(
    rules: list[dict[str, object]] | None, problem: str
) -> None:
    report = check_cors_rules(
        rules, origin=ORIGIN, mode="multipart", headers=["x-amz-checksum-crc32"]
    )
    assert not report.ok
    assert any(problem in finding.problem for finding in report.findings), report.findings
    fixed = check_cors_rules(
        report.suggested_rules, origin=ORIGIN, mode="multipart", headers=["x-amz-checksum-crc32"]
    )
    assert fixed.ok, fixed.findings  # the suggested rules are enough


def test_wildcard_origins_and_headers_match() -> None:
    rule = {**GOOD, "AllowedOrigins": ["https://*.example"], "AllowedHeaders": ["x-amz-*"]}
    assert check_cors_rules([rule], origin=ORIGIN, mode="multipart", headers=["x-amz-meta-a"]).ok


def test_a_post_without_location_is_a_warning_only() -> None:
    rule = {**GOOD, "ExposeHeaders": ["ETag"]}
    report = check_cors_rules([rule], origin=ORIGIN, mode="post")
    assert report.ok
    assert [finding.blocking for finding in report.findings] == [False]


SECRETS = ["SIG0123456789abcdef", "AKIDSECRETCRED", "TOKEN/with+slash"]
URL = (
    "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIDSECRETCRED%2F20261130%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20261130T120000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
    "&X-Amz-Security-Token=TOKEN/with+slash&X-Amz-Signature=SIG0123456789abcdef"
)


def test_reprs_of_presigned_things_show_no_secret() -> None:
    things = [
        PresignedRequest("PUT", URL, {"Content-Type": "a/b"}, WHEN, 900),
        PresignedPart(1, URL, 0, 5, WHEN),
        PresignedMultipart("b", "k", "u", 5, 10, (PresignedPart(1, URL, 0, 5, WHEN),), WHEN),
        PresignedPost(
            "https://b.s3.amazonaws.com/",
            {"x-amz-signature": SECRETS[0], "x-amz-credential": SECRETS[1], "policy": "eyJ"},
            WHEN,
        ),
    ]
    for thing in things:
        for secret in SECRETS:
            assert secret not in repr(thing), (thing, secret)


def test_redaction_of_urls_headers_and_text() -> None:
    assert all(secret not in redact_text(URL) for secret in SECRETS)
    assert "X-Amz-Expires=900" in redact_text(URL)
    headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/x, Signature=ab", "Host": "h"}
    assert redact_headers(headers) == {"Authorization": "***", "Host": "h"}
    assert "Signature=" + "f" * 64 not in redact_text("x Signature=" + "f" * 64)
    assert "FQoG" not in redact_text("<Token-0>FQoGZXIvYXdz</Token-0>")


@pytest.mark.parametrize(
    ("request_", "answer"),
    [
        (
            SignRequest("put", "k", size=3),
            PresignedRequest("PUT", URL, {"a": "b"}, WHEN, 900, "b", "k"),
        ),
        (
            SignRequest("create", "k", size=10, part_size=5, checksum_algorithm="CRC32"),
            PresignedMultipart(
                "b", "k", "u", 5, 10, (PresignedPart(1, URL, 0, 5, WHEN),), WHEN, 60
            ),
        ),
        (SignRequest("list", "k", upload_id="u"), [UploadedPart(1, '"e"', 5, "c")]),
        (
            SignRequest("complete", "k", upload_id="u", parts=((1, "e", None), (2, "f", "c"))),
            CompletedUpload("b", "k", '"e-2"', location="http://x"),
        ),
        (SignRequest("abort", "k", upload_id="u"), None),
        (SignRequest("head", "k", metadata={"m": "v"}), None),
    ],
)
def test_the_sign_protocol_survives_json(request_: SignRequest, answer: object) -> None:
    import json

    assert SignRequest.from_json(json.loads(json.dumps(request_.to_json()))) == request_
    wire = json.loads(json.dumps(answer_to_json(answer)))  # type: ignore[arg-type]
    assert answer_from_json(request_, wire) == answer


@pytest.mark.anyio
async def test_a_url_is_renewed_when_its_part_would_outlive_it_at_the_measured_speed() -> None:
    """A part URL with 60 s left: a 1 MiB part at the measured 1 MiB/s uses it; a 100 MiB
    part, which would take 100 s, asks for a fresh URL first (not after S3 refuses it)."""
    from typing import Any

    import anyio

    from resilient_s3._presigned import PresignedMultipart, PresignedPart
    from resilient_s3._s3.errors import Where
    from resilient_s3._s3.http1 import Answer
    from resilient_s3._upload.checksums import CHECKSUM_KINDS, PartDigest
    from resilient_s3._upload.presigned_backend import PresignedBackend

    asked: list[tuple[str, int | None]] = []
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=60)

    def sign(request: SignRequest) -> Any:
        asked.append((request.action, request.part_number))
        if request.action == "create":
            parts = tuple(PresignedPart(n, f"http://s3/p{n}", 0, 1, soon) for n in (1, 2, 3))
            return PresignedMultipart("b", "k", "u", 5 * 2**20, None, parts, soon, 60)
        return PresignedRequest("PUT", "http://s3/fresh", {}, soon, expires_in=3600)

    class Sized:
        def __init__(self, length: int) -> None:
            self.length = length

    class Link:
        """Sends at 1 MiB/s, without sending anything (at once through a fresh URL)."""

        async def exchange(
            self, method: str, url: str, headers: Any, body: Sized, *args: Any
        ) -> Answer:
            if url != "http://s3/fresh":
                await anyio.sleep(body.length / 2**20)
            return Answer(200, {"etag": '"e"'}, b"")

    link: Any = Link()
    backend = PresignedBackend(
        sign, link, CHECKSUM_KINDS["CRC32"], name="test", bucket="b", checksums=False
    )
    upload_id = await backend.create_multipart(Where("b", "k"), {})
    digest = PartDigest(b"\0\0\0\0", None)

    async def send_part(number: int, length: int) -> None:
        body: Any = Sized(length)
        await backend.upload_part(Where("b", "k", upload_id, number), body, digest, {}, print)

    await send_part(1, 2**20 // 20)  # measures 1 MiB/s
    await send_part(2, 2**20 // 10)
    assert asked == [("create", None)]  # parts 1 and 2 used the URLs from create
    await send_part(3, 100 * 2**20)
    assert asked == [("create", None), ("part", 3)]
    assert backend.renewed_urls == 1


@pytest.mark.anyio
async def test_part_urls_signed_for_another_cut_are_asked_for_again_with_the_parts_size() -> None:
    """A backend that cut the parts its own way signed their lengths for its cut: such a URL
    would refuse this client's part, so that part's URL is asked for again, with its size; a
    URL signed for the client's length, or for none, is used."""
    from typing import Any

    from resilient_s3._s3.errors import Where
    from resilient_s3._s3.http1 import Answer
    from resilient_s3._upload.checksums import CHECKSUM_KINDS, PartDigest
    from resilient_s3._upload.planner import plan_upload
    from resilient_s3._upload.presigned_backend import PresignedBackend

    plan = plan_upload(12 * 2**20, multipart_threshold=1, part_size=5 * 2**20)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    asked: list[tuple[str, int | None, int | None]] = []
    sent: list[str] = []

    def sign(request: SignRequest) -> Any:
        asked.append((request.action, request.part_number, request.size))
        if request.action == "create":
            signed = {1: 5 * 2**20, 2: 7 * 2**20}  # part 2 as the backend cut it; 3 unsigned
            parts = tuple(
                PresignedPart(n, f"http://s3/p{n}", 0, 1, later, _length(signed.get(n)))
                for n in (1, 2, 3)
            )
            return PresignedMultipart("b", "k", "u", 5 * 2**20, plan.size, parts, later, 3600)
        return PresignedRequest("PUT", "http://s3/fresh", {}, later, expires_in=3600)

    class Link:
        async def exchange(self, method: str, url: str, *args: Any) -> Answer:
            sent.append(url)
            return Answer(200, {"etag": '"e"'}, b"")

    class Sized:
        def __init__(self, length: int) -> None:
            self.length = length

    link: Any = Link()
    backend = PresignedBackend(
        sign, link, CHECKSUM_KINDS["CRC32"], name="test", bucket="b", checksums=False
    )
    upload_id = await backend.create_multipart(Where("b", "k"), {}, plan)
    for part in plan.parts():
        body: Any = Sized(part.length)
        where = Where("b", "k", upload_id, part.number)
        await backend.upload_part(where, body, PartDigest(b"\0\0\0\0", None), {}, print)
    assert asked == [("create", None, plan.size), ("part", 2, 5 * 2**20)]
    assert sent == ["http://s3/p1", "http://s3/fresh", "http://s3/p3"]


def _length(signed: int | None) -> dict[str, str]:
    return {} if signed is None else {"Content-Length": str(signed)}


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({}, "'action'"),
        ([1, 2], "a sign request must be a JSON object"),
        ({"action": "put"}, "'key' is missing"),
        ({"action": "nope", "key": "k"}, "'action'"),
        ({"action": "put", "key": 5}, "'key' must be a string"),
        ({"action": "put", "key": "k", "size": "5"}, "'size' must be a whole number"),
        ({"action": "put", "key": "k", "size": True}, "'size' must be a whole number"),
        ({"action": "put", "key": "k", "size": -1}, "'size' must be 0"),
        ({"action": "part", "key": "k", "part_number": 10_001}, "'part_number' must be 1"),
        ({"action": "complete", "key": "k", "parts": "abc"}, "'parts' must be a JSON array"),
        ({"action": "complete", "key": "k", "parts": [["a", "e"]]}, "a part's number"),
        ({"action": "complete", "key": "k", "parts": [[1]]}, "each of 'parts'"),
        ({"action": "complete", "key": "k", "parts": [[1, 2]]}, "ETag and checksum"),
        ({"action": "put", "key": "k", "metadata": [1]}, "'metadata' must be a JSON object"),
        ({"action": "put", "key": "k", "metadata": {"a": {"b": 1}}}, "metadata['a']"),
    ],
)
def test_a_malformed_sign_request_names_its_field(data: object, named: str) -> None:
    """What a client sends the sign route is read strictly: the error names the field (the
    backend answers it as 400), never a KeyError or TypeError from deep inside."""
    with pytest.raises(InvalidUploadError, match=re.escape(named)):
        SignRequest.from_json(data)


def test_a_sign_request_round_trips_and_takes_uppy_style_values() -> None:
    asked = SignRequest(
        "complete",
        "k",
        upload_id="u",
        parts=((1, "e1", None), (2, "e2", "c2")),
        metadata={"a": "b"},
    )
    assert SignRequest.from_json(asked.to_json()) == asked
    read = SignRequest.from_json({"action": "put", "key": "k", "metadata": {"n": 1, "t": True}})
    assert read.metadata == {"n": "1", "t": "true"}


# -- what a presigner refuses before any request (issue 19) -----------------------------------


@pytest.fixture
def raw() -> Iterator[RawS3]:
    with RawS3() as listener:
        yield listener


@pytest.fixture
def opened(raw: RawS3) -> Iterator[Presigner]:
    """A presigner for the listener, open (it read the server's time with a HEAD)."""
    session = boto3.Session(
        aws_access_key_id=raw.access_key,
        aws_secret_access_key=raw.secret_key,
        region_name="us-east-1",
    )
    with Presigner(session, endpoint_url=raw.endpoint_url) as presigner:
        presigner.open()
        yield presigner


KEY_CALLS: dict[str, Callable[[Presigner, str], object]] = {
    "presign_put": lambda p, k: p.presign_put("bucket", k),
    "presign_upload": lambda p, k: p.presign_upload("bucket", k, 10),
    "presign_post": lambda p, k: p.presign_post("bucket", k),
    "presign_post(key_prefix)": lambda p, k: p.presign_post("bucket", key_prefix=k + "/"),
    "create_multipart": lambda p, k: p.create_multipart("bucket", k),
    "presign_part": lambda p, k: p.presign_part("bucket", k, "u", 1),
    "list_parts": lambda p, k: p.list_parts("bucket", k, "u"),
    "complete_multipart": lambda p, k: p.complete_multipart("bucket", k, "u", [(1, "e")]),
    "abort_multipart": lambda p, k: p.abort_multipart("bucket", k, "u"),
    "head": lambda p, k: p.head("bucket", k),
    "delete_object": lambda p, k: p.delete_object("bucket", k),
}


@pytest.mark.parametrize("key", ["a/../b.txt", "./a", "a/.", ".."])
@pytest.mark.parametrize("call", list(KEY_CALLS))
def test_keys_a_url_path_cannot_hold_are_refused_by_every_presigner_method(
    opened: Presigner, raw: RawS3, call: str, key: str
) -> None:
    """Browsers and curl resolve '.' and '..' segments of a URL's path before sending it: a
    URL for such a key reaches another key, with a signature that cannot match."""
    with pytest.raises(InvalidUploadError, match=r"'\.\.?' path segment.*browsers and curl"):
        KEY_CALLS[call](opened, key)
    assert raw.requests == ["HEAD / HTTP/1.1"]


@pytest.mark.anyio
async def test_the_uploaders_still_send_keys_with_dot_segments(raw: RawS3) -> None:
    """They send the key in the request's path, encoded by botocore's rules, which S3 (AWS)
    stores as written: only URLs handed to browsers and curl are at risk."""
    session = boto3.Session(
        aws_access_key_id=raw.access_key,
        aws_secret_access_key=raw.secret_key,
        region_name="us-east-1",
    )
    async with AsyncResilientUploader(session, endpoint_url=raw.endpoint_url) as up:
        await up.upload_fileobj(io.BytesIO(b"dots"), "bucket", "a/../b.txt")
    assert "PUT /bucket/a/../b.txt HTTP/1.1" in raw.requests


@pytest.mark.parametrize(
    ("parts", "named"),
    [
        ([], "no parts"),
        ([(1, "a"), (2, "b"), (1, "c")], "part 1 twice"),
        ([(0, "a")], "1 to 10,000, not 0"),
        ([(1, "a"), (10_001, "b")], "1 to 10,000, not 10001"),
    ],
    ids=["empty", "duplicate", "zero", "too-high"],
)
def test_complete_refuses_part_lists_s3_would_refuse_before_sending_them(
    opened: Presigner, raw: RawS3, parts: list[tuple[int, str]], named: str
) -> None:
    with pytest.raises(InvalidUploadError, match=re.escape(named)):
        opened.complete_multipart("bucket", "k", "upload", parts)
    assert raw.requests == ["HEAD / HTTP/1.1"]


EIGHT_BYTES = base64.b64encode(bytes(8)).decode()
BAD_SIGNING: dict[str, tuple[Callable[[Presigner], object], str]] = {
    "checksum-not-base64": (
        lambda p: p.presign_put("bucket", "k", checksum=("CRC32", "not base64!!")),
        "the base64 of its 4-byte digest",
    ),
    "checksum-wrong-length": (
        lambda p: p.presign_put("bucket", "k", checksum=("CRC32", EIGHT_BYTES)),
        "the base64 of its 4-byte digest",
    ),
    "part-checksum": (
        lambda p: p.presign_part("bucket", "k", "u", 1, checksum=("SHA256", "AAAA")),
        "the base64 of its 32-byte digest",
    ),
    "part-size": (
        lambda p: p.presign_part("bucket", "k", "u", 1, size=-1),
        "size must be 0 to 5 GiB",
    ),
    "size-range-reversed": (
        lambda p: p.presign_post("bucket", "k", size_range=(10, 1)),
        "size_range must be (low, high) with 0 <= low <= high",
    ),
    "size-range-negative": (
        lambda p: p.presign_post("bucket", "k", size_range=(-1, 10)),
        "size_range must be (low, high) with 0 <= low <= high",
    ),
    "both-content-types": (
        lambda p: p.presign_post("bucket", "k", content_type="image/png", content_type_prefix="i"),
        "content_type or content_type_prefix, not both",
    ),
    "both-keys": (
        lambda p: p.presign_post("bucket", "k", key_prefix="p/"),
        "key or key_prefix, not both",
    ),
    "no-key": (
        lambda p: p.presign_post("bucket"),
        "presign_post needs either key or key_prefix",
    ),
    **{
        f"bucket-{name}": (call, "contains 'B', '_' (uppercase is not allowed)")
        for name, call in {
            "put": lambda p: p.presign_put("Bad_Bucket", "x"),
            "post": lambda p: p.presign_post("Bad_Bucket", "x"),
            "create": lambda p: p.create_multipart("Bad_Bucket", "x"),
            "part": lambda p: p.presign_part("Bad_Bucket", "x", "u", 1),
        }.items()
    },
}


@pytest.mark.parametrize("case", list(BAD_SIGNING))
def test_signing_refuses_what_could_never_work_before_any_request(
    opened: Presigner, raw: RawS3, case: str
) -> None:
    """A checksum that is not its algorithm's digest, a size range upside down, two rules for
    one field, a bucket name the uploaders refuse (the same rule: only AWS's own endpoint
    admits the names of buckets made before March 2018)."""
    call, named = BAD_SIGNING[case]
    with pytest.raises(InvalidUploadError, match=re.escape(named)):
        call(opened)
    assert raw.requests == ["HEAD / HTTP/1.1"]


def test_a_bucket_name_is_judged_by_the_endpoint_the_session_resolved(
    raw: RawS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_ENDPOINT_URL names a server that has no buckets from before March 2018: their
    names are refused there as for an endpoint_url given to the presigner (only the server's
    time was read), where a URL for them would never work."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", raw.endpoint_url)
    session = boto3.Session(
        aws_access_key_id=raw.access_key,
        aws_secret_access_key=raw.secret_key,
        region_name="us-east-1",
    )
    with Presigner(session) as presigner:
        for call in (
            lambda: presigner.presign_put("Bad_Bucket", "x"),
            lambda: presigner.presign_post("Bad_Bucket", "x"),
            lambda: presigner.check_cors("Bad_Bucket", "https://app.example"),
        ):
            with pytest.raises(InvalidUploadError, match=re.escape("contains 'B', '_'")):
                call()
        assert presigner.presign_put("good-bucket", "x").url.startswith(raw.endpoint_url)
    assert raw.requests == ["HEAD / HTTP/1.1"]
