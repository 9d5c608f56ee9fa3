"""The one owner of an uploader's credentials.

Every request of an uploader, signed by our data path or by the aiobotocore control client,
asks this object for frozen credentials. It wraps whatever the user's session provides: static
keys, botocore ``RefreshableCredentials`` (assume-role, SSO, custom providers; their refresh is
blocking I/O, so it runs in a worker thread) or aiobotocore's async credentials.
"""

from __future__ import annotations

import inspect
from typing import Any

import anyio
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import NoCredentialsError

from ._exceptions import InvalidUploadError


class CredentialOwner:
    """Hands out frozen credentials; one refresh at a time."""

    method = "resilient-s3"

    def __init__(self, source: Any) -> None:
        self._source = source
        self._lock = anyio.Lock()
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"<CredentialOwner source={type(self._source).__name__}>"

    async def get_frozen_credentials(self) -> ReadOnlyCredentials:
        source = self._source
        if source is None:
            raise NoCredentialsError()
        getter = source.get_frozen_credentials
        if inspect.iscoroutinefunction(getter):
            frozen = await getter()
        elif _may_block(source):
            async with self._lock:
                if _may_block(source):  # another task may have refreshed while this one waited
                    self.refreshes += 1
                frozen = await anyio.to_thread.run_sync(getter)
        else:
            frozen = getter()
        if frozen is None or frozen.access_key is None or frozen.secret_key is None:
            raise NoCredentialsError()
        return frozen

    # botocore's endpoint resolver asks for the account id (through one of these two, by
    # version); S3 endpoints do not depend on it, and asking a refreshable source would refresh.
    def get_account_id(self) -> None:
        return None

    def get_deferred_property(self, name: str) -> Any:
        return lambda: None

    async def load_credentials(self) -> CredentialOwner:
        """Lets this object stand as aiobotocore's ``credential_provider`` component."""
        return self


def _may_block(source: Any) -> bool:
    """True when a sync provider would refresh (network I/O) on this call."""
    refresh_needed = getattr(source, "refresh_needed", None)
    return bool(refresh_needed is not None and refresh_needed())


def require_credentials(source: Any) -> None:
    if source is None:
        raise InvalidUploadError(
            "no AWS credentials found: configure a profile, environment variables or an "
            "instance role, or pass a session with credentials"
        )
