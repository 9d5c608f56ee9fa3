"""What the async facades share: the thing they work through (a pipeline, a connection) is
opened on first use, once, under a lock, and closed with everything it holds."""

from __future__ import annotations

import contextlib
from typing import Generic, Self, TypeVar

import anyio

T = TypeVar("T")


class OpenedOnFirstUse(Generic[T]):
    """An async context manager; ``open()`` connects now (else the first call does), so a bad
    session, profile or endpoint fails there."""

    def __init__(self) -> None:
        self._stack: contextlib.AsyncExitStack | None = None
        self._opened: T | None = None
        self._opening: anyio.Lock | None = None
        self._closed = False

    async def __aenter__(self) -> Self:
        try:
            await self.open()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Connect now (else the first call does): a bad session, profile or endpoint fails here."""
        await self._ensure_open()

    async def aclose(self) -> None:
        """Close the connections; calls after it raise. ``async with`` does it."""
        self._closed = True
        stack, self._stack, self._opened = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def _open(self, stack: contextlib.AsyncExitStack) -> T:
        """Open what the facade works through; whatever needs closing goes on ``stack``."""
        raise NotImplementedError

    async def _ensure_open(self) -> T:
        if self._closed:
            raise RuntimeError(f"this {type(self).__name__} is closed")
        if self._opened is not None:
            return self._opened
        if self._opening is None:  # created here: a lock belongs to the loop that uses it
            self._opening = anyio.Lock()
        async with self._opening:
            if self._opened is None:
                stack = contextlib.AsyncExitStack()
                try:
                    opened = await self._open(stack)
                except BaseException:
                    await stack.aclose()
                    raise
                self._stack, self._opened = stack, opened
        return self._opened
