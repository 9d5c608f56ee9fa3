"""The header rules (``_headers``) and the HTTP/1.1 client's refusal of a head they break, before
a single byte is sent: a CR/LF in a value would smuggle a second request onto the connection."""

from __future__ import annotations

import asyncio
import re
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilient_s3._exceptions import InvalidUploadError
from resilient_s3._headers import (
    check_extra_args,
    check_header_name,
    check_header_value,
    check_metadata,
    check_request,
)
from resilient_s3._s3.http1 import Http1Client, _encode_head
from s3_helpers import RawS3

TCHARS = "!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters
FORBIDDEN = [chr(c) for c in [*range(0x09), *range(0x0A, 0x20), 0x7F]] + ["\u0100", "€", "日"]
"""What no value may hold: controls (HTAB excepted), DEL, anything beyond latin-1."""
VALUE_CHARS = "\t" + "".join(map(chr, range(0x20, 0x7F))) + "".join(map(chr, range(0x80, 0x100)))
SMUGGLED = "image/png\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

tokens = st.text(alphabet=TCHARS, min_size=1, max_size=30)
values = st.text(alphabet=VALUE_CHARS, max_size=60)


def refused(check: Any, *args: Any) -> str | None:
    """The message ``check(*args)`` refuses with, None if it accepts."""
    try:
        check(*args)
    except InvalidUploadError as exc:
        return str(exc)
    return None


# -- the rules ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(name=tokens)
def test_every_token_is_a_header_name(name: str) -> None:
    check_header_name(name)


@settings(max_examples=300, deadline=None)
@given(
    before=st.text(alphabet=TCHARS, max_size=10),
    bad=st.characters(exclude_characters=TCHARS),
    after=st.text(alphabet=TCHARS, max_size=10),
)
def test_a_name_with_anything_but_tchars_is_refused(before: str, bad: str, after: str) -> None:
    message = refused(check_header_name, before + bad + after, "extra_args['Metadata']['x']")
    assert message is not None
    assert message.startswith("extra_args['Metadata']['x'] is not an HTTP token")
    assert f"at position {len(before)}" in message


def test_an_empty_name_is_refused() -> None:
    assert "is empty" in (refused(check_header_name, "") or "")


@settings(max_examples=300, deadline=None)
@given(value=values)
def test_tabs_printable_ascii_and_obs_text_are_values(value: str) -> None:
    check_header_value(value, "v")


@settings(max_examples=300, deadline=None)
@given(before=values, bad=st.sampled_from(FORBIDDEN), after=values)
def test_a_value_with_a_control_or_a_character_beyond_latin1_is_refused(
    before: str, bad: str, after: str
) -> None:
    message = refused(check_header_value, before + bad + after, "extra_args['ContentType']")
    assert message is not None
    assert message.startswith("extra_args['ContentType'] contains ")
    assert f"at position {len(before)}" in message


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        ("\r", r"a line break (CR/LF) '\r'"),
        ("\n", r"a line break (CR/LF) '\n'"),
        ("\0", r"a NUL character '\x00'"),
        ("\x1b", r"a control character '\x1b'"),
        ("\x7f", r"a control character '\x7f'"),
        ("€", "a character beyond latin-1 (U+20AC)"),
    ],
)
def test_the_message_names_the_character_and_never_shows_the_value(bad: str, said: str) -> None:
    message = refused(check_header_value, f"s3cr3t-token{bad}s3cr3t-tail", "header 'x' value")
    assert message == (
        f"header 'x' value contains {said} at position 12; header values hold printable "
        "characters and tabs only, up to U+00FF; nothing was sent"
    )
    assert "s3cr3t" not in message


def test_extra_args_name_the_argument() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ContentType": SMUGGLED}, "extra_args['ContentType'] contains a line break"),
        ({"ContentDisposition": "inline\n"}, "extra_args['ContentDisposition'] contains a line"),
        ({"Tagging": "a=b\x00"}, "extra_args['Tagging'] contains a NUL character"),
        (
            {"Metadata": {"ok": "fine", "bad name": "v"}},
            "the metadata name of extra_args['Metadata']['bad name'] is not an HTTP token",
        ),
        (
            {"Metadata": {"a\r\nX-Injected": "v"}},
            r"the metadata name of extra_args['Metadata']['a\r\nX-Injected'] is not an HTTP",
        ),
        ({"Metadata": {"a": "v\r\nX: y"}}, "extra_args['Metadata']['a'] contains a line break"),
        ({"Metadata": {"": "v"}}, "the metadata name of extra_args['Metadata'][''] is empty"),
    ]
    for args, start in cases:
        message = refused(check_extra_args, args)
        assert message is not None, args
        assert message.startswith(start), message


def test_what_is_not_a_header_string_is_left_to_botocore() -> None:
    import datetime

    check_extra_args(
        {
            "ContentType": "text/plain; charset=iso-8859-1",
            "ContentDisposition": 'attachment; filename="caf\xe9.txt"',  # obs-text is HTTP
            "Expires": datetime.datetime(2030, 1, 1),
            "ContentLength": 3,
            "SSECustomerKey": b"\r\n" * 16,  # botocore sends keys base64-encoded
            "CopySourceSSECustomerKey": "\r\n" * 16,
            "Metadata": {"n": 1},
        }
    )
    check_metadata({"owner": "me", "tabs": "a\tb"})


# -- the HTTP/1.1 client's head ------------------------------------------------------------------

names = st.one_of(tokens, st.text(max_size=12))
head_values = st.one_of(values, st.text(max_size=40))


@settings(max_examples=500, deadline=None)
@given(
    method=st.sampled_from(["PUT", "GET", "HEAD", "POST", "DELETE", "PATCH", "GE T", "PUT\r\n"]),
    target=st.one_of(st.just("/b/k?uploads"), st.text(min_size=1, max_size=20)),
    host=st.one_of(st.just("127.0.0.1:9000"), st.text(max_size=12)),
    headers=st.dictionaries(names, head_values, max_size=6),
)
def test_the_one_pass_check_refuses_exactly_what_the_rules_refuse(
    method: str, target: str, host: str, headers: dict[str, str]
) -> None:
    """The client's fast path (the encoded head, one translate) agrees with the rules read
    header by header, and refuses with their message."""
    expected = refused(check_request, method, target, host, headers)
    got = refused(_encode_head, method, target, host, "resilient-s3/test", headers)
    assert got == expected


def test_a_clean_head_is_what_was_sent_before() -> None:
    headers = {"Content-Length": "5", "x-amz-meta-owner": "caf\xe9\tx"}
    assert _encode_head("PUT", "/b/k", "h:9", "ua", headers) == (
        b"PUT /b/k HTTP/1.1\r\nHost: h:9\r\nUser-Agent: ua\r\nContent-Length: 5\r\n"
        b"x-amz-meta-owner: caf\xe9\tx\r\n\r\n"
    )


def test_a_line_break_in_the_user_agent_is_refused_too() -> None:
    with pytest.raises(InvalidUploadError, match="the request head holds a line break"):
        _encode_head("GET", "/", "h", "ua\r\nX: y", {})


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Content-Type": SMUGGLED}, "header 'Content-Type' value contains a line break"),
        ({"x-amz-meta-a\r\nGET /smuggled": "v"}, "header name 'x-amz-meta-a\\r\\nGET /smu"),
        ({"x-amz-meta-a": "v\x00"}, "header 'x-amz-meta-a' value contains a NUL"),
        ({"Content-Disposition": "r\u00e9sum\u00e9 \u20ac"}, "a character beyond latin-1"),
        ({"": "v"}, "header name '' is empty"),
    ],
)
async def test_the_client_refuses_a_bad_head_before_sending_a_byte(
    headers: dict[str, str], message: str
) -> None:
    """On a pooled keep-alive connection: the requests before and after get their own answers,
    and the listener sees exactly those two."""
    with RawS3() as raw:
        http = Http1Client(connect_timeout=5, read_timeout=5, user_agent="test")
        try:
            first = await http.request("GET", f"{raw.endpoint_url}/b/first", {})
            with pytest.raises(InvalidUploadError, match=re.escape(message)):
                await http.request("GET", f"{raw.endpoint_url}/b/bad", headers)
            last = await http.request("GET", f"{raw.endpoint_url}/b/last", {})
        finally:
            http.close()
        await asyncio.sleep(0.05)  # let the listener's thread record what came
        assert (first.status, last.status) == (200, 200)
        assert raw.requests == ["GET /b/first HTTP/1.1", "GET /b/last HTTP/1.1"]
        assert b"smuggled" not in raw.received
        assert b"/b/bad" not in raw.received
