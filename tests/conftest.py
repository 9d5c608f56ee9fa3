from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from s3_helpers import MotoServer, Target


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

    from resilient_s3._upload.journal import ENV_DIR

    previous = os.environ.get(ENV_DIR)
    os.environ[ENV_DIR] = str(tmp_path_factory.mktemp("journal"))
    yield
    if previous is None:
        del os.environ[ENV_DIR]
    else:
        os.environ[ENV_DIR] = previous


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto's S3 server: the second S3 implementation the round trips run against."""
    pytest.importorskip("moto.server", reason="moto is not installed (pip install 'moto[server]')")
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    with MotoServer() as server:
        yield server


@pytest.fixture(params=["seaweedfs", pytest.param("moto", marks=pytest.mark.moto)])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """A fresh bucket on SeaweedFS, then on moto: tests using it run against both."""
    server: Any = request.getfixturevalue(
        "s3_server" if request.param == "seaweedfs" else "moto_server"
    )
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    server.create_bucket(bucket)
    client = server.boto3_client()
    yield Target(request.param, server, bucket, client)
    client.close()
