from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    # aiohttp and aiobotocore run on asyncio only.
    return "asyncio"
