"""What decides whether the object at a key is the one an upload wrote, when its answer was lost
(``_upload/evidence.py``): pure, from HeadObject answers as botocore parses them. The same rules
against real servers and a chaos proxy: tests/integration/test_completion.py."""

from __future__ import annotations

import datetime
import hashlib
import os
import time
from typing import Any

import pytest

from resilient_s3 import InvalidUploadError, S3RequestError, UploadConfig
from resilient_s3._s3.errors import NoAnswerError
from resilient_s3._upload.body import MemoryBody
from resilient_s3._upload.evidence import (
    TOKEN_METADATA,
    Attempts,
    Expected,
    Origin,
    body_md5,
    judge,
    may_have_been_done,
    multipart_etag,
    needs_body_md5,
)

pytestmark = pytest.mark.anyio

CHECKSUM = "9TTiEVftjsw="
NOW = datetime.datetime(2026, 12, 8, 12, 0, 0, tzinfo=datetime.UTC)


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


PARTS = [os.urandom(64) for _ in range(3)]
PART_ETAGS = [f'"{md5(p)}"' for p in PARTS]
OURS = multipart_etag(PART_ETAGS)


def head(**fields: Any) -> dict[str, Any]:
    """A HeadObject answer as the transport parses it: the object written just now."""
    answer: dict[str, Any] = {
        "ContentLength": 100,
        "ETag": f'"{OURS}"',
        "ChecksumCRC64NVME": CHECKSUM,
        "LastModified": NOW,
        "Metadata": {},
        "ResponseMetadata": {"HTTPHeaders": {"date": "Tue, 08 Dec 2026 12:00:01 GMT"}},
    }
    answer.update(fields)
    return {k: v for k, v in answer.items() if v is not None}


def expected(**fields: Any) -> Expected:
    values: dict[str, Any] = {
        "size": 100,
        "checksum_param": "ChecksumCRC64NVME",
        "checksum": CHECKSUM,
        "parts": 3,
        "etag": OURS,
    }
    values.update(fields)
    return Expected(**values)


def origin(seconds_ago: float = 1.0, *, marked: bool = False, token: str = "t" * 32) -> Origin:
    return Origin(token, time.time() - seconds_ago, time.monotonic() - seconds_ago, marked)


# -- the multipart ETag ------------------------------------------------------------------------


def test_the_multipart_etag_is_the_md5_of_the_parts_md5s() -> None:
    joined = b"".join(bytes.fromhex(md5(p)) for p in PARTS)
    assert multipart_etag(PART_ETAGS) == f"{md5(joined)}-3"
    assert multipart_etag([e.upper() for e in PART_ETAGS]) == OURS  # quotes and case aside
    assert multipart_etag(['"not-an-md5"', *PART_ETAGS[1:]]) is None
    assert multipart_etag(["x" * 32]) is None
    assert multipart_etag([]) is None


# -- when to look at all -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "maybe"),
    [
        (NoAnswerError("reset", without_answer="connection-failed"), True),
        (NoAnswerError("refused", without_answer="connection-refused"), False),
        (NoAnswerError("no such host", without_answer="host-unresolved"), False),
        (S3RequestError("internal", code="InternalError", status=500), True),
        (S3RequestError("200 with an <Error> body", code="InternalError", status=200), True),
        (S3RequestError("throttled", code="SlowDown", status=503), False),
        (S3RequestError("exists", code="PreconditionFailed", status=412), False),
        (S3RequestError("gone", code="NoSuchUpload", status=404), False),
        (S3RequestError("expired", code="ExpiredToken", status=400), False),
    ],
    ids=lambda v: getattr(v, "code", None) or getattr(v, "without_answer", str(v)),
)
def test_only_an_attempt_that_may_have_been_carried_out_calls_for_a_look(
    error: S3RequestError, maybe: bool
) -> None:
    assert may_have_been_done(error) is maybe


async def test_attempts_remember_an_uncertain_one() -> None:
    outcomes: list[Exception | None] = [
        S3RequestError("throttled", code="SlowDown", status=503),
        NoAnswerError("lost", without_answer="connection-failed"),
        S3RequestError("exists", code="PreconditionFailed", status=412),
        None,
    ]

    async def send() -> str:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return "ok"

    attempts = Attempts()
    attempt = attempts.watch(send)
    with pytest.raises(S3RequestError):
        await attempt()
    assert not attempts.uncertain  # a 503 SlowDown was turned away
    for _ in range(2):
        with pytest.raises(S3RequestError):
            await attempt()
    assert attempts.uncertain  # the lost one may have written the object
    assert await attempt() == "ok"


# -- a multipart upload ------------------------------------------------------------------------


def test_the_parts_etag_and_the_checksum_prove_it() -> None:
    verdict = judge(head(), expected(), origin())
    assert verdict.ours
    assert verdict.why == "the multipart ETag the parts make, the CRC64NVME checksum"


def test_the_etag_alone_proves_it_where_no_checksum_is_reported() -> None:
    verdict = judge(head(ChecksumCRC64NVME=None), expected(), origin())
    assert verdict.ours
    assert verdict.why == "the multipart ETag the parts make"


@pytest.mark.parametrize(
    ("found", "why"),
    [
        ({"ContentLength": 99}, "its size is 99, this upload's 100"),
        ({"ChecksumCRC64NVME": "AAAAAAAAAAA="}, "its CRC64NVME is AAAAAAAAAAA="),
        # Equal bytes cut otherwise (same checksum): another upload's object.
        ({"ETag": f'"{md5(b"other")}-2"'}, "is not " + str(OURS)),
        # Equal bytes written by one PUT.
        ({"ETag": f'"{md5(b"x" * 100)}"'}, "is not " + str(OURS)),
        ({"Metadata": {TOKEN_METADATA: "o" * 32}}, "it carries another upload's token"),
        (
            {"LastModified": NOW - datetime.timedelta(seconds=10)},
            "before this upload started",
        ),
    ],
    ids=["size", "checksum", "other-cut", "single-put", "other-token", "older"],
)
def test_what_rules_an_object_out(found: dict[str, Any], why: str) -> None:
    verdict = judge(head(**found), expected(), origin())
    assert not verdict.ours
    assert why in verdict.why


def test_last_modified_is_read_on_the_servers_clock_with_whole_second_slack() -> None:
    # Started 10 s before HeadObject's Date (12:00:01), by the monotonic clock: on the server's
    # clock about 11:59:51. LastModified and Date are whole seconds: 2 s of slack, 11:59:49.
    date = datetime.datetime(2026, 12, 8, 12, 0, 1, tzinfo=datetime.UTC)
    for seconds, ours in ((-11.5, True), (-12.5, False)):
        found = head(LastModified=date + datetime.timedelta(seconds=seconds))
        assert judge(found, expected(), origin(10.0)).ours is ours


def test_no_date_no_last_modified_no_time_evidence() -> None:
    # A presigned backend's head has neither: the other evidence decides.
    assert judge(head(LastModified=None, ResponseMetadata=None), expected(), origin(600)).ours


@pytest.mark.parametrize(
    "encryption",
    [{"ServerSideEncryption": "aws:kms"}, {"SSECustomerAlgorithm": "AES256"}],
    ids=["sse-kms", "sse-c"],
)
def test_under_sse_kms_or_sse_c_the_etag_proves_only_when_it_matches(
    encryption: dict[str, str],
) -> None:
    kms_etag = f'"{md5(b"random")}-3"'  # AWS: not an MD5 of the data
    # The checksum still proves it; the ETag's part count must agree.
    verdict = judge(head(ETag=kms_etag, **encryption), expected(), origin())
    assert verdict.ours
    assert verdict.why == "the CRC64NVME checksum"
    other_count = judge(head(ETag=f'"{md5(b"random")}-2"', **encryption), expected(), origin())
    assert not other_count.ours
    assert "names 2 parts, not 3" in other_count.why
    # No checksum reported and an ETag that proves nothing: not confirmed.
    unproven = judge(
        head(ETag=kms_etag, ChecksumCRC64NVME=None, **encryption), expected(), origin()
    )
    assert not unproven.ours
    assert "completion_token=True" in unproven.why
    # An ETag computed from the parts' (whatever they are) still proves it.
    assert judge(head(ChecksumCRC64NVME=None, **encryption), expected(), origin()).ours


def test_the_args_asking_for_sse_kms_count_too() -> None:
    kms_etag = f'"{md5(b"random")}-3"'
    verdict = judge(head(ETag=kms_etag), expected(encrypted=True), origin())
    assert verdict.ours
    assert not judge(head(ETag=kms_etag), expected(), origin()).ours


def test_with_a_token_the_token_decides() -> None:
    mine = origin(marked=True)
    carries = head(ETag='"anything"', Metadata={TOKEN_METADATA: mine.token})
    assert judge(carries, expected(), mine).ours
    assert not judge(head(), expected(), mine).ours  # equal bytes and parts, no token
    damaged = judge({**carries, "ChecksumCRC64NVME": "AAAAAAAAAAA="}, expected(), mine)
    assert not damaged.ours
    assert damaged.damaged is not None


def test_a_token_journaled_before_counts_when_found() -> None:
    resumed = Origin("r" * 32, time.time() - 60)  # marked unknown after a restart
    found = head(ChecksumCRC64NVME=None, ETag='"whatever-3"', Metadata={TOKEN_METADATA: "r" * 32})
    verdict = judge(found, expected(encrypted=True), resumed)
    assert verdict.ours
    assert verdict.why == "this upload's token"


# -- a single PUT ------------------------------------------------------------------------------


def single(**fields: Any) -> Expected:
    return expected(parts=None, etag=None, **fields)


def test_a_single_put_is_proved_by_its_checksum_or_its_md5() -> None:
    body = b"x" * 100
    md5_etag = f'"{md5(body)}"'
    assert judge(head(ETag=md5_etag), single(), origin()).ours
    plain = head(ETag=md5_etag, ChecksumCRC64NVME=None)
    assert needs_body_md5(plain, single(), origin())
    assert not judge(plain, single(), origin()).ours  # nothing proves it without the MD5
    assert judge(plain, single(), origin(), md5=md5(body)).ours
    other = judge(plain, single(), origin(), md5=md5(b"y" * 100))
    assert not other.ours
    assert "not the MD5 of this body" in other.why
    multipart = judge(head(), single(), origin())
    assert not multipart.ours
    assert "a multipart upload's" in multipart.why
    assert body_md5(MemoryBody(memoryview(body))) == md5(body)


def test_a_single_put_under_sse_kms_needs_its_checksum() -> None:
    kms = head(ETag='"0123456789abcdef0123456789abcdef"', ServerSideEncryption="aws:kms")
    assert judge(kms, single(), origin()).ours
    without = {**kms, "ChecksumCRC64NVME": None}
    assert not needs_body_md5(without, single(), origin())
    assert not judge(without, single(), origin()).ours


# -- the option --------------------------------------------------------------------------------


def test_completion_token_is_off_by_default_and_a_bool() -> None:
    assert UploadConfig().completion_token is False
    assert UploadConfig(completion_token=True).completion_token is True
    with pytest.raises(InvalidUploadError, match="completion_token must be True or False"):
        UploadConfig(completion_token="yes")  # type: ignore[arg-type]
