"""Fault rules for the chaos proxy: what to inject, how often, and into which S3 operations."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    """What the proxy does to a request instead of (or besides) forwarding it."""

    SLOWDOWN = "slowdown"
    """503 SlowDown, not forwarded."""
    TOO_MANY = "too_many"
    """429 TooManyRequests (as MinIO sends), not forwarded."""
    INTERNAL_ERROR = "internal_error"
    """500 InternalError, not forwarded."""
    COMPLETE_ERROR = "complete_error"
    """200 OK with an ``<Error>`` body, as S3 answers a failed CompleteMultipartUpload; not
    forwarded. Applies to CompleteMultipartUpload only."""
    RESET = "reset"
    """The connection is reset after ``after_bytes`` bytes of the request body reached the
    server (the server sees a truncated request)."""
    LOSE_RESPONSE = "lose_response"
    """Forwarded and answered by the server, then the client's connection is closed without
    the answer: the request succeeded, the client cannot know."""
    CORRUPT = "corrupt"
    """One byte of the request body, ``after_bytes`` in, is flipped on the way to the server,
    which answers ``400 BadDigest`` when it checks the body's checksum."""
    DELAY = "delay"
    """The request is held for ``seconds`` before it is forwarded (latency, or a stall)."""
    HOLD_ANSWER = "hold_answer"
    """Forwarded and answered by the server; the answer is held for ``seconds`` before the
    client gets it: the request succeeded, the client does not know yet (a slow
    acknowledgement, or a client killed while waiting)."""
    EXPIRED_TOKEN = "expired_token"
    """400 ExpiredToken, not forwarded (also what registered key expiries produce)."""


ERROR_ANSWERS: dict[FaultKind, tuple[int, str, str]] = {
    FaultKind.SLOWDOWN: (503, "SlowDown", "Please reduce your request rate."),
    FaultKind.TOO_MANY: (429, "TooManyRequests", "Too many requests, please slow down."),
    FaultKind.INTERNAL_ERROR: (
        500,
        "InternalError",
        "We encountered an internal error. Please try again.",
    ),
    FaultKind.COMPLETE_ERROR: (
        200,
        "InternalError",
        "We encountered an internal error. Please try again.",
    ),
    FaultKind.EXPIRED_TOKEN: (400, "ExpiredToken", "The provided token has expired."),
}


@dataclass(frozen=True, init=False)
class Fault:
    """One rule: inject ``kind`` with ``probability`` into requests of ``operations`` (any
    iterable of S3 operation names; all operations if empty), at most ``limit`` times (no
    limit if None)."""

    kind: FaultKind
    probability: float
    operations: frozenset[str]
    after_bytes: int
    seconds: float
    limit: int | None

    def __init__(
        self,
        kind: FaultKind | str,
        probability: float = 1.0,
        operations: Iterable[str] = (),
        after_bytes: int = 0,
        seconds: float = 0.0,
        limit: int | None = None,
    ) -> None:
        kind = FaultKind(kind)
        names = frozenset([operations] if isinstance(operations, str) else operations)
        if kind is FaultKind.COMPLETE_ERROR and not names:
            names = frozenset({"CompleteMultipartUpload"})
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be within 0..1, not {probability}")
        if after_bytes < 0 or seconds < 0:
            raise ValueError("after_bytes and seconds must not be negative")
        for name, value in (
            ("kind", kind),
            ("probability", probability),
            ("operations", names),
            ("after_bytes", after_bytes),
            ("seconds", seconds),
            ("limit", limit),
        ):
            object.__setattr__(self, name, value)

    def applies_to(self, operation: str) -> bool:
        """Whether this fault may hit a request of ``operation``."""
        return not self.operations or operation in self.operations


class FaultPlan:
    """The rules in force and a seeded random source; thread-safe."""

    def __init__(self, faults: Iterable[Fault] = (), seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = list(faults)
        self._used: dict[int, int] = {}
        self._random = random.Random(seed)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._used.clear()

    @property
    def faults(self) -> tuple[Fault, ...]:
        with self._lock:
            return tuple(self._faults)

    def choose(self, operation: str) -> list[Fault]:
        """The faults drawn for one request: any delays, then at most one other fault.

        Each rule that applies draws once, in order, so a seeded run is reproducible for a
        given sequence of requests.
        """
        chosen: list[Fault] = []
        terminal = False
        with self._lock:
            for index, fault in enumerate(self._faults):
                if not fault.applies_to(operation):
                    continue
                if fault.limit is not None and self._used.get(index, 0) >= fault.limit:
                    continue
                if self._random.random() >= fault.probability:
                    continue
                is_delay = fault.kind is FaultKind.DELAY
                if not is_delay and terminal:
                    continue
                self._used[index] = self._used.get(index, 0) + 1
                chosen.append(fault)
                terminal = terminal or not is_delay
        return chosen
