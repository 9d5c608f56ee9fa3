"""Pure parts of presigned uploads: the CORS checker, the sign protocol's JSON, redaction."""

from __future__ import annotations

import datetime
import re

import pytest

from resilient_s3 import (
    CompletedUpload,
    PresignedMultipart,
    PresignedPart,
    PresignedPost,
    PresignedRequest,
    SignRequest,
    UploadedPart,
    check_cors_rules,
)
from resilient_s3._presigned import answer_from_json, answer_to_json
from resilient_s3._redact import redact_headers, redact_text

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
    from resilient_s3 import InvalidUploadError

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
