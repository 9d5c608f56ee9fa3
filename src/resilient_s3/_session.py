"""Turn the session a user already has into our S3 transport.

Accepted: ``None`` (a default ``boto3.Session()``), ``boto3.Session``, ``botocore.session.Session``,
``aioboto3.Session`` and ``aiobotocore.session.AioSession``. The session's region, profile and
credential chain are honoured; its credentials are wrapped by one :class:`CredentialOwner` that
signs both our data path and the aiobotocore control client.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import botocore
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from ._clock import ServerClock
from ._config import UploadConfig
from ._credentials import CredentialOwner
from ._errors import session_error
from ._exceptions import InvalidUploadError, UploadError
from ._transport import S3Transport


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Where and how to connect; everything a transport needs besides the session."""

    endpoint_url: str | None = None
    region_name: str | None = None
    botocore_config: Any = None
    verify: bool | str | None = None


def _unwrap(session: Any) -> tuple[Any, bool]:
    """The botocore-level session inside ``session``, and whether it is async."""
    if session is None:
        import boto3

        session = boto3.Session()
    inner = getattr(session, "_session", session)  # boto3.Session / aioboto3.Session
    if isinstance(inner, AioSession):
        return inner, True
    if hasattr(inner, "get_credentials") and hasattr(inner, "get_config_variable"):
        return inner, False
    raise InvalidUploadError(
        "session must be a boto3.Session, aioboto3.Session, botocore or aiobotocore session, "
        f"not {type(session).__name__}"
    )


async def _credentials_of(inner: Any, is_async: bool) -> Any:
    if is_async:
        return await inner.get_credentials()
    import anyio

    # Resolving the credential chain may do I/O (instance metadata, SSO cache, assume-role).
    return await anyio.to_thread.run_sync(inner.get_credentials)


def _profile_of(inner: Any) -> str | None:
    profile = inner.get_config_variable("profile")
    return profile if isinstance(profile, str) else None


def _client_config(config: UploadConfig, settings: SessionSettings) -> AioConfig:
    s3: dict[str, Any] = {}
    user = settings.botocore_config
    user_s3 = getattr(user, "s3", None) or {}
    if settings.endpoint_url and "addressing_style" not in user_s3:
        # Custom endpoints (MinIO, SeaweedFS, localhost) rarely resolve bucket subdomains.
        s3["addressing_style"] = "path"
    ours = AioConfig(
        # Retries are decided by resilient-s3's classifier; signing by its signer, with the
        # uploader's credential owner and clock offset (see S3Transport._sign_control).
        signature_version=botocore.UNSIGNED,
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        max_pool_connections=config.max_concurrency,
        s3=s3 or None,
    )
    if user is None:
        return ours
    merged: AioConfig = AioConfig(**user._user_provided_options).merge(ours)
    return merged


async def open_transport(
    session: Any,
    settings: SessionSettings,
    config: UploadConfig,
    stack: contextlib.AsyncExitStack,
    *,
    credentials: Any = None,
    clock: ServerClock,
) -> tuple[S3Transport, CredentialOwner]:
    """Create the transport; ``stack`` closes it. ``credentials`` (a callable) replaces the
    session's credentials."""
    inner, is_async = _unwrap(session)
    try:
        source = credentials if credentials is not None else await _credentials_of(inner, is_async)
        region = settings.region_name or inner.get_config_variable("region")
        profile = _profile_of(inner)
    except UploadError:
        raise
    except Exception as exc:
        raise session_error(exc) from exc
    owner = CredentialOwner(
        source,
        refresh_ahead=config.credential_refresh_ahead,
        now=lambda: time.time() + clock.offset,
    )
    if region is None and settings.endpoint_url:
        region = "us-east-1"
    # A plain-http endpoint has no certificates to check: not loading the CA bundle saves about
    # 30 ms of CPU, which aiobotocore would otherwise spend on the first control call.
    verify = False if (settings.endpoint_url or "").startswith("http://") else settings.verify
    control_session = AioSession(profile=profile)
    control_session.register_component("credential_provider", owner)
    try:
        client = await stack.enter_async_context(
            control_session.create_client(
                "s3",
                region_name=region,
                endpoint_url=settings.endpoint_url,
                verify=verify,
                config=_client_config(config, settings),
            )
        )
    except UploadError:
        raise
    except Exception as exc:
        raise session_error(exc) from exc
    transport = S3Transport(
        client,
        owner,
        max_connections=config.max_concurrency,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        verify=verify,
        min_speed=config.min_speed,
        now=clock.now,
    )
    stack.push_async_callback(transport.close)
    return transport, owner
