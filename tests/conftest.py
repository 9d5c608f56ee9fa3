from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    # aiohttp and aiobotocore run on asyncio only.
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _journal_in_a_temporary_directory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """Uploads journal into the user cache directory by default; not from the tests."""
    import os

    from resilient_s3._journal import ENV_DIR

    previous = os.environ.get(ENV_DIR)
    os.environ[ENV_DIR] = str(tmp_path_factory.mktemp("journal"))
    yield
    if previous is None:
        del os.environ[ENV_DIR]
    else:
        os.environ[ENV_DIR] = previous
