"""Temporary credentials and skewed clocks against a real server, for resilience tests.

SeaweedFS has no STS. A :class:`CredentialVendor` plays its part: the server is started with a
pool of identities (:meth:`CredentialVendor.pool`), the vendor hands them out one after another
with an expiry, and a :class:`ChaosProxy` in front of the server answers ``400 ExpiredToken`` to
any request signed with a key whose time has passed, as S3 does for an expired session token.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._server import Identity

if TYPE_CHECKING:
    from ._chaos import ChaosProxy

POOL_PREFIX = "VEND"


@dataclass(frozen=True)
class IssuedCredentials:
    """Temporary credentials a :class:`CredentialVendor` handed out, and when they expire."""

    access_key: str
    secret_key: str = field(repr=False)
    expiry: datetime.datetime
    """When the client is told they expire."""
    server_expiry: datetime.datetime
    """When the server starts refusing them."""

    def as_metadata(self) -> dict[str, str]:
        """The dict botocore's ``RefreshableCredentials`` takes."""
        return {
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "token": "",
            "expiry_time": self.expiry.isoformat(),
        }


class CredentialVendor:
    """Issues keys from ``identities`` that expire after ``lifetime`` seconds.

    ``server_early`` makes the server refuse a key that many seconds before the client is told
    it expires (clock differences, revoked sessions). Keys are reused in turn once the pool is
    exhausted; a reissued key becomes valid again.
    """

    def __init__(
        self,
        identities: Sequence[Identity],
        proxy: ChaosProxy,
        *,
        lifetime: float = 900.0,
        server_early: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        pool = [i for i in identities if i.name.startswith(POOL_PREFIX)]
        if not pool:
            raise ValueError(
                "no vendor identities: start the server with "
                "S3Server(identities=CredentialVendor.pool())"
            )
        self._pool = itertools.cycle(pool)
        self._proxy = proxy
        self.lifetime = lifetime
        self.server_early = server_early
        self._clock = clock
        self._lock = threading.Lock()
        self.issued: list[IssuedCredentials] = []

    @staticmethod
    def pool(size: int = 32) -> tuple[Identity, ...]:
        """Identities to give the server so that a vendor can hand them out."""
        return tuple(
            Identity(
                f"{POOL_PREFIX}{n:03d}",
                f"{POOL_PREFIX}{n:03d}{secrets.token_hex(6).upper()}",
                secrets.token_hex(20),
            )
            for n in range(size)
        )

    def issue(self) -> IssuedCredentials:
        """The next key; the proxy refuses it from ``lifetime - server_early`` seconds on."""
        with self._lock:
            identity = next(self._pool)
            now = self._clock()
            issued = IssuedCredentials(
                identity.access_key,
                identity.secret_key,
                _utc(now + self.lifetime),
                _utc(now + self.lifetime - self.server_early),
            )
            self._proxy.expire_key(identity.access_key, now + self.lifetime - self.server_early)
            self.issued.append(issued)
            return issued

    def botocore_credentials(self, *, refresh_margin: float = 1.0) -> Any:
        """botocore ``RefreshableCredentials`` fed by this vendor, as assume-role would be.

        botocore refreshes 15 minutes before expiry by default, which for short lifetimes
        would mean on every request; ``refresh_margin`` seconds is used instead.
        """
        from botocore.credentials import RefreshableCredentials

        return RefreshableCredentials.create_from_metadata(
            metadata=self.issue().as_metadata(),
            refresh_using=lambda: self.issue().as_metadata(),
            method="resilient-s3-vendor",
            advisory_timeout=refresh_margin,
            mandatory_timeout=refresh_margin / 2,
        )

    def boto3_session(self, region_name: str = "us-east-1", **kwargs: Any) -> Any:
        """A ``boto3.Session`` whose credentials come from this vendor."""
        import boto3
        import botocore.session

        core = botocore.session.get_session()
        core._credentials = self.botocore_credentials(**kwargs)
        core.set_config_variable("region", region_name)
        return boto3.Session(botocore_session=core)


def _utc(timestamp: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC)


@contextlib.contextmanager
def skewed_clock(seconds: float) -> Iterator[None]:
    """Sign requests as if this machine's clock were ``seconds`` ahead (negative: behind).

    Applies to botocore's signers (so boto3, aiobotocore and aioboto3 clients and presigned
    URLs) and to resilient-s3's, which read the same clock, in this process. The server then
    answers with a real ``RequestTimeTooSkewed`` past 15 minutes. For other programs use
    Debian's ``faketime``.
    """
    import importlib

    offset = datetime.timedelta(seconds=seconds)
    # botocore signs with its CRT signer when awscrt is installed; each has its own reference.
    modules = []
    for name in ("botocore.auth", "botocore.crt.auth"):
        with contextlib.suppress(ImportError):
            modules.append(importlib.import_module(name))
    originals = [(module, module.get_current_datetime) for module in modules]

    def skewed(real: Callable[..., datetime.datetime]) -> Callable[..., datetime.datetime]:
        def now(remove_tzinfo: bool = True) -> datetime.datetime:
            return real(remove_tzinfo=remove_tzinfo) + offset

        return now

    for module, real in originals:
        setattr(module, "get_current_datetime", skewed(real))  # noqa: B010 - untyped module
    try:
        yield
    finally:
        for module, real in originals:
            setattr(module, "get_current_datetime", real)  # noqa: B010
