"""An event loop in a daemon thread, reached through an anyio blocking portal.

anyio's ``start_blocking_portal`` runs its loop in a non-daemon thread: a sync uploader that was
never closed would then keep the interpreter from exiting. This thread is a daemon, and the sync
uploader closes itself through ``weakref.finalize`` when collected or at exit.
"""

from __future__ import annotations

import concurrent.futures
import threading

import anyio
from anyio.from_thread import BlockingPortal


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
