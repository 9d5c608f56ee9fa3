"""What the async primitives around one request cost, in microseconds of CPU each.

    python benchmarks/request_overhead.py

The small-file path makes a few of these per 64 KiB upload (about 0.4 ms of client CPU in
all), which is why the HTTP/1.1 client bounds a request with one timer instead of a cancel
scope per socket wait, and why the request limiter takes a free token without yielding.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import anyio

ROUNDS = 20_000


async def per_call(body: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    for _ in range(ROUNDS):
        await body()
    return (time.perf_counter() - started) / ROUNDS * 1e6


async def main() -> None:
    loop = asyncio.get_running_loop()
    limiter = anyio.CapacityLimiter(16)

    async def cancel_scope_with_deadline() -> None:
        with anyio.fail_after(10):  # noqa: ASYNC100 - its cost is what is measured
            pass

    async def timer_armed_and_cancelled() -> None:
        loop.call_at(loop.time() + 10, print).cancel()

    async def limiter_acquire() -> None:
        async with limiter:
            pass

    async def limiter_acquire_nowait() -> None:
        limiter.acquire_nowait()
        limiter.release()

    rows = [
        ("anyio.fail_after (one per socket wait, before)", cancel_scope_with_deadline),
        ("loop.call_at + cancel (one per request, now)", timer_armed_and_cancelled),
        ("CapacityLimiter acquire/release (before)", limiter_acquire),
        ("CapacityLimiter acquire_nowait/release (now)", limiter_acquire_nowait),
    ]
    for name, body in rows:
        print(f"{await per_call(body):7.2f} us  {name}")

    async def nothing() -> None:
        pass

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(ROUNDS):
            tg.start_soon(nothing)
    task_us = (time.perf_counter() - started) / ROUNDS * 1e6
    print(f"{task_us:7.2f} us  a task in a task group (one per file in upload_directory, before)")


if __name__ == "__main__":
    asyncio.run(main())
