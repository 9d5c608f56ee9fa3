"""The data path's SigV4 signer agrees with botocore's for the same request and time."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from resilient_s3._auth.sigv4 import sign_request

WHEN = datetime.datetime(2026, 11, 22, 8, 30, 15)


def botocore_signature(
    method: str, url: str, headers: dict[str, str], credentials: Any, payload: str | None
) -> dict[str, str]:
    class Reference(S3SigV4Auth):  # type: ignore[misc]
        def payload(self, request: Any) -> str:
            return payload or "UNSIGNED-PAYLOAD"

    request = AWSRequest(method=method, url=url, headers=headers)
    auth = Reference(credentials, "s3", "eu-west-3")
    request.context["timestamp"] = WHEN.strftime("%Y%m%dT%H%M%SZ")
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    auth._inject_signature_to_request(
        request, auth.signature(auth.string_to_sign(request, canonical), request)
    )
    return dict(request.headers.items())


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/bucket/key",
        "http://127.0.0.1:80/bucket/a%20b/c%2Bd%3De",
        "https://bucket.s3.eu-west-3.amazonaws.com/%C3%BCn%C3%AF/%7Etilde",
        "https://s3.eu-west-3.amazonaws.com:443/b/k?partNumber=12&uploadId=abc%2Fdef",
        "http://localhost:9000/b/k?uploads",
        "http://localhost:9000/b/k?a-b=1&a=2&ab=0",
    ],
)
@pytest.mark.parametrize("token", [None, "session-token/with+chars"])
@pytest.mark.parametrize(
    "payload", [None, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]
)
def test_same_signature_as_botocore(url: str, token: str | None, payload: str | None) -> None:
    credentials = ReadOnlyCredentials(
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token
    )
    headers = {
        "Content-Length": "65536",
        "Content-Type": "video/mp4",
        "x-amz-meta-owner": "  spaced   out ",
        "x-amz-checksum-crc64nvme": "AAAAAAAAAAA=",
        "Expect": "100-continue",
    }
    ours = sign_request(
        "PUT",
        url,
        headers,
        credentials=credentials,
        region="eu-west-3",
        payload_sha256=payload,
        now=lambda: WHEN,
    )
    reference = botocore_signature("PUT", url, dict(headers), credentials, payload)
    assert ours["Authorization"] == reference["Authorization"]
    assert ours["X-Amz-Date"] == reference["X-Amz-Date"]
    assert ours["X-Amz-Content-SHA256"] == reference["X-Amz-Content-SHA256"]
    assert ours.get("X-Amz-Security-Token") == reference.get("X-Amz-Security-Token")


def test_the_secret_never_appears_in_the_headers() -> None:
    credentials = ReadOnlyCredentials("AKID", "the-secret", None)
    signed = sign_request(
        "PUT", "http://h/b/k", {}, credentials=credentials, region="us-east-1", payload_sha256=None
    )
    assert "the-secret" not in repr(signed)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/bucket/key",
        "https://bucket.s3.eu-west-3.amazonaws.com/%C3%BCn%C3%AF/a%20b%2Bc",
        "https://s3.eu-west-3.amazonaws.com/b/k?partNumber=12&uploadId=abc%2Fdef",
    ],
)
@pytest.mark.parametrize("token", [None, "session-token/with+chars="])
@pytest.mark.parametrize(
    "headers", [{}, {"Content-Type": "video/mp4", "x-amz-checksum-crc32": "AAAAAA=="}]
)
def test_presigned_urls_are_signed_as_botocore_signs_them(
    url: str, token: str | None, headers: dict[str, str]
) -> None:
    from urllib.parse import parse_qsl, urlsplit

    from botocore.auth import S3SigV4QueryAuth

    from resilient_s3._auth.sigv4 import presign_url

    credentials = ReadOnlyCredentials(
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token
    )
    ours = presign_url(
        "PUT",
        url,
        headers,
        credentials=credentials,
        region="eu-west-3",
        expires_in=900,
        now=lambda: WHEN,
    )
    request = AWSRequest(method="PUT", url=url, headers=dict(headers))
    request.context["timestamp"] = WHEN.strftime("%Y%m%dT%H%M%SZ")
    auth = S3SigV4QueryAuth(credentials, "s3", "eu-west-3", expires=900)
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    auth._inject_signature_to_request(
        request, auth.signature(auth.string_to_sign(request, canonical), request)
    )
    assert dict(parse_qsl(urlsplit(ours).query)) == dict(parse_qsl(urlsplit(request.url).query))
    assert urlsplit(ours).path == urlsplit(request.url).path


def test_post_policies_are_signed_as_botocore_signs_them() -> None:
    import base64
    import json

    from botocore.auth import S3SigV4PostAuth

    from resilient_s3._auth.sigv4 import sign_post_policy

    credentials = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", "tok")
    policy = {
        "expiration": "2026-11-22T09:00:00Z",
        "conditions": [{"bucket": "b"}, ["starts-with", "$key", "incoming/"]],
    }
    ours = sign_post_policy(policy, credentials=credentials, region="eu-west-3", now=lambda: WHEN)
    request = AWSRequest(method="POST", url="https://b.s3.amazonaws.com/")
    request.context["s3-presign-post-fields"] = {}
    request.context["s3-presign-post-policy"] = json.loads(json.dumps(policy))
    auth = S3SigV4PostAuth(credentials, "s3", "eu-west-3")
    import botocore.auth

    real = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: WHEN
    try:
        auth.add_auth(request)
    finally:
        botocore.auth.get_current_datetime = real
    theirs = request.context["s3-presign-post-fields"]
    assert ours == theirs
    conditions = json.loads(base64.b64decode(ours["policy"]))["conditions"]
    assert {"x-amz-security-token": "tok"} in conditions
