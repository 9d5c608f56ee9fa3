"""The blocking faces' machinery: an event loop in a daemon thread, reached through an anyio
blocking portal, and a base class that runs an async facade's coroutines on it.

anyio's ``start_blocking_portal`` runs its loop in a non-daemon thread: a sync facade that was
never closed would then keep the interpreter from exiting. This thread is a daemon, and the
facade closes itself through ``weakref.finalize`` when collected or at exit.
"""

from __future__ import annotations

import concurrent.futures
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, Self, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str) -> None:
        ready: concurrent.futures.Future[BlockingPortal] = concurrent.futures.Future()

        async def serve() -> None:
            async with BlockingPortal() as portal:
                ready.set_result(portal)
                await portal.sleep_until_stopped()

        self._thread = threading.Thread(
            target=anyio.run, args=(serve,), kwargs={"backend": "asyncio"}, name=name, daemon=True
        )
        self._thread.start()
        self.portal = ready.result()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.portal.call(self.portal.stop)
            self._thread.join()


class AsyncFacade(Protocol):
    async def open(self) -> None: ...

    async def aclose(self) -> None: ...


class Blocking:
    """The blocking face of an async facade (``self._async``): same arguments, same
    behaviour, each call run on the facade's own loop thread. A context manager."""

    _async: AsyncFacade

    def __init__(self, facade: AsyncFacade) -> None:
        self._async = facade
        self._loop = LoopThread(f"resilient-s3-{type(self).__name__}")
        # Closes the async facade and stops the loop on close(), collection or exit.
        self._finalizer = weakref.finalize(self, _shut_down, self._loop, facade)

    def __enter__(self) -> Self:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        """Connect now (else the first call does): a bad session, profile or endpoint fails
        here. ``with`` calls it."""
        self._run(self._async.open)

    def close(self) -> None:
        """Close: the connections and the loop thread (``with`` does it); calls after it
        raise."""
        self._finalizer()

    def _interrupted(self, exc: BaseException) -> None:
        """This thread was interrupted (Ctrl-C, a signal handler's SystemExit) while waiting:
        what the facade should know before its task is cancelled."""

    def _run(self, func: Callable[[], Awaitable[T]]) -> T:
        if not self._finalizer.alive:
            raise RuntimeError(f"this {type(self).__name__} is closed")
        future = self._loop.portal.start_task_soon(func)
        try:
            return future.result()
        except BaseException as exc:
            # Interrupted in this thread: cancel the task and wait for it to wind down (an
            # upload aborts its multipart upload, or keeps it: see _interrupted).
            self._interrupted(exc)
            future.cancel()
            concurrent.futures.wait([future], timeout=90)
            raise

    def _call(self, method: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        return self._run(lambda: method(*args, **kwargs))


def _shut_down(loop: LoopThread, facade: AsyncFacade) -> None:
    try:
        loop.portal.call(facade.aclose)
    finally:
        loop.stop()
