"""Measuring a worker's timed section: wall time, this process's CPU, its peak memory."""

from __future__ import annotations

import contextlib
import resource
import sys
import time
from types import TracebackType


def peak_rss_kib() -> int:
    """This process's peak resident set size in KiB.

    On Linux from ``VmHWM`` in /proc/self/status: ``ru_maxrss`` survives ``execve`` there, so
    a worker started by a large parent would report the parent's peak. Elsewhere
    ``ru_maxrss`` (KiB on Linux and BSD, bytes on macOS).
    """
    with (
        contextlib.suppress(OSError, ValueError, IndexError),
        open("/proc/self/status", encoding="ascii") as status,
    ):
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss // 1024) if sys.platform == "darwin" else int(rss)


class Timer:
    """Measures wall time and this process's CPU around ``with timer:``."""

    def __init__(self) -> None:
        self.wall: float | None = None
        self.cpu_user: float | None = None
        self.cpu_sys: float | None = None
        self.rss_before_kib: int | None = None
        self.exited: float | None = None
        self._started: tuple[float, float, float] | None = None

    @property
    def entered(self) -> float | None:
        """``perf_counter()`` when the timed section began."""
        return None if self._started is None else self._started[0]

    def __enter__(self) -> Timer:
        self.rss_before_kib = peak_rss_kib()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self._started = (time.perf_counter(), usage.ru_utime, usage.ru_stime)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        now = self.exited = time.perf_counter()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        assert self._started is not None, "the timer was not started"
        wall, user, system = self._started
        self.wall = now - wall
        self.cpu_user = usage.ru_utime - user
        self.cpu_sys = usage.ru_stime - system
