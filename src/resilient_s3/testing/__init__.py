"""Helpers for testing code that talks to S3: a real S3 server on loopback, pytest fixtures.

::

    from resilient_s3.testing import S3Server

    with S3Server(buckets=["b"]) as srv:
        s3 = boto3.client("s3", **srv.client_kwargs())

The pytest plugin (entry point ``resilient_s3``) adds the fixtures ``s3_server`` (one server per
test session), ``s3_bucket`` (a fresh bucket per test) and ``s3_client`` (a boto3 client with
retries off).
"""

from ._server import Identity, S3Server

__all__ = ["Identity", "S3Server"]
