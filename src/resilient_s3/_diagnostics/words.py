"""How durations, sizes, times and header names read in a diagnosis."""

from __future__ import annotations

import datetime


def human_seconds(seconds: float) -> str:
    seconds = round(abs(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def size_words(size: int) -> str:
    """:func:`human_bytes`, with the exact count beside it when the rounded figure is not the
    size: near a limit, 5 GiB and 10 bytes must not read as "5.0 GiB"."""
    text = human_bytes(size)
    number, unit = text.split(" ")
    scale = 1024 ** ("bytes", "KiB", "MiB", "GiB", "TiB").index(unit)
    return text if float(number) * scale == size else f"{text} ({size:,} bytes)"


def when(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def naive(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return moment


def as_int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def shown(value: str | None) -> str:
    return repr(value) if value is not None else "(absent)"


def title(header: str) -> str:
    return "-".join(part.capitalize() for part in header.split("-"))
