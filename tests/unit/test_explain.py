"""``explain`` and ``resilient-s3 explain``: errors and URLs pasted as text, and the
troubleshooting page generated from the same table."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import pytest
from botocore.credentials import ReadOnlyCredentials

from resilient_s3 import explain
from resilient_s3._auth.sigv4 import presign_url
from resilient_s3._cli.main import main
from resilient_s3._diagnostics import catalog
from resilient_s3._diagnostics.canonical import canonical_request, string_to_sign

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
SIGNED_AT = datetime.datetime(2026, 11, 30, 10, 0, 0)
ROOT = Path(__file__).resolve().parents[2]


def url(
    expires: int = 900, token: str | None = TOKEN, headers: dict[str, str] | None = None
) -> str:
    return presign_url(
        "PUT",
        "https://photos.s3.eu-west-1.amazonaws.com/video.mp4?partNumber=3&uploadId=abc",
        headers or {},
        credentials=ReadOnlyCredentials(KEY_ID, "secret", token),
        region="eu-west-1",
        expires_in=expires,
        now=lambda: SIGNED_AT,
    )


def at(minutes: float) -> datetime.datetime:
    return SIGNED_AT + datetime.timedelta(minutes=minutes)


def test_a_url_alone_says_when_how_and_by_whom_it_was_signed() -> None:
    explanation = explain(url(headers={"Content-Type": "video/mp4"}), now=at(5))
    report = explanation.url
    assert explanation.read_as == "url"
    assert report is not None
    assert report.state == "valid"
    assert report.signed_at == SIGNED_AT
    assert report.expires_at == at(15)
    assert report.region == "eu-west-1"
    assert report.access_key == "AKIA****MPLE"
    assert report.signed_headers == ("content-type", "host")
    assert report.operation == "UploadPart"
    text = "\n".join(report.lines)
    assert "in 10 min by this machine's clock" in text
    assert "temporary credentials" in text
    assert KEY_ID not in report.url
    assert TOKEN not in report.url
    assert "X-Amz-Signature=***" in report.url


@pytest.mark.parametrize(
    ("minutes", "expires", "state", "says"),
    [
        (20, 900, "expired", "5 min ago"),
        (-30, 900, "not-yet-valid", "30 min after this machine's clock"),
        (0, 700_000, "invalid", "604800"),
    ],
)
def test_a_url_that_cannot_work_says_why(minutes: int, expires: int, state: str, says: str) -> None:
    report = explain(url(expires=expires), now=at(minutes)).url
    assert report is not None
    assert report.state == state
    assert any(says in problem for problem in report.problems), report.problems


def test_sigv2_and_unsigned_urls() -> None:
    v2 = f"https://b.s3.amazonaws.com/k?AWSAccessKeyId={KEY_ID}&Expires=1796032800&Signature=abc%3D"
    report = explain(v2, now=at(0)).url
    assert report is not None
    assert "SigV2" in " ".join(report.problems)
    assert KEY_ID not in report.url
    assert "Signature=***" in report.url
    plain = explain("https://b.s3.amazonaws.com/k", now=at(0)).url
    assert plain is not None
    assert plain.state == "unsigned"


def test_a_botocore_message_is_read() -> None:
    text = (
        "botocore.exceptions.ClientError: An error occurred (InvalidAccessKeyId) when calling "
        "the PutObject operation: The AWS Access Key Id you provided does not exist in our records."
    )
    explanation = explain(text)
    assert explanation.read_as == "botocore"
    assert explanation.diagnosis is not None
    assert explanation.diagnosis.cause == "invalid-access-key"


def test_a_head_message_is_read_by_its_status() -> None:
    text = "An error occurred (403) when calling the HeadObject operation: Forbidden"
    explanation = explain(text)
    assert explanation.diagnosis is not None
    assert explanation.diagnosis.cause == "permission-denied"


def test_an_error_body_with_its_url_uses_both() -> None:
    body = (
        "<Error><Code>AccessDenied</Code><Message>Request has expired</Message>"
        "<X-Amz-Expires>900</X-Amz-Expires><Expires>2026-11-30T10:15:00Z</Expires>"
        "<ServerTime>2026-11-30T11:15:00Z</ServerTime></Error>"
    )
    explanation = explain(f"{url()}\n{body}", now=at(60))
    assert explanation.read_as == "xml"
    diagnosis = explanation.diagnosis
    assert diagnosis is not None
    assert diagnosis.cause == "presigned-url-expired"
    assert "1 h" in diagnosis.summary
    assert explanation.url is not None
    assert explanation.url.state == "expired"


def test_a_raw_http_answer_is_read_with_its_headers() -> None:
    text = (
        "HTTP/1.1 301 Moved Permanently\r\nx-amz-bucket-region: ap-south-1\r\n"
        "Date: Mon, 30 Nov 2026 10:00:00 GMT\r\n\r\n"
    )
    explanation = explain(text)
    assert explanation.read_as == "http"
    assert explanation.diagnosis is not None
    assert explanation.diagnosis.cause == "region-mismatch"
    assert "ap-south-1" in explanation.diagnosis.summary


def signature_mismatch(signed_url: str, received: dict[str, str]) -> str:
    """AWS's SignatureDoesNotMatch for ``signed_url`` sent with the headers ``received``: the
    canonical request S3 computed from them (credential and token masked, as read)."""
    parts = urlsplit(signed_url)
    pairs = [tuple(pair.split("=", 1)) for pair in parts.query.split("&")]
    query = [
        (k, "***" if k in ("X-Amz-Credential", "X-Amz-Security-Token") else v)
        for k, v in pairs
        if k != "X-Amz-Signature"
    ]
    names = dict(query)["X-Amz-SignedHeaders"].split("%3B")
    headers = {name: received.get(name, parts.netloc) for name in names}
    text, _ = canonical_request("PUT", parts.path, query, headers, "UNSIGNED-PAYLOAD")
    sts = string_to_sign("20261130T100000Z", "20261130/eu-west-1/s3/aws4_request", text)
    return (
        "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated "
        "does not match the signature you provided. Check your key and signing method."
        f"</Message><AWSAccessKeyId>{KEY_ID}</AWSAccessKeyId><StringToSign>{escape(sts)}"
        f"</StringToSign><CanonicalRequest>{escape(text)}</CanonicalRequest></Error>"
    )


def test_a_signature_mismatch_with_its_url_alone_does_not_invent_the_signed_values(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The URL names the signed headers, not their values: the value signed is unknown, not
    empty (this printed "header content-type: signed '', S3 received 'image/png'" and the fix
    "do not send Content-Type, or sign it")."""
    signed = url(headers={"Content-Type": "image/jpeg"})
    answer = signature_mismatch(signed, {"content-type": "image/png"})
    explanation = explain(f"{signed}\n{answer}", now=at(1))
    assert explanation.read_as == "xml"
    diagnosis = explanation.diagnosis
    assert diagnosis is not None
    assert diagnosis.cause == "signature-mismatch"
    assert (
        "header content-type: S3 received 'image/png'; the value signed is not in the URL"
        in diagnosis.evidence
    )
    assert diagnosis.fixes[0].startswith(
        "send exactly the Content-Type the presigner returned with the URL (the Content-Type "
        "given when presigning)"
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{signed}\n{answer}"))
    assert main(["explain", "-"]) == 0
    out = capsys.readouterr().out
    assert "signed ''" not in out
    assert "do not send Content-Type" not in out
    assert "S3 received 'image/png'; the value signed is not in the URL" in out
    assert "1. send exactly the Content-Type the presigner returned with the URL" in out
    assert KEY_ID not in out


def curl_i(body: str, *, interim: bool = False) -> str:
    """What ``curl -i`` prints for S3's answer ``body``: the status line, the headers, a blank
    line, the body (after ``100 Continue`` when curl sent ``Expect``)."""
    head = "HTTP/1.1 100 Continue\r\n\r\n" if interim else ""
    return (
        f"{head}HTTP/1.1 403 Forbidden\r\nx-amz-request-id: 4442587FB7D0A2F9\r\n"
        "Content-Type: application/xml\r\nTransfer-Encoding: chunked\r\n"
        "Date: Mon, 30 Nov 2026 10:01:00 GMT\r\nServer: AmazonS3\r\n\r\n"
        f'<?xml version="1.0" encoding="UTF-8"?>\n{body}'
    )


@pytest.mark.parametrize("interim", [False, True], ids=["403", "100 then 403"])
def test_a_curl_answer_with_its_url_as_a_second_argument_keeps_its_body(
    capsys: pytest.CaptureFixture[str], interim: bool
) -> None:
    """Issue 19: the documented "error and its URL" form. The command joins its arguments with
    a space, so the URL trailed the XML body, which then did not parse: a SignatureDoesNotMatch
    read as a bare 403, "permission-denied ... a HEAD answer has no body"."""
    signed = url(headers={"Content-Type": "image/jpeg"})
    answer = curl_i(signature_mismatch(signed, {"content-type": "image/png"}), interim=interim)
    for text in (f"{answer} {signed}", f"{signed} {answer}"):
        explanation = explain(text, now=at(1))
        assert explanation.read_as == "http"
        diagnosis = explanation.diagnosis
        assert diagnosis is not None
        assert diagnosis.cause == "signature-mismatch", diagnosis
        assert UNKNOWN_TYPE in diagnosis.evidence
        assert diagnosis.fixes[0].startswith("send exactly the Content-Type the presigner")
        assert explanation.url is not None
        assert explanation.url.signed_headers == ("content-type", "host")
    # Pasted unquoted, the shell joins the lines: S3's canonical request is lost, its code not.
    folded = explain(f"{' '.join(answer.split())} {signed}", now=at(1)).diagnosis
    assert folded is not None
    assert folded.cause == "signature-mismatch"
    assert folded.fixes[0].startswith("send every header the URL signs (X-Amz-SignedHeaders)")
    assert main(["explain", answer, signed]) == 0
    out = capsys.readouterr().out
    assert "cause: signature-mismatch" in out
    assert "HEAD" not in out
    assert "permission-denied" not in out
    assert "1. send exactly the Content-Type the presigner returned with the URL" in out
    assert KEY_ID not in out


UNKNOWN_TYPE = "header content-type: S3 received 'image/png'; the value signed is not in the URL"


def test_a_bare_code_and_nonsense() -> None:
    code = explain("SignatureDoesNotMatch").diagnosis
    assert code is not None
    assert code.cause == "signature-mismatch"
    assert explain("it broke").read_as == "unreadable"


def test_the_command_prints_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    body = "<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message>"
    body += f"<Token-0>{TOKEN}</Token-0></Error>"
    assert main(["explain", body]) == 0
    out = capsys.readouterr().out
    assert "cause: credentials-expired" in out
    assert "fixes, in the order to try them:" in out
    assert TOKEN not in out
    assert main(["explain", "--json", url()]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["read_as"] == "url"
    assert document["url"]["access_key"] == "AKIA****MPLE"
    assert KEY_ID not in json.dumps(document)


def test_a_bare_access_denied_suggests_doctor_with_a_placeholder_bucket(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explain", "AccessDenied"]) == 0
    out = capsys.readouterr().out
    assert "run `resilient-s3 doctor s3://BUCKET/PREFIX`" in out
    assert "the bucket/PREFIX" not in out


def test_the_command_reads_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("<Error><Code>SlowDown</Code></Error>"))
    assert main(["explain", "-"]) == 0
    assert "cause: throttled" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("nothing to see"))
    assert main(["explain"]) == 2


def test_the_troubleshooting_page_is_generated_from_the_table() -> None:
    page = (ROOT / "docs" / "troubleshooting.md").read_text()
    assert page == catalog.render(), (
        "docs/troubleshooting.md is stale: python -m resilient_s3._diagnostics.catalog "
        "> docs/troubleshooting.md"
    )
    for cause in (
        "presigned-url-expired",
        "explicit-deny",
        "cors-refused",
        "network",
        "invalid-part",
    ):
        assert f"## `{cause}`" in page
