"""Events, log records and their redaction; the directory walk's selection. No server here."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import socket
from pathlib import Path
from typing import Any

import pytest

from resilient_s3 import (
    AsyncResilientUploader,
    EventKind,
    RedactingFormatter,
    S3RequestError,
    SourceError,
    UploadEvent,
)
from resilient_s3._events import Events
from resilient_s3._redact import redact_headers, redact_text, remember_secrets
from resilient_s3._s3 import sender as sender_module
from resilient_s3._s3.errors import Where
from resilient_s3._s3.sender import Sender
from resilient_s3._upload.directory import Selection, walk


def test_an_event_nobody_listens_to_is_not_even_built(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="resilient_s3")
    Events().emit(EventKind.PART_DONE, bucket="b", key="k", part_number=1, size=5, seconds=0.1)
    assert caplog.records == []


def test_events_reach_the_callback_and_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="resilient_s3")
    seen: list[UploadEvent] = []
    events = Events(seen.append)
    events.emit(
        EventKind.RETRY,
        bucket="b",
        key="k",
        part_number=3,
        cause="throttled",
        seconds=0.4,
        attempt=1,
    )
    events.emit(
        EventKind.COMPLETED, bucket="b", key="k", size=10, parts=1, seconds=0.5, strategy="single"
    )
    assert [event.kind for event in seen] == [EventKind.RETRY, EventKind.COMPLETED]
    retry, completed = caplog.records
    assert retry.levelno == logging.INFO  # not the happy path
    assert completed.levelno == logging.DEBUG
    assert (
        retry.getMessage() == "part 3 of s3://b/k: throttled, retrying in 0.40 s (attempt 1 failed)"
    )
    assert vars(retry)["event"] is seen[0]
    assert seen[0].as_dict() == {
        "kind": "retry",
        "bucket": "b",
        "key": "k",
        "part_number": 3,
        "seconds": 0.4,
        "cause": "throttled",
        "attempt": 1,
    }


def test_a_refresh_forced_by_s3_is_not_the_happy_path(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="resilient_s3")
    Events().emit(EventKind.CREDENTIALS_REFRESHED, cause="ahead")
    Events().emit(EventKind.CREDENTIALS_REFRESHED, cause="expired")
    assert [r.levelno for r in caplog.records] == [logging.DEBUG, logging.INFO]


def test_a_callback_that_raises_is_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: UploadEvent) -> None:
        raise ValueError("exporter down")

    Events(broken).emit(EventKind.STARTED, bucket="b", key="k")
    assert "the on_event callback raised" in caplog.text


def test_secrets_the_process_signs_with_are_masked_everywhere() -> None:
    secret, token = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzEXAMPLE", "FQoGZXIvYXdzEXAMPLEtoken0123"
    remember_secrets(secret, token, None, "short")
    text = f"creds {secret} and {token}; short stays"
    assert redact_text(text) == "creds *** and ***; short stays"


def test_the_formatter_masks_messages_arguments_and_tracebacks() -> None:
    formatter = RedactingFormatter("%(message)s")
    headers = {"Authorization": b"AWS4-HMAC-SHA256 Credential=AKIAX/2026, Signature=" + b"a" * 64}
    try:
        raise RuntimeError("X-Amz-Signature=" + "b" * 64)
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "botocore", logging.DEBUG, __file__, 1, "headers=%s", (headers,), sys.exc_info()
        )
    line = formatter.format(record)
    assert "AKIAX" not in line
    assert "a" * 64 not in line
    assert "b" * 64 not in line
    assert "Traceback" in line


def sse_c_forms(key: bytes) -> tuple[str, str]:
    """An SSE-C key as its header carries it (base64) and its MD5 (base64)."""
    return base64.b64encode(key).decode(), base64.b64encode(hashlib.md5(key).digest()).decode()


def test_sse_c_keys_are_masked_in_botocores_debug_lines(caplog: pytest.LogCaptureFixture) -> None:
    import botocore.config
    import botocore.session
    from botocore.exceptions import EndpointConnectionError

    key = secrets.token_hex(16)  # never remembered: only the patterns can mask it
    b64, md5 = sse_c_forms(key.encode())
    session = botocore.session.Session()
    session.set_credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    client = session.create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )

    def refuse(**kwargs: Any) -> None:  # what an endpoint that refuses gives, without a socket
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9/b/k")

    client.meta.events.register("before-send.s3", refuse)
    caplog.set_level(logging.DEBUG, logger="botocore")
    with pytest.raises(EndpointConnectionError):
        client.copy_object(
            Bucket="b",
            Key="k",
            CopySource="b/source",
            SSECustomerAlgorithm="AES256",
            SSECustomerKey=key,
            CopySourceSSECustomerAlgorithm="AES256",
            CopySourceSSECustomerKey=key,
        )
    client.close()
    formatter = RedactingFormatter("%(name)s: %(message)s")
    text = "\n".join(formatter.format(record) for record in caplog.records)
    # botocore's own lines: the parameters, then the headers (bytes) of the prepared request.
    assert "Making request for OperationModel(name=CopyObject)" in text
    assert "'SSECustomerKey': '***'" in text
    assert "'CopySourceSSECustomerKey': '***'" in text
    assert "'x-amz-copy-source-server-side-encryption-customer-key': b'***'" in text
    for secret in (key, b64, md5):
        assert secret not in text
    assert "Credential=AKIA" not in text


def test_sse_c_headers_are_masked_in_every_form() -> None:
    b64, md5 = sse_c_forms(secrets.token_bytes(32))
    for name in (
        "x-amz-server-side-encryption-customer-key",
        "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key",
    ):
        headers = {name: b64, f"{name}-MD5": md5, "Host": "h"}
        assert redact_headers(headers) == {name: "***", f"{name}-MD5": "***", "Host": "h"}
        for text in (
            f"{name.lower()}:{b64}\n{name.lower()}-md5:{md5}\n",  # a canonical request
            f'{{"{name}": "{b64}", "{name}-MD5": "{md5}"}}',  # JSON
            f"{name}={b64}&{name}-MD5={md5}",  # a form
        ):
            masked = redact_text(text)
            assert b64 not in masked, masked
            assert md5 not in masked, masked
    # The names alone, in a message, are not secrets.
    for prose in ("SSECustomerKey must be 32 bytes", "extra_args SSECustomerKey: the key"):
        assert redact_text(prose) == prose


@pytest.mark.anyio
@pytest.mark.parametrize("as_str", [False, True])
async def test_sse_c_keys_in_extra_args_are_masked_from_then_on(
    tmp_path: Path, as_str: bool
) -> None:
    raw = secrets.token_hex(16).encode() if as_str else secrets.token_bytes(32)
    key: bytes | str = raw.decode() if as_str else raw
    b64, md5 = sse_c_forms(raw)
    uploader = AsyncResilientUploader(endpoint_url="http://127.0.0.1:9")
    with pytest.raises(SourceError):  # refused before any request
        await uploader.upload_file(
            tmp_path / "missing",
            "bucket",
            "k",
            extra_args={"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key},
        )
    # Bare values, where no name tells they are keys: an exception's text, a user's line.
    shown = key if isinstance(key, str) else repr(key)[2:-1]
    text = f"{shown} {b64} {md5}"
    assert redact_text(text) == "*** *** ***"


def refusing_url() -> str:
    """A URL on this machine where nothing listens (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/b/k"


@pytest.mark.anyio
async def test_each_http_exchange_is_one_debug_record_its_secrets_masked(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, b64 = "FQoGZXIvYXdzEXAMPLEsessionTOKEN0123456789", "c2VjcmV0IGtleSBvZiBzc2UtYw=="
    signature = "f" * 64
    url = f"{refusing_url()}?partNumber=1&X-Amz-Signature={signature}"
    headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261130/us-east-1/"
        f"s3/aws4_request, SignedHeaders=host, Signature={signature}",
        "X-Amz-Security-Token": token,
        "x-amz-server-side-encryption-customer-key": b64,
        "Content-Length": "1",
    }
    sender = Sender(max_connections=1, connect_timeout=2, read_timeout=2, verify=None)
    try:
        # DEBUG off: not a record, and nothing of one is built.
        caplog.set_level(logging.INFO, logger="resilient_s3")
        monkeypatch.setattr(sender_module, "redact_headers", None)  # would raise if called
        with pytest.raises(S3RequestError):
            await sender.exchange("PUT", url, headers, b"x", None, Where("b", "k"), "UploadPart")
        assert caplog.records == []
        monkeypatch.undo()

        caplog.set_level(logging.DEBUG, logger="resilient_s3")
        with pytest.raises(S3RequestError):
            await sender.exchange("PUT", url, headers, b"x", None, Where("b", "k"), "UploadPart")
    finally:
        await sender.close()
    [record] = caplog.records
    assert record.levelno == logging.DEBUG
    line = record.getMessage()  # masked without the formatter's help
    assert line.startswith("HTTP UploadPart: PUT http://127.0.0.1:")
    assert "-> no answer (ConnectionRefusedError" in line
    assert "'Authorization': '***'" in line
    assert "'X-Amz-Security-Token': '***'" in line
    assert "'x-amz-server-side-encryption-customer-key': '***'" in line
    assert "'Content-Length': '1'" in line
    for secret in (token, b64, signature, "AKIAIOSFODNN7EXAMPLE"):
        assert secret not in line


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ((), (), ["a.jpg", "b.txt", "raw/c.jpg", "raw/d.tmp"]),
        (("*.jpg",), (), ["a.jpg", "raw/c.jpg"]),  # * crosses /
        (("raw/*",), ("*.tmp",), ["raw/c.jpg"]),
        ((), ("raw/*",), ["a.jpg", "b.txt"]),
    ],
)
def test_the_selection_of_files(
    tmp_path: Path, include: tuple[str, ...], exclude: tuple[str, ...], expected: list[str]
) -> None:
    (tmp_path / "raw").mkdir()
    for name in ("a.jpg", "b.txt", "raw/c.jpg", "raw/d.tmp"):
        (tmp_path / name).write_text(name)
    os.symlink(tmp_path / "a.jpg", tmp_path / "link.jpg")  # never followed
    os.symlink(tmp_path / "raw", tmp_path / "raw-link")
    found = sorted(relative for _, relative, _ in walk(tmp_path, Selection(include, exclude)))
    assert found == expected


def test_the_walk_is_lazy(tmp_path: Path) -> None:
    for n in range(10):
        (tmp_path / f"f{n}").write_text("x")
    files = walk(tmp_path, Selection())
    first = next(files)
    assert first[2] == 1
    assert len(list(files)) == 9


def test_many_sse_c_keys_never_unmask_the_signing_secret() -> None:
    from resilient_s3._redact import redact_text, remember_secrets, remember_sse_c_key

    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY-never-shown"
    remember_secrets(secret)
    for n in range(100):
        remember_sse_c_key(f"{n:032d}".encode())
    assert secret not in redact_text(f"secret={secret}")
