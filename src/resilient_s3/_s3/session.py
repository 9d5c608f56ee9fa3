"""Read the session a user already has: its credential source, region and profile, and a
botocore client for the S3 model and endpoint rules.

Accepted, by what they do rather than what they are: ``None`` (a default ``boto3.Session()``),
``boto3.Session``, ``botocore.session.Session``, ``aioboto3.Session`` and aiobotocore's
``AioSession`` (whose credential methods are coroutines). No aiobotocore is needed: the library
talks to S3 through its own HTTP path, with botocore's serializers and parsers.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import botocore
import botocore.session
from botocore.config import Config

from .._diagnostics.codes import WITHOUT_ANSWER
from .._exceptions import InvalidUploadError, UploadError
from .errors import session_error
from .hooks import emitter_of


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Where and how to connect; everything a transport needs besides the session."""

    endpoint_url: str | None = None
    region_name: str | None = None
    botocore_config: Any = None
    verify: bool | str | None = None


@dataclass(frozen=True, slots=True)
class ResolvedSession:
    """What a user's session says: its credentials (a botocore credentials object, or None
    if the chain found none), region and profile."""

    credentials: Any
    region: str | None
    profile: str | None
    ca_bundle: str | None = None
    """The CA bundle of the AWS config chain (``AWS_CA_BUNDLE``, a profile's ``ca_bundle``)."""
    events: Any = None
    """The session's botocore event emitter: its ``before-send`` handlers are honoured."""


def botocore_session_of(session: Any) -> Any:
    """The botocore-level session inside ``session`` (a boto3 or aioboto3 session wraps one)."""
    if session is None:
        import boto3

        session = boto3.Session()
    inner = getattr(session, "_session", session)
    if hasattr(inner, "get_credentials") and hasattr(inner, "get_config_variable"):
        return inner
    raise InvalidUploadError(
        "session must be a boto3.Session, aioboto3.Session, botocore or aiobotocore session, "
        f"not {type(session).__name__}"
    )


async def resolve_session(session: Any, *, with_credentials: bool = True) -> ResolvedSession:
    """The session's credential source, region and profile; botocore's failures (an unknown
    profile, a broken credential provider) as UploadErrors."""
    inner = botocore_session_of(session)
    try:
        credentials = await _credentials_of(inner) if with_credentials else None
        region = inner.get_config_variable("region")
        profile = inner.get_config_variable("profile")
        ca_bundle = inner.get_config_variable("ca_bundle")
    except UploadError:
        raise
    except Exception as exc:
        raise session_error(exc) from exc
    return ResolvedSession(
        credentials,
        region if isinstance(region, str) else None,
        profile if isinstance(profile, str) else None,
        ca_bundle if isinstance(ca_bundle, str) else None,
        emitter_of(inner),
    )


async def _credentials_of(inner: Any) -> Any:
    getter = inner.get_credentials
    if inspect.iscoroutinefunction(getter):  # aiobotocore
        return await getter()
    # Resolving the credential chain may do I/O (instance metadata, SSO cache, assume-role).
    return await anyio.to_thread.run_sync(getter)


def make_client(resolved: ResolvedSession, settings: SessionSettings, *, timeouts: Any) -> Any:
    """An unsigned botocore S3 client that is never used to send anything: its service model,
    serializer and endpoint rules build resilient-s3's requests (``timeouts`` is the
    UploadConfig: connect and read timeouts, concurrency)."""
    region = settings.region_name or resolved.region
    if region is None and settings.endpoint_url:
        region = "us-east-1"
    try:
        session = botocore.session.Session(profile=resolved.profile)
        client = _client(session, region, settings, timeouts)
        configured = str(client.meta.endpoint_url)
        if settings.endpoint_url is None and not _is_aws(configured):
            # An endpoint from the AWS config chain (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, a
            # profile's endpoint_url): a custom server, addressed as one passed explicitly.
            explicit = dataclasses.replace(settings, endpoint_url=configured)
            client = _client(session, region or "us-east-1", explicit, timeouts)
    except UploadError:
        raise
    except Exception as exc:
        raise session_error(exc) from exc
    if str(client.meta.endpoint_url).lower().startswith("https://"):
        # Over http no bundle is read: botocore ignores AWS_CA_BUNDLE there too.
        given = settings.verify is not None
        check_ca_bundle(
            trust_of(resolved, settings),
            named="verify=" if given else "AWS_CA_BUNDLE or the profile's ca_bundle",
        )
    return client


def trust_of(resolved: ResolvedSession, settings: SessionSettings) -> bool | str | None:
    """What checks the endpoint's certificate: ``verify=`` when given, else the AWS config
    chain's CA bundle (``AWS_CA_BUNDLE``, a profile's ``ca_bundle``), else (None) the default
    trust store."""
    return settings.verify if settings.verify is not None else resolved.ca_bundle


def check_ca_bundle(verify: bool | str | None, *, named: str = "verify=") -> None:
    """Refuse a CA bundle that cannot be loaded (``named`` is where it was given), before any
    request: a missing file would otherwise fail every TLS connection, and look like a network
    fault worth retrying."""
    if not isinstance(verify, str):
        return  # True, False or None: the default trust store, or no verification
    problem = _unusable_ca_bundle(verify)
    if problem is not None:
        # The table's row for a refused configuration; its fixes name the profile and the
        # endpoint, this one's is the bundle.
        diagnosis = WITHOUT_ANSWER["session-invalid"].diagnosis(
            f"CA bundle ({named}): {verify}", summary=f"the CA bundle {problem}"
        )
        raise InvalidUploadError(
            f"the CA bundle {verify!r} ({named}) {problem}; pass the path of a PEM file of CA "
            "certificates",
            diagnosis=dataclasses.replace(diagnosis, fixes=(_CA_BUNDLE_FIX,)),
        )


_CA_BUNDLE_FIX = (
    "pass verify= (the CLI: set AWS_CA_BUNDLE) the path of a PEM file of the CA certificates "
    "to trust, or leave both unset for the default trust store"
)


def _unusable_ca_bundle(path: str) -> str | None:
    """What is wrong with ``path`` as a CA bundle (what ``ssl`` would refuse, cheaply: the
    file is not parsed), or None."""
    if not os.path.exists(path):
        return "does not exist"
    if os.path.isdir(path):
        return "is a directory, not a file"
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if b"CERTIFICATE-----" not in data:
        return "holds no PEM certificate"
    return None


def _client(session: Any, region: str | None, settings: SessionSettings, timeouts: Any) -> Any:
    return session.create_client(
        "s3",
        region_name=region,
        endpoint_url=settings.endpoint_url,
        # Never used to send: its CA bundle would cost about 30 ms of CPU for nothing.
        verify=False,
        config=_client_config(timeouts, settings),
    )


def _is_aws(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))


def _client_config(timeouts: Any, settings: SessionSettings) -> Config:
    user = settings.botocore_config
    s3: dict[str, Any] = dict(getattr(user, "s3", None) or {})
    if settings.endpoint_url and "addressing_style" not in s3:
        # Custom endpoints (MinIO, SeaweedFS, localhost) rarely resolve bucket subdomains.
        s3["addressing_style"] = "path"
    extra = {"s3": s3} if s3 else {}  # the user's s3 options, kept (merge replaces the dict)
    ours = Config(
        # Signing is resilient-s3's, with the uploader's credential owner and clock offset.
        signature_version=botocore.UNSIGNED,
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=timeouts.connect_timeout,
        read_timeout=timeouts.read_timeout,
        max_pool_connections=timeouts.max_concurrency,
        **extra,
    )
    if user is None:
        return ours
    merged: Config = Config(**user._user_provided_options).merge(ours)
    return merged
