"""Helpers for testing code that talks to S3: a real S3 server, faults, expiring keys.

::

    from resilient_s3.testing import ChaosProxy, S3Server

    with S3Server(buckets=["my-bucket"]) as srv, ChaosProxy(srv.endpoint_url, slowdown=0.1) as px:
        s3 = srv.boto3_client(endpoint_url=px.endpoint_url)

The pytest plugin (entry point ``resilient_s3``) adds the fixtures ``s3_server`` (one server per
test session), ``s3_bucket`` (a fresh bucket per test), ``s3_client`` (a boto3 client with
retries off), ``chaos_proxy`` (a proxy in front of the server) and ``credential_vendor``.
"""

from ._chaos import ChaosProxy, ChaosStats
from ._faults import Fault, FaultKind
from ._operations import classify
from ._server import Identity, S3Server
from ._vendor import CredentialVendor, IssuedCredentials, skewed_clock

__all__ = [
    "ChaosProxy",
    "ChaosStats",
    "CredentialVendor",
    "Fault",
    "FaultKind",
    "Identity",
    "IssuedCredentials",
    "S3Server",
    "classify",
    "skewed_clock",
]
