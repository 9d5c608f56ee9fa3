"""Events, log records and their redaction; the directory walk's selection. No server here."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from resilient_s3 import EventKind, RedactingFormatter, UploadEvent
from resilient_s3._events import Events
from resilient_s3._redact import redact_text, remember_secrets
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
