"""The live display on stderr: which run is going, i of N, elapsed time.

On a terminal one line rewrites itself (a ticker thread refreshes the elapsed time); otherwise
each run prints a plain line when it starts and one when it ends.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

_TICK = 0.5


class Progress:
    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self._stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and self._stream.isatty()
        self._label = ""
        self._started = 0.0
        self._bench_started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def message(self, text: str) -> None:
        """A line of its own (set-up steps, notes)."""
        if not self.enabled:
            return
        with self._lock:
            if self.tty:
                self._stream.write("\r\x1b[K")
            self._stream.write(text + "\n")
            self._stream.flush()

    def start(self, index: int, total: int, label: str) -> None:
        self._label = f"[{index}/{total}] {label}"
        self._started = time.monotonic()
        if not self.enabled:
            return
        if self.tty:
            self._stop.clear()
            self._draw()
            self._ticker = threading.Thread(target=self._tick, name="bench-progress", daemon=True)
            self._ticker.start()
        else:
            self.message(f"{self._label} ...")

    def finish(self, summary: str) -> None:
        elapsed = time.monotonic() - self._started
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join()
            self._ticker = None
        self.message(f"{self._label}: {summary} ({elapsed:.1f} s)")

    def _tick(self) -> None:
        while not self._stop.wait(_TICK):
            self._draw()

    def _draw(self) -> None:
        now = time.monotonic()
        line = (
            f"{self._label}  {now - self._started:5.1f} s"
            f"  (bench {now - self._bench_started:.0f} s)"
        )
        with self._lock:
            self._stream.write("\r\x1b[K" + line)
            self._stream.flush()
