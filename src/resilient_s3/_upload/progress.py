"""Progress of one upload, reported to the caller's ``on_progress``."""

from __future__ import annotations

from collections.abc import Callable

from .._types import ProgressCallback


class Progress:
    """Monotonic byte count for one upload; a retried part is never counted twice."""

    def __init__(self, total: int | None, callback: ProgressCallback | None) -> None:
        self.total = total
        self.done = 0
        self._callback = callback
        self._high_water: dict[int, int] = {}

    def tracker(self, part_number: int) -> Callable[[int], None]:
        """A fresh per-attempt counter for ``part_number``."""
        sent = 0

        def on_sent(n: int) -> None:
            nonlocal sent
            sent += n
            high = self._high_water.get(part_number, 0)
            if sent > high:
                self._high_water[part_number] = sent
                self.advance(sent - high)

        return on_sent

    def finished(self) -> None:
        """An upload of nothing reports once, so that progress displays can finish too."""
        if self.done == 0 and self._callback is not None:
            self._callback(0, self.total)

    def advance(self, n: int) -> None:
        if not n:
            return
        self.done += n
        if self._callback is not None:
            self._callback(self.done, self.total)
