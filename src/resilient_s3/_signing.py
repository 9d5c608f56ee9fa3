"""SigV4 signing for the data path, with botocore's signer.

Two things differ from botocore's ``S3SigV4Auth``: the payload hash is computed beforehand (in a
worker thread, in the same pass as the checksum) instead of on the event loop, and the signing
time comes from an injected clock, so that a learned clock offset applies to every request.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import botocore.auth
from botocore.auth import SIGV4_TIMESTAMP, UNSIGNED_PAYLOAD, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

Clock = Callable[[], datetime.datetime]


def utc_now() -> datetime.datetime:
    """Naive UTC now, from the function botocore's own signers use (looked up on each call, so
    a test that skews botocore's clock skews ours too)."""
    now: datetime.datetime = botocore.auth.get_current_datetime()
    return now


class _PresetPayloadSigV4(S3SigV4Auth):  # type: ignore[misc]
    def __init__(
        self, credentials: ReadOnlyCredentials, region: str, payload_sha256: str | None, now: Clock
    ) -> None:
        super().__init__(credentials, "s3", region)
        self._payload_sha256 = payload_sha256
        self._now = now

    def payload(self, request: AWSRequest) -> str:
        return self._payload_sha256 or UNSIGNED_PAYLOAD

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._now().strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        signature = self.signature(string_to_sign, request)
        self._inject_signature_to_request(request, signature)


def sign_request(
    method: str,
    url: str,
    headers: dict[str, str],
    *,
    credentials: ReadOnlyCredentials,
    region: str,
    payload_sha256: str | None,
    now: Clock = utc_now,
) -> dict[str, str]:
    """Headers to send: ``headers`` plus the SigV4 ones.

    ``payload_sha256`` is the body's hex SHA-256, or None for ``UNSIGNED-PAYLOAD``.
    """
    request = AWSRequest(method=method, url=url, headers=headers)
    _PresetPayloadSigV4(credentials, region, payload_sha256, now).add_auth(request)
    return dict(request.headers.items())
