"""Opening a connection to S3 for a facade: the user's session read, one credential owner and
one server clock signing every request, the transport, and the retrier with its fixes."""

from __future__ import annotations

import contextlib
import datetime
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from .._auth.clock import ServerClock
from .._auth.credentials import CredentialOwner
from .._auth.signer import RequestSigner
from .._config import UploadConfig
from .._diagnostics.codes import Action
from .._diagnostics.diagnose import diagnose
from .._events import NO_EVENTS, Events
from .._exceptions import S3RequestError
from .._resilience.concurrency import AdaptiveLimiter
from .._resilience.retry import Retrier, RetryBudget, RetryPolicy, clock_fix, credential_fix
from .._s3.session import SessionSettings, make_client, resolve_session, trust_of
from .._s3.transport import S3Transport
from .._types import CredentialsCallable, SessionLike


@dataclass(frozen=True, slots=True)
class Connection:
    transport: S3Transport
    owner: CredentialOwner
    retrier: Retrier


async def connect(
    session: SessionLike | None,
    settings: SessionSettings,
    config: UploadConfig,
    stack: contextlib.AsyncExitStack,
    *,
    credentials: CredentialsCallable | None,
    clock: ServerClock,
    limiter: AdaptiveLimiter,
    budget: RetryBudget,
    sleep: Callable[[float], Awaitable[Any]],
    events: Events = NO_EVENTS,
) -> Connection:
    """Everything a facade needs to talk to S3; ``stack`` closes it."""
    resolved = await resolve_session(session, with_credentials=not credentials)
    # Loading the S3 model and endpoint rules costs tens of milliseconds: off the loop.
    client = await anyio.to_thread.run_sync(
        functools.partial(make_client, resolved, settings, timeouts=config)
    )
    owner = CredentialOwner(
        credentials or resolved.credentials,
        refresh_ahead=config.credential_refresh_ahead,
        now=clock.epoch,
        events=events,
    )
    transport = S3Transport(
        client,
        RequestSigner(owner, clock),
        max_connections=config.max_concurrency,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        verify=trust_of(resolved, settings),
        min_speed=config.min_speed,
        events=resolved.events,
    )
    stack.push_async_callback(transport.close)
    retrier = Retrier(
        RetryPolicy(max_attempts=config.max_attempts),
        limiter=limiter,
        budget=budget,
        fixes={
            Action.REFRESH_CREDENTIALS: credential_fix(owner),
            Action.CORRECT_CLOCK: clock_fix(clock, events),
        },
        sleep=sleep,
        annotate=functools.partial(annotate, clock=clock, owner=owner),
        events=events,
    )
    return Connection(transport, owner, retrier)


def annotate(
    error: S3RequestError, *, clock: ServerClock, owner: CredentialOwner | None = None
) -> None:
    """A request failed for good: what the uploader knows joins the evidence."""
    error.clock_offset = clock.offset or None
    expires = owner.expires_at if owner is not None else None
    if expires is not None:
        moment = datetime.datetime.fromtimestamp(expires, datetime.UTC).replace(tzinfo=None)
        error.credentials_expire_at = moment
    if error.answer is not None:
        error.diagnosis = diagnose(error)
