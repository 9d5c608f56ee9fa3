"""The one table of S3's answers: the retry classifier and diagnose read it and agree."""

from __future__ import annotations

import pytest
from botocore.credentials import ReadOnlyCredentials
from hypothesis import given
from hypothesis import strategies as st

from resilient_s3 import diagnose
from resilient_s3._auth.sigv4 import presign_url
from resilient_s3._diagnostics.codes import CODES, MESSAGES, STATUSES, Action, classify
from resilient_s3._diagnostics.diagnose import diagnose_code

codes = st.one_of(st.none(), st.sampled_from(sorted(CODES)), st.text(max_size=30))
statuses = st.one_of(st.none(), st.integers(min_value=100, max_value=599))
messages = st.one_of(
    st.just(""), st.sampled_from([text for _, text, _ in MESSAGES]), st.text(max_size=40)
)


@given(codes, statuses, messages)
def test_diagnose_says_retryable_exactly_when_the_classifier_retries(
    code: str | None, status: int | None, message: str
) -> None:
    verdict = classify(code, status, message=message)
    diagnosis = diagnose_code(code, status, message)
    assert diagnosis.retryable is verdict.retryable


@given(codes, statuses, messages)
def test_every_answer_the_classifier_does_not_simply_fail_has_a_cause(
    code: str | None, status: int | None, message: str
) -> None:
    if classify(code, status, message=message).action is not Action.FAIL:
        assert diagnose_code(code, status, message).cause != "unknown"


@pytest.mark.parametrize(
    ("code", "status", "cause", "retryable"),
    [
        # Retried or fixed by the classifier, once diagnosed "unknown":
        ("RequestExpired", 403, "clock-skew", True),
        ("Throttling", 400, "throttled", True),
        ("BadDigest", 400, "checksum-mismatch", True),
        ("ExpiredTokenException", 400, "credentials-expired", True),
        # Diagnosed retryable, never retried: now neither.
        (None, 501, "server-error", False),
    ],
)
def test_the_tables_once_disagreed_here(
    code: str | None, status: int, cause: str, retryable: bool
) -> None:
    diagnosis = diagnose_code(code, status)
    assert (diagnosis.cause, diagnosis.retryable) == (cause, retryable)
    assert classify(code, status).retryable is retryable


@pytest.mark.parametrize("code", ["InvalidPart", "InvalidPartOrder"])
def test_parts_s3_cannot_match_are_their_own_cause_and_final(code: str) -> None:
    """Issue 19: a wrong ETag in CompleteMultipartUpload read "invalid-request", with the fix
    "check the extra_args and settings named in the message"."""
    diagnosis = diagnose_code(code, 400)
    assert (diagnosis.cause, diagnosis.retryable) == ("invalid-part", False)
    assert classify(code, 400).action is Action.FAIL
    assert "ListParts (Presigner.list_parts" in diagnosis.fixes[0]
    assert "ascending part number order" in diagnosis.fixes[0]


def test_a_signed_checksum_makes_a_bad_digest_final_for_the_diagnosis_only() -> None:
    """The retrier reads the code alone and re-sends once (a file changed while read is caught
    then); the diagnosis also reads the URL: the backend signed another body's checksum, and
    the same bytes fail again."""
    url = presign_url(
        "PUT",
        "https://photos.s3.eu-west-1.amazonaws.com/cat.jpg",
        {"x-amz-checksum-crc32": "AAAAAA=="},
        credentials=ReadOnlyCredentials("AKIAIOSFODNN7EXAMPLE", "secret", None),
        region="eu-west-1",
        expires_in=300,
    )
    body = b"<Error><Code>BadDigest</Code><Message>The CRC32 you specified did not match the "
    body += b"calculated checksum.</Message></Error>"
    assert classify("BadDigest", 400).action is Action.REREAD
    assert diagnose(status=400, headers={}, body=body).retryable
    assert not diagnose(status=400, headers={}, body=body, url=url).retryable


def test_every_rule_names_a_cause_and_a_fix() -> None:
    rules = [*CODES.values(), *STATUSES.values(), *(rule for _, _, rule in MESSAGES)]
    for rule in rules:
        assert rule.cause != "unknown"
        assert rule.summary
        assert rule.fixes


def test_diagnose_reads_botocore_client_errors_by_their_shape() -> None:
    from botocore.exceptions import ClientError

    error = ClientError(
        {
            "Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
            "ResponseMetadata": {"HTTPStatusCode": 503},
        },
        "PutObject",
    )
    diagnosis = diagnose(error)
    assert (diagnosis.cause, diagnosis.retryable) == ("throttled", True)
