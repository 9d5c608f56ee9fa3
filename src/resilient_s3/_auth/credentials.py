"""The one owner of an uploader's credentials.

Every request of an uploader, data path and control calls alike, is signed with credentials
from one :class:`CredentialOwner`. It wraps whatever provides them: static keys, botocore
``RefreshableCredentials`` (assume-role, SSO, container and custom providers), aiobotocore's
async ones, or a plain sync or async callable returning credentials with an expiry.

Temporary credentials are refreshed ahead of their expiry (``refresh_ahead`` seconds, at most a
quarter of their lifetime, so a 15-minute token is not refreshed on every call as botocore's
15-minute advisory window would: boto/botocore#2189), and at once when S3 rejects them as
expired. One refresh runs at a time: the others wait for it and use its result. A blocking
provider runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import datetime
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from botocore.credentials import ReadOnlyCredentials

from .._events import NO_EVENTS, EventKind, Events
from .._exceptions import InvalidUploadError, UploadError
from .._redact import remember_secrets
from .._s3.errors import no_credentials, provider_failed

logger = logging.getLogger("resilient_s3")

QUIET_AFTER_FAILURE = 30.0
"""Seconds before a failed refresh ahead of expiry is tried again (the credentials in hand are
still valid meanwhile)."""


@dataclass(frozen=True, slots=True)
class _Snapshot:
    credentials: ReadOnlyCredentials = field(repr=False)
    expires_at: float | None  # epoch seconds; None for credentials that do not expire


class CredentialOwner:
    """Hands out credentials valid for a while yet; one refresh at a time."""

    method = "resilient-s3"

    def __init__(
        self,
        source: Any,
        *,
        refresh_ahead: float = 300.0,
        now: Callable[[], float] = time.time,
        events: Events = NO_EVENTS,
    ) -> None:
        self._source = source
        self._events = events
        self._fetch = _fetcher(source)
        self._refresh_ahead = refresh_ahead
        self._now = now
        self._lock = anyio.Lock()
        self._current: _Snapshot | None = None
        self._lifetime: float | None = None
        self._quiet_until = 0.0
        self.generation = 0
        """Increases with every refresh; a request remembers the generation it was signed with."""
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"<CredentialOwner source={type(self._source).__name__} refreshes={self.refreshes}>"

    @property
    def source(self) -> str:
        """Where the credentials come from, in botocore's words (``env``,
        ``shared-credentials-file``, ``assume-role``, ``sso``, ``iam-role``...)."""
        if self._source is None:
            return "none"
        if _is_plain_callable(self._source):
            return "a credentials= callable"
        return str(getattr(self._source, "method", None) or type(self._source).__name__)

    @property
    def can_refresh(self) -> bool:
        return self._fetch is not None

    @property
    def expires_at(self) -> float | None:
        """When the credentials last handed out expire (epoch seconds), or None if they do
        not (or none were handed out yet)."""
        return self._current.expires_at if self._current is not None else None

    async def get(self) -> tuple[ReadOnlyCredentials, int]:
        """Credentials that are not about to expire, and their generation."""
        current = self._current
        if current is None or self._due(current):
            if current is not None and self._lock.locked() and self._valid(current):
                return current.credentials, self.generation  # a refresh is under way
            async with self._lock:
                current = self._current
                if current is None:
                    current = self._current = await self._mapped(self._initial())
                    remember_secrets(current.credentials.secret_key, current.credentials.token)
                if self._due(current):
                    current = await self._refresh_or_keep(current)
        return current.credentials, self.generation

    async def refresh_rejected(self, generation: int) -> bool:
        """S3 refused credentials of ``generation`` as expired: refresh unless another task
        already did. False if the source cannot be refreshed."""
        if self._fetch is None:
            return False
        async with self._lock:
            if self.generation == generation:
                await self._mapped(self._refresh("expired"))
        return True

    def _due(self, snapshot: _Snapshot) -> bool:
        if snapshot.expires_at is None or self._fetch is None:
            return False
        if self._now() < self._quiet_until:
            return False
        window = self._refresh_ahead
        if self._lifetime is not None:
            window = min(window, self._lifetime / 4)
        return self._now() >= snapshot.expires_at - window

    def _valid(self, snapshot: _Snapshot) -> bool:
        return snapshot.expires_at is None or self._now() < snapshot.expires_at

    async def _initial(self) -> _Snapshot:
        source = self._source
        if source is None:
            raise no_credentials()
        if _is_plain_callable(source):
            return await self._fetch_snapshot()
        expiry = getattr(source, "_expiry_time", None)
        values = [getattr(source, f"_{name}", None) for name in ("access_key", "secret_key")]
        if self._fetch is not None and expiry is not None and all(values):
            # What the session already holds, read without triggering botocore's own refresh.
            frozen = ReadOnlyCredentials(*values, getattr(source, "_token", None))
            return _Snapshot(frozen, expiry.timestamp())
        getter = source.get_frozen_credentials
        if inspect.iscoroutinefunction(getter):
            frozen = await getter()
        else:
            frozen = await anyio.to_thread.run_sync(getter)
        # Deferred providers (assume-role, web identity, SSO) learn their expiry on first use.
        expiry = getattr(source, "_expiry_time", None)
        return _Snapshot(_checked(frozen), expiry.timestamp() if expiry is not None else None)

    async def _refresh_or_keep(self, current: _Snapshot) -> _Snapshot:
        """Refresh ahead of expiry. While the current credentials are still valid, a failed
        refresh costs a warning and a quiet spell before the next try, not a stall."""
        try:
            return await self._refresh("ahead")
        except Exception as exc:
            if current.expires_at is not None and self._now() < current.expires_at:
                logger.warning(
                    "refreshing credentials failed, still using the current ones: %s",
                    type(exc).__name__,
                )
                self._quiet_until = min(self._now() + QUIET_AFTER_FAILURE, current.expires_at)
                return current
            raise provider_failed(exc) from exc

    async def _mapped(self, fetching: Awaitable[_Snapshot]) -> _Snapshot:
        """A provider's failure as a CredentialRefreshError (no credentials at all is an
        InvalidUploadError: nothing can be sent)."""
        try:
            return await fetching
        except UploadError:
            raise
        except Exception as exc:
            raise provider_failed(exc) from exc

    async def _refresh(self, why: str) -> _Snapshot:
        snapshot = await self._fetch_snapshot()
        remember_secrets(snapshot.credentials.secret_key, snapshot.credentials.token)
        self._current = snapshot
        self.generation += 1
        self.refreshes += 1
        self._events.emit(EventKind.CREDENTIALS_REFRESHED, cause=why)
        return snapshot

    async def _fetch_snapshot(self) -> _Snapshot:
        fetch = self._fetch
        assert fetch is not None
        if inspect.iscoroutinefunction(fetch):
            metadata = await fetch()
        else:
            metadata = await anyio.to_thread.run_sync(fetch)
            if inspect.isawaitable(metadata):
                metadata = await metadata
        snapshot = _from_metadata(metadata)
        if snapshot.expires_at is not None:
            self._lifetime = max(snapshot.expires_at - self._now(), 0.0)
        return snapshot


def _is_plain_callable(source: Any) -> bool:
    """A ``credentials=`` callable rather than a botocore credentials object."""
    return callable(source) and not hasattr(source, "get_frozen_credentials")


def _fetcher(source: Any) -> Callable[[], Any] | None:
    """The function that fetches fresh credentials from ``source``, if it has one."""
    if source is None:
        return None
    if _is_plain_callable(source):
        return source  # type: ignore[no-any-return]
    # botocore's and aiobotocore's RefreshableCredentials keep their provider's fetch here.
    fetch = getattr(source, "_refresh_using", None)
    return fetch if callable(fetch) else None


def _from_metadata(metadata: Any) -> _Snapshot:
    if not isinstance(metadata, Mapping):
        frozen = getattr(metadata, "get_frozen_credentials", None)
        if frozen is None:
            raise InvalidUploadError(
                "the credential provider must return a mapping with access_key, secret_key, "
                f"token and expiry_time, not {type(metadata).__name__}"
            )
        return _Snapshot(_checked(frozen()), None)
    access_key = metadata.get("access_key") or metadata.get("AccessKeyId")
    secret_key = metadata.get("secret_key") or metadata.get("SecretAccessKey")
    token = metadata.get("token") or metadata.get("SessionToken")
    expiry = metadata.get("expiry_time") or metadata.get("Expiration")
    frozen = _checked(ReadOnlyCredentials(access_key, secret_key, token))
    return _Snapshot(frozen, _epoch(expiry))


def _epoch(expiry: Any) -> float | None:
    if expiry is None:
        return None
    if isinstance(expiry, int | float):
        return float(expiry)
    if isinstance(expiry, str):
        expiry = datetime.datetime.fromisoformat(expiry.replace("Z", "+00:00"))
    if isinstance(expiry, datetime.datetime):
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=datetime.UTC)
        return float(expiry.timestamp())
    raise InvalidUploadError(f"cannot read credential expiry {type(expiry).__name__}")


def _checked(frozen: Any) -> ReadOnlyCredentials:
    if frozen is None or not frozen.access_key or not frozen.secret_key:
        raise no_credentials()
    return ReadOnlyCredentials(frozen.access_key, frozen.secret_key, frozen.token)
