"""Retrying one S3 request: backoff with full jitter, a retry budget, and the fixes a
classified failure calls for, as strategies (fresh credentials, the server's clock, a re-read
part, a renewed presigned URL).

Each request (a part, a PUT, a control call) is retried on its own: one bad part never restarts
an upload. The loop is tenacity's; what to retry is decided by the code table only
(:func:`verdict_of`: :func:`classify` for an answer, the ``WITHOUT_ANSWER`` row the wire named
for a failure without one); how to fix it, by the :class:`Fix` registered for the verdict's
action.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from tenacity import AsyncRetrying, RetryCallState
from tenacity.wait import wait_base

from .._auth.clock import ServerClock
from .._auth.credentials import CredentialOwner
from .._diagnostics.codes import WITHOUT_ANSWER, Action, Verdict, classify
from .._events import NO_EVENTS, EventKind, Events
from .._exceptions import RetriesExhaustedError, S3RequestError
from .._s3.errors import NoAnswerError
from .concurrency import AdaptiveLimiter

T = TypeVar("T")

MAX_FIXES = 2
"""Credential refreshes, or clock corrections, per request before its failure is final."""

FIRST_CONTACT_ATTEMPTS = 3
"""Attempts at a request whose connection is refused (or whose host does not resolve) while the
endpoint has never answered this uploader: that is almost always a wrong endpoint URL, so it
fails within a fraction of a second instead of after the whole retry schedule."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 10
    """Attempts per request, the first included."""
    base_delay: float = 0.1
    """Full-jitter backoff base for transient failures (resets, 5xx), seconds."""
    throttle_delay: float = 0.25
    """Full-jitter backoff base when throttled, seconds."""
    max_delay: float = 20.0
    """No wait between attempts is longer (also caps a server's Retry-After)."""


async def _nothing(error: S3RequestError) -> None:
    return None


def _always(error: S3RequestError) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Fix:
    """What to do about a failure whose verdict calls for it, before the request goes again."""

    name: str
    """What is counted against ``limit``, e.g. ``"credential refreshes"``."""
    apply: Callable[[S3RequestError], Awaitable[None]] = _nothing
    """Runs just before the next attempt (refresh the credentials, re-read the part)."""
    applicable: Callable[[S3RequestError], bool] = _always
    """Decided when the failure is classified; False makes it final (static keys cannot be
    refreshed, a server that sent no Date teaches no clock offset)."""
    limit: int = MAX_FIXES
    """Times per request at most; past it, the failure is final."""


def credential_fix(owner: CredentialOwner) -> Fix:
    """S3 refused the credentials as expired: refresh them (unless another request did)."""

    async def refresh(error: S3RequestError) -> None:
        generation = error.credential_generation
        await owner.refresh_rejected(generation if generation is not None else owner.generation)

    return Fix("credential refreshes", refresh, lambda error: owner.can_refresh)


def clock_fix(clock: ServerClock, events: Events = NO_EVENTS) -> Fix:
    """The request's time was off: adopt the server's, which every later signature uses."""

    def learn(error: S3RequestError) -> bool:
        if not clock.learn(error.server_time):
            return False  # the server did not say what time it is
        events.emit(EventKind.CLOCK_CORRECTED, clock_offset=clock.offset)
        return True

    return Fix("clock corrections", applicable=learn)


def reread_fix(reread: Callable[[], Awaitable[None]]) -> Fix:
    """After a BadDigest: read the body again (SourceChangedError if the file changed)."""

    async def again(error: S3RequestError) -> None:
        await reread()

    return Fix("re-reads", again, limit=1)


class RetryBudget:
    """A token bucket shared by an uploader's requests, as the AWS SDKs' standard mode keeps:
    a retry costs tokens (a timeout more), a success puts some back. When a dead or failing
    endpoint drains it, failures become final at once instead of storming."""

    def __init__(self, capacity: int = 500, retry_cost: int = 5, timeout_cost: int = 10) -> None:
        self.capacity = capacity
        self.tokens = capacity
        self.retry_cost = retry_cost
        self.timeout_cost = timeout_cost

    def take(self, cost: int) -> bool:
        if cost > self.tokens:
            return False
        self.tokens -= cost
        return True

    def give_back(self, tokens: int) -> None:
        self.tokens = min(self.capacity, self.tokens + tokens)


class FullJitter(wait_base):
    """``uniform(0, min(cap, base * 2 ** (n - 1)))`` before the n-th retry, with ``base``
    chosen by the failure's verdict; a server's ``Retry-After`` is a floor."""

    def __init__(self, policy: RetryPolicy, rng: random.Random) -> None:
        self._policy = policy
        self._rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        state: _RequestState = retry_state.kwargs["state"]
        verdict = state.verdict
        if verdict is None or verdict.action not in (Action.BACKOFF, Action.RETRY):
            return 0.0  # fixed (credentials, clock, re-read): try again at once
        policy = self._policy
        base = policy.throttle_delay if verdict.action is Action.BACKOFF else policy.base_delay
        ceiling = min(policy.max_delay, base * 2 ** (retry_state.attempt_number - 1))
        delay = self._rng.uniform(0, ceiling)
        if state.retry_after is not None:
            delay = max(delay, min(state.retry_after, policy.max_delay))
        return delay


@dataclass
class Counters:
    """What one upload's requests cost: attempts, and retries by cause."""

    attempts: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    resumed_parts: int = 0
    """Parts an interrupted earlier run had uploaded, not sent again."""


@dataclass
class _RequestState:
    fixes: Mapping[Action, Fix]
    verdict: Verdict | None = None
    error: S3RequestError | None = None
    retry_after: float | None = None
    paid: int = 0
    fixed: dict[Action, int] = field(default_factory=dict)
    """Fixes applied so far, by action."""
    pending: Fix | None = None
    """The fix to apply before the next attempt."""
    attempts: int = 0
    max_attempts: int = 1
    budgeted: bool = True
    gave_up: str | None = None


class Retrier:
    """Runs requests with the retries, fixes and limits of one uploader."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        limiter: AdaptiveLimiter,
        budget: RetryBudget,
        fixes: Mapping[Action, Fix] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
        rng: random.Random | None = None,
        annotate: Callable[[S3RequestError], None] | None = None,
        events: Events = NO_EVENTS,
    ) -> None:
        self.policy = policy
        self._events = events
        self.limiter = limiter
        self.budget = budget
        self.fixes: Mapping[Action, Fix] = dict(fixes or {})
        """The uploader's fixes, by action (fresh credentials, the server's clock)."""
        self._sleep = sleep
        self._wait = FullJitter(policy, rng or random.Random())
        self.contacted = False
        """Whether the endpoint has answered any request of this uploader yet."""
        self._annotate = annotate
        """Adds what the uploader knows (clock offset, credential expiry) to a final failure."""

    async def run(
        self,
        send: Callable[[], Awaitable[T]],
        counters: Counters,
        *,
        fixes: Mapping[Action, Fix] | None = None,
        limited: bool = True,
        budgeted: bool = True,
        max_attempts: int | None = None,
    ) -> T:
        """``send()`` until it succeeds or its failure is final. ``fixes`` add this request's
        own (re-reading its body, renewing its URL) to the uploader's; ``limited=False`` skips
        the concurrency limit (aborts, which must not wait behind the parts they clean up
        after); ``budgeted=False`` retries without drawing on the budget (completing,
        confirming and aborting an upload whose parts are already paid for: their attempts
        are few anyway); ``max_attempts`` lowers the policy's."""
        state = _RequestState(
            fixes={**self.fixes, **fixes} if fixes else self.fixes,
            max_attempts=min(max_attempts or 1 << 30, self.policy.max_attempts),
            budgeted=budgeted,
        )
        try:
            # The first attempt runs without tenacity: its loop costs about 0.2 ms of CPU per
            # request here, a third of a small file's upload, and most requests never fail.
            try:
                return await self._attempt(send, counters, limited, state=state)
            except S3RequestError as exc:
                first: S3RequestError | None = exc

            async def attempt(*, state: _RequestState) -> T:  # the callbacks read `state`
                nonlocal first
                if first is not None:  # tenacity's attempt 1 is the one just made
                    failed, first = first, None
                    raise failed
                return await self._attempt(send, counters, limited, state=state)

            retrying = AsyncRetrying(
                sleep=self._sleep,
                wait=self._wait,
                retry=self._should_retry,
                before_sleep=_count_retry(counters, self._events),
                reraise=True,
            )
            return await retrying(attempt, state=state)
        except S3RequestError as exc:
            exc.attempts = max(state.attempts, 1)
            if self._annotate is not None:
                self._annotate(exc)
            if state.gave_up is not None:
                raise RetriesExhaustedError.wrapping(exc, state.gave_up) from exc
            raise

    async def _attempt(
        self,
        send: Callable[[], Awaitable[T]],
        counters: Counters,
        limited: bool,
        *,
        state: _RequestState,
    ) -> T:
        if state.pending is not None and state.error is not None:
            fix, state.pending = state.pending, None
            await fix.apply(state.error)
        try:
            if limited:
                async with self.limiter:
                    counters.attempts += 1
                    result = await send()
                self.limiter.on_success()
            else:
                counters.attempts += 1
                result = await send()
        except S3RequestError as exc:
            self.contacted = self.contacted or exc.status is not None
            raise
        self.contacted = True
        if state.budgeted:
            self.budget.give_back(state.paid or 1)
        return result

    def _should_retry(self, retry_state: RetryCallState) -> bool:
        state: _RequestState = retry_state.kwargs["state"]
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if not isinstance(exc, S3RequestError):
            return False
        verdict = verdict_of(exc)
        state.verdict, state.error, state.retry_after = verdict, exc, exc.retry_after
        state.attempts = retry_state.attempt_number
        if verdict.action is Action.FAIL:
            return False
        if retry_state.attempt_number >= state.max_attempts:
            state.gave_up = f"{retry_state.attempt_number} attempts"
            return False
        never_answered = exc.unreachable and not self.contacted
        if never_answered and retry_state.attempt_number >= FIRST_CONTACT_ATTEMPTS:
            state.gave_up = f"{retry_state.attempt_number} attempts; the endpoint never answered"
            return False
        if verdict.action not in (Action.BACKOFF, Action.RETRY):
            return self._prepare_fix(state, verdict.action, exc)
        if verdict.action is Action.BACKOFF:
            self.limiter.on_throttled()
        if not state.budgeted:
            return True
        timed_out = isinstance(exc.last_exception, TimeoutError)
        cost = self.budget.timeout_cost if timed_out else self.budget.retry_cost
        if not self.budget.take(cost):
            state.gave_up = "the retry budget is spent"
            return False
        state.paid = cost
        return True

    @staticmethod
    def _prepare_fix(state: _RequestState, action: Action, error: S3RequestError) -> bool:
        """Whether a fix for ``action`` is there, may still be applied, and can help."""
        fix = state.fixes.get(action)
        if fix is None or not fix.applicable(error):
            return False  # e.g. static keys, or a presigned URL nobody can renew here
        used = state.fixed[action] = state.fixed.get(action, 0) + 1
        if used > fix.limit:
            state.gave_up = f"{fix.limit} {fix.name}"
            return False
        state.pending = fix
        return True


def verdict_of(error: S3RequestError) -> Verdict:
    """The code table's verdict for a failed request: a failure without an answer by the row
    of ``WITHOUT_ANSWER`` the wire named for it (an untrusted certificate fails, a reset is
    retried), an answer by :func:`classify`."""
    if isinstance(error, NoAnswerError):
        return WITHOUT_ANSWER[error.without_answer].verdict
    return classify(error.code, error.status, message=error.message, network=error.status is None)


def _count_retry(counters: Counters, events: Events) -> Callable[[RetryCallState], None]:
    def before_sleep(retry_state: RetryCallState) -> None:
        state: _RequestState = retry_state.kwargs["state"]
        assert state.verdict is not None
        assert state.error is not None
        cause = state.verdict.cause
        counters.retries[cause] = counters.retries.get(cause, 0) + 1
        delay = retry_state.next_action.sleep if retry_state.next_action else 0.0
        error = state.error
        events.emit(
            EventKind.RETRY,
            bucket=error.bucket or "",
            key=error.key or "",
            upload_id=error.upload_id,
            part_number=error.part_number,
            seconds=delay,
            cause=cause,
            attempt=retry_state.attempt_number,
        )

    return before_sleep
