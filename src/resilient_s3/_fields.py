"""Reading fields of JSON that came from someone else (a browser, a client of the sign route).

Every reader returns the field as the type it must be, or raises :class:`InvalidUploadError`
naming the field and what it should be, with a short view of what came: never a traceback, and
never a whole hostile value echoed back. ``True`` is not a number here, although Python says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._exceptions import InvalidUploadError

MAX_PART_NUMBER = 10_000


def shown(value: Any, limit: int = 40) -> str:
    """A value as a message may show it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_object(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidUploadError(f"{what} must be a JSON object, not {type(data).__name__}")
    return data


def text(data: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidUploadError(f"{name!r} is missing")
        return None
    if not isinstance(value, str):
        raise InvalidUploadError(f"{name!r} must be a string, not {shown(value)}")
    return value


def whole(
    data: Mapping[str, Any], name: str, *, low: int = 0, high: int | None = None
) -> int | None:
    """A whole number from ``low`` to ``high``, or None when absent."""
    value = data.get(name)
    if value is None:
        return None
    return bounded(value, name, low=low, high=high)


def bounded(value: Any, name: str, *, low: int = 0, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidUploadError(f"{name!r} must be a whole number, not {shown(value)}")
    if value < low or (high is not None and value > high):
        upper = f" to {high:,}" if high is not None else " or more"
        raise InvalidUploadError(f"{name!r} must be {low:,}{upper}, not {value:,}")
    return value


def part_number(value: Any, name: str = "part number") -> int:
    """A part number, 1 to 10,000; decimal digits in a string are taken too (URLs carry them)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 5:
        value = int(value)
    return bounded(value, name, low=1, high=MAX_PART_NUMBER)


def string_map(data: Mapping[str, Any], name: str) -> dict[str, str]:
    """A JSON object of strings (null values are left out, as Uppy sends them)."""
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidUploadError(f"{name!r} must be a JSON object, not {shown(value)}")
    found = {}
    for item, content in value.items():
        if content is None:
            continue
        if isinstance(content, str):
            found[str(item)] = content
        elif isinstance(content, bool | int | float):
            found[str(item)] = json.dumps(content)  # true, not Python's True
        else:
            raise InvalidUploadError(
                f"{name}[{shown(item)}] must be a string, a number or true/false, "
                f"not {shown(content)}"
            )
    return found


def array(data: Mapping[str, Any], name: str, *, most: int) -> list[Any]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidUploadError(f"{name!r} must be a JSON array, not {shown(value)}")
    if len(value) > most:
        raise InvalidUploadError(f"{name!r} has {len(value):,} items, at most {most:,} are taken")
    return value
