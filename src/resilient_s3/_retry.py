"""Retrying one S3 request: backoff with full jitter, a retry budget, and the fixes a
classified failure calls for (fresh credentials, the server's clock, a re-read part).

Each request (a part, a PUT, a control call) is retried on its own: one bad part never restarts
an upload. The loop is tenacity's; what to retry is decided by :func:`classify` only.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from tenacity import AsyncRetrying, RetryCallState
from tenacity.wait import wait_base

from ._classify import Action, Verdict, classify
from ._clock import ServerClock
from ._concurrency import AdaptiveLimiter
from ._credentials import CredentialOwner
from ._exceptions import RetriesExhaustedError, S3RequestError

logger = logging.getLogger("resilient_s3")

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
    verdict: Verdict | None = None
    error: S3RequestError | None = None
    retry_after: float | None = None
    paid: int = 0
    refreshes: int = 0
    corrections: int = 0
    rereads: int = 0
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
        credentials: CredentialOwner,
        clock: ServerClock,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        self.limiter = limiter
        self.budget = budget
        self._credentials = credentials
        self._clock = clock
        self._sleep = sleep
        self._wait = FullJitter(policy, rng or random.Random())
        self.contacted = False
        """Whether the endpoint has answered any request of this uploader yet."""

    async def run(
        self,
        send: Callable[[], Awaitable[T]],
        counters: Counters,
        *,
        reread: Callable[[], Awaitable[None]] | None = None,
        limited: bool = True,
        budgeted: bool = True,
        max_attempts: int | None = None,
    ) -> T:
        """``send()`` until it succeeds or its failure is final. ``reread`` checks the body
        again after a BadDigest; ``limited=False`` skips the concurrency limit (aborts, which
        must not wait behind the parts they clean up after); ``budgeted=False`` retries
        without drawing on the budget (completing, confirming and aborting an upload whose
        parts are already paid for: their attempts are few anyway); ``max_attempts`` lowers
        the policy's."""
        state = _RequestState(
            max_attempts=min(max_attempts or 1 << 30, self.policy.max_attempts),
            budgeted=budgeted,
        )
        try:
            # The first attempt runs without tenacity: its loop costs about 0.2 ms of CPU per
            # request here, a third of a small file's upload, and most requests never fail.
            try:
                return await self._attempt(send, counters, reread, limited, state=state)
            except S3RequestError as exc:
                first: S3RequestError | None = exc

            async def attempt(*, state: _RequestState) -> T:  # the callbacks read `state`
                nonlocal first
                if first is not None:  # tenacity's attempt 1 is the one just made
                    failed, first = first, None
                    raise failed
                return await self._attempt(send, counters, reread, limited, state=state)

            retrying = AsyncRetrying(
                sleep=self._sleep,
                wait=self._wait,
                retry=self._should_retry,
                before_sleep=_count_retry(counters),
                reraise=True,
            )
            return await retrying(attempt, state=state)
        except S3RequestError as exc:
            exc.attempts = max(state.attempts, 1)
            if state.gave_up is not None:
                raise _exhausted(exc, state.gave_up) from exc
            raise

    async def _attempt(
        self,
        send: Callable[[], Awaitable[T]],
        counters: Counters,
        reread: Callable[[], Awaitable[None]] | None,
        limited: bool,
        *,
        state: _RequestState,
    ) -> T:
        await self._fix(state, reread)
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

    async def _fix(
        self, state: _RequestState, reread: Callable[[], Awaitable[None]] | None
    ) -> None:
        """Before a retry: what the last failure's verdict calls for."""
        verdict, error = state.verdict, state.error
        if verdict is None or error is None:
            return
        if verdict.action is Action.REFRESH_CREDENTIALS:
            await self._credentials.refresh_rejected(
                error.credential_generation
                if error.credential_generation is not None
                else self._credentials.generation
            )
        elif verdict.action is Action.REREAD and reread is not None:
            await reread()

    def _should_retry(self, retry_state: RetryCallState) -> bool:
        state: _RequestState = retry_state.kwargs["state"]
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if not isinstance(exc, S3RequestError):
            return False
        # A failure without an answer is a network one; retryable unless its diagnosis says
        # otherwise (an untrusted certificate).
        network = exc.status is None and (exc.diagnosis is None or exc.diagnosis.retryable)
        verdict = classify(exc.code, exc.status, network=network)
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
        if verdict.action is Action.REFRESH_CREDENTIALS:
            if not self._credentials.can_refresh:
                return False  # static keys: nothing to refresh them with
            state.refreshes += 1
            return self._within(state, state.refreshes, "credential refreshes")
        if verdict.action is Action.CORRECT_CLOCK:
            state.corrections += 1
            if not self._within(state, state.corrections, "clock corrections"):
                return False
            if not self._clock.learn(exc.server_time):
                return False  # the server did not say what time it is
            logger.warning(
                "the local clock is off by %+.0f s from the server's; signing with the offset",
                -self._clock.offset,
            )
            return True
        if verdict.action is Action.REREAD:
            state.rereads += 1
            return self._within(state, state.rereads, "re-reads", limit=1)
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
    def _within(state: _RequestState, count: int, what: str, limit: int = MAX_FIXES) -> bool:
        if count > limit:
            state.gave_up = f"{limit} {what}"
            return False
        return True


def _count_retry(counters: Counters) -> Callable[[RetryCallState], None]:
    def before_sleep(retry_state: RetryCallState) -> None:
        state: _RequestState = retry_state.kwargs["state"]
        assert state.verdict is not None
        assert state.error is not None
        cause = state.verdict.cause
        counters.retries[cause] = counters.retries.get(cause, 0) + 1
        delay = retry_state.next_action.sleep if retry_state.next_action else 0.0
        logger.info("retrying in %.2f s after %s", delay, state.error.message)

    return before_sleep


def _exhausted(exc: S3RequestError, reason: str) -> RetriesExhaustedError:
    error = RetriesExhaustedError(
        f"{exc.message} (gave up after {reason})",
        code=exc.code,
        status=exc.status,
        request_id=exc.request_id,
        bucket=exc.bucket,
        key=exc.key,
        upload_id=exc.upload_id,
        part_number=exc.part_number,
        diagnosis=exc.diagnosis,
        last_exception=exc.last_exception,
    )
    error.server_time, error.retry_after = exc.server_time, exc.retry_after
    error.attempts, error.unreachable = exc.attempts, exc.unreachable
    return error
