"""What an HTTP header may hold, checked before a single byte is sent.

A header name is an RFC 9110 token; a header value holds no CR, LF, NUL or other control
character (HTAB excepted) and nothing above U+00FF, which HTTP/1.1 cannot carry. A CR/LF copied
into a request head ends the header there: what follows is read by the server as more headers,
or as a second request smuggled onto the pooled keep-alive connection, whose answer then goes to
another request. The checks raise :class:`InvalidUploadError` naming the argument and the
offending character's position, never the value itself (it may be a secret). Pure: part of the
library's vocabulary, used at the API boundary (to name the caller's argument) and by the
HTTP/1.1 client (the last line of defence, as http.client's ``putheader`` and aiohttp have).
"""

from __future__ import annotations

import re
from collections.abc import KeysView, Mapping
from typing import Any

from ._exceptions import InvalidUploadError

TCHARS = r"!#$%&'*+\-.^_`|~0-9A-Za-z"
"""The characters of an RFC 9110 token, as a regular expression's character class."""
_TOKEN = re.compile(f"[{TCHARS}]+")
_NOT_TCHAR = re.compile(f"[^{TCHARS}]")
_NOT_VALUE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
"""What a field value cannot hold: controls but HTAB, DEL, and anything beyond latin-1."""
_NOT_TARGET = re.compile(r"[^\x21-\x7e\x80-\xff]")
"""What the request target and the Host cannot hold: the value rules, and no space or HTAB."""
_TOKEN_RULE = (
    "header names (metadata names too) and methods are letters, digits and !#$%&'*+-.^_`|~; "
    "nothing was sent"
)
_VALUE_RULE = (
    "header values hold printable characters and tabs only, up to U+00FF; nothing was sent"
)
_SHOWN = 40
_ENCODED_BY_BOTOCORE = ("SSECustomerKey", "CopySourceSSECustomerKey")
"""extra_args botocore sends base64-encoded (any characters are safe there)."""


def check_header_name(name: str, what: str = "") -> None:
    """Refuse ``name`` unless it is an RFC 9110 token; ``what`` names it in the message."""
    if _TOKEN.fullmatch(name) is not None:
        return
    what = what or f"header name {_shown(name)}"
    if not name:
        raise InvalidUploadError(f"{what} is empty; {_TOKEN_RULE}")
    found = _NOT_TCHAR.search(name)
    assert found is not None
    raise InvalidUploadError(
        f"{what} is not an HTTP token: it contains {_character(found.group())} at "
        f"position {found.start()}; {_TOKEN_RULE}"
    )


def check_header_value(value: str, what: str) -> None:
    """Refuse a ``value`` HTTP cannot carry in a header; ``what`` names it in the message (the
    value is never shown, only the offending character and its position)."""
    found = _NOT_VALUE.search(value)
    if found is not None:
        raise InvalidUploadError(
            f"{what} contains {_character(found.group())} at position {found.start()}; "
            + _VALUE_RULE
        )


def check_extra_args(extra_args: Mapping[str, Any], what: str = "extra_args") -> None:
    """Check the strings of boto3-style ``extra_args`` that become headers: every str value,
    and every name and value of ``Metadata`` (sent as ``x-amz-meta-<name>`` headers). Other
    values (ints, datetimes, SSE-C keys, which botocore base64s) are botocore's to check."""
    for name, value in extra_args.items():
        if name == "Metadata" and isinstance(value, Mapping):
            check_metadata(value, f"{what}['Metadata']")
        elif isinstance(value, str) and name not in _ENCODED_BY_BOTOCORE:
            check_header_value(value, f"{what}[{_shown(name)}]")


def check_metadata(metadata: Mapping[str, Any], what: str = "metadata") -> None:
    """Check user metadata: each name becomes an ``x-amz-meta-<name>`` header (a token), each
    value its value. Values that are not strings are botocore's to refuse."""
    for name, value in metadata.items():
        where = f"{what}[{_shown(name)}]"
        if isinstance(name, str):
            check_header_name(name, f"the metadata name of {where}")
        if isinstance(value, str):
            check_header_value(value, where)


def check_request(method: str, target: str, host: str, headers: Mapping[str, str]) -> None:
    """Refuse a request whose head would not be what it says: the method a token, the target
    and the Host without spaces or controls, every header name a token, every value clean.

    Header by header, to name the culprit: the HTTP/1.1 client checks its encoded head in one
    pass instead (``HEAD_BYTES``, ``all_tokens``; the costs are in ``_s3/http1.py``) and calls
    this only to explain a head it refuses.
    """
    check_header_name(method, f"the HTTP method {_shown(method)}")
    for what, text in (("the request target", target), ("the Host", host)):
        found = _NOT_TARGET.search(text)
        if found is not None:
            raise InvalidUploadError(
                f"{what} contains {_character(found.group())} at position {found.start()}; "
                "it may hold no spaces or control characters; nothing was sent"
            )
    check_headers(headers)


def check_headers(headers: Mapping[str, str]) -> None:
    """Refuse headers HTTP cannot carry as they are, naming the first culprit."""
    for name, value in headers.items():
        check_header_name(name)
        check_header_value(value, f"header {_shown(name)} value")


HEAD_BYTES = bytes([0x09, *range(0x20, 0x7F), *range(0x80, 0x100)])
"""The bytes a line of a request head may hold: deleting them from an encoded head
(``bytes.translate(None, HEAD_BYTES)``) leaves exactly one CR LF per line, and the blank line's,
when no name or value holds a line break or a control character."""

_TOKENS_SEEN: set[str] = set()
_MAX_TOKENS_SEEN = 4096


def all_tokens(names: KeysView[str]) -> bool:
    """Whether every one of ``names`` is a token: names seen before are found in a set (the
    same few dozen come with every request), new ones are matched and remembered."""
    if names <= _TOKENS_SEEN:
        return True
    new = [name for name in names if name not in _TOKENS_SEEN]
    if not all(isinstance(name, str) and _TOKEN.fullmatch(name) for name in new):
        return False
    if len(_TOKENS_SEEN) + len(new) > _MAX_TOKENS_SEEN:  # metadata names are the caller's
        _TOKENS_SEEN.clear()
    _TOKENS_SEEN.update(new)
    return True


def _character(char: str) -> str:
    if char in "\r\n":
        return f"a line break (CR/LF) {char!r}"
    if char == "\0":
        return "a NUL character '\\x00'"
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"a control character {char!r}"
    if code > 0xFF:
        return f"a character beyond latin-1 (U+{code:04X})"
    return repr(char)


def _shown(text: object) -> str:
    """A name as messages show it: quoted, escaped, cut short."""
    if isinstance(text, str) and len(text) > _SHOWN:
        return f"{text[:_SHOWN]!r}..."
    return repr(text)


_ORIGIN = re.compile(r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::(\d{1,5}))?")


def check_origin(origin: str, what: str) -> None:
    """Refuse anything but a page's origin as a browser sends it in ``Origin``:
    ``scheme://host[:port]``, http or https, lower case, no path or trailing slash. Anything
    else never equals what a browser sends, so a rule or a check made for it matches no page."""
    match = _ORIGIN.fullmatch(origin)
    if match and int(match.group(3) or 0) <= 65535:
        return
    guess = _origin_meant(origin)
    raise InvalidUploadError(
        f"{what}: {origin!r} is not an origin, scheme://host[:port] (http or https, lower "
        "case, no path or trailing slash): "
        + (f"did you mean {guess}?" if guess else "e.g. https://app.example")
    )


def _origin_meant(text: str) -> str | None:
    """The origin a mistyped one most likely means: https:// added, the path dropped."""
    scheme, found, rest = text.strip().partition("://")
    if not found:
        scheme, rest = "https", text.strip()
    guess = f"{scheme.lower()}://{rest.split('/', 1)[0].lower()}"
    return guess if guess != text and _ORIGIN.fullmatch(guess) else None
