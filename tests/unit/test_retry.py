"""Pure units of the resilience layer: the classifier table, the exact backoff schedule, the retry
budget, adaptive concurrency, the credential owner and the server clock. No server here."""

from __future__ import annotations

import datetime
import random
import socket
import ssl
from typing import Any

import anyio
import pytest
from botocore.credentials import Credentials, RefreshableCredentials
from hypothesis import given
from hypothesis import strategies as st

from resilient_s3 import CredentialRefreshError, RetriesExhaustedError, S3RequestError
from resilient_s3._auth.clock import ServerClock
from resilient_s3._auth.credentials import CredentialOwner
from resilient_s3._diagnostics.answer import parse_time as parse_http_date
from resilient_s3._diagnostics.codes import CODES, Action, classify
from resilient_s3._resilience.concurrency import AdaptiveLimiter
from resilient_s3._resilience.retry import (
    Counters,
    Retrier,
    RetryBudget,
    RetryPolicy,
    clock_fix,
    credential_fix,
    reread_fix,
)

pytestmark = pytest.mark.anyio


# -- classifier ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "network", "action", "cause"),
    [
        ("SlowDown", 503, False, Action.BACKOFF, "throttled"),
        ("ServiceUnavailable", 503, False, Action.BACKOFF, "throttled"),
        ("TooManyRequests", 429, False, Action.BACKOFF, "throttled"),  # MinIO
        (None, 429, False, Action.BACKOFF, "throttled"),  # a bare 429
        ("ErrTooManyRequest", 503, False, Action.BACKOFF, "throttled"),  # SeaweedFS
        ("ErrRequestBytesExceed", 503, False, Action.BACKOFF, "throttled"),  # SeaweedFS
        ("SomethingNew", 503, False, Action.BACKOFF, "throttled"),
        ("InternalError", 500, False, Action.RETRY, "server-error"),
        ("InternalError", 200, False, Action.RETRY, "server-error"),  # 200 with <Error>
        (None, 502, False, Action.RETRY, "server-error"),
        (None, 504, False, Action.RETRY, "server-error"),
        ("RequestTimeout", 400, False, Action.RETRY, "server-error"),
        ("IncompleteBody", 400, False, Action.RETRY, "server-error"),
        (None, None, True, Action.RETRY, "network"),
        ("ExpiredToken", 400, False, Action.REFRESH_CREDENTIALS, "credentials-expired"),
        ("TokenRefreshRequired", 400, False, Action.REFRESH_CREDENTIALS, "credentials-expired"),
        ("InvalidToken", 400, False, Action.REFRESH_CREDENTIALS, "invalid-token"),
        ("RequestTimeTooSkewed", 403, False, Action.CORRECT_CLOCK, "clock-skew"),
        ("RequestExpired", 400, False, Action.CORRECT_CLOCK, "clock-skew"),
        ("RequestInTheFuture", 403, False, Action.CORRECT_CLOCK, "clock-skew"),
        ("BadDigest", 400, False, Action.REREAD, "bad-digest"),
        ("AccessDenied", 403, False, Action.FAIL, "fail"),
        ("SignatureDoesNotMatch", 403, False, Action.FAIL, "fail"),
        ("InvalidAccessKeyId", 403, False, Action.FAIL, "fail"),
        ("NoSuchBucket", 404, False, Action.FAIL, "fail"),
        ("NoSuchUpload", 404, False, Action.FAIL, "fail"),
        ("EntityTooSmall", 400, False, Action.FAIL, "fail"),
        ("InvalidArgument", 400, False, Action.FAIL, "fail"),
        ("PreconditionFailed", 412, False, Action.FAIL, "fail"),
        ("ConditionalRequestConflict", 409, False, Action.RETRY, "conflict"),
        (None, 301, False, Action.FAIL, "fail"),  # a HEAD to another region's bucket
        ("AccessForbidden", 403, False, Action.FAIL, "fail"),  # a CORS preflight
        (None, 404, False, Action.FAIL, "fail"),
    ],
)
def test_classifier_table(
    code: str | None, status: int | None, network: bool, action: Action, cause: str
) -> None:
    verdict = classify(code, status, network=network)
    assert verdict.action is action
    assert verdict.cause == cause
    assert verdict.retryable is (action is not Action.FAIL)


# -- retrier -----------------------------------------------------------------------------------


def failure(code: str | None, status: int | None, **attrs: Any) -> S3RequestError:
    error = S3RequestError(f"failed: {code or 'network'}", code=code, status=status)
    for name, value in attrs.items():
        setattr(error, name, value)
    return error


class Script:
    """A send() that fails as scripted, then succeeds."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_retrier(
    *,
    sleeps: Sleeps | None = None,
    policy: RetryPolicy | None = None,
    budget: RetryBudget | None = None,
    owner: CredentialOwner | None = None,
    clock: ServerClock | None = None,
    limiter: AdaptiveLimiter | None = None,
    seed: int = 7,
) -> Retrier:
    return Retrier(
        policy or RetryPolicy(),
        limiter=limiter or AdaptiveLimiter(8),
        budget=budget or RetryBudget(),
        fixes={
            Action.REFRESH_CREDENTIALS: credential_fix(
                owner or CredentialOwner(Credentials("AK", "SK"))
            ),
            Action.CORRECT_CLOCK: clock_fix(clock or ServerClock()),
        },
        sleep=sleeps or Sleeps(),
        rng=random.Random(seed),
    )


async def test_backoff_schedule_is_full_jitter_with_separate_bases() -> None:
    sleeps = Sleeps()
    retrier = make_retrier(sleeps=sleeps)
    script = Script(
        failure("InternalError", 500),
        failure(None, None),
        failure("SlowDown", 503),
        failure("SlowDown", 503),
    )
    counters = Counters()
    assert await retrier.run(script, counters) == "ok"
    rng = random.Random(7)
    expected = [
        rng.uniform(0, 0.1 * 1),  # transient, 1st retry
        rng.uniform(0, 0.1 * 2),  # transient, 2nd
        rng.uniform(0, 0.25 * 4),  # throttled, 3rd
        rng.uniform(0, 0.25 * 8),  # throttled, 4th
    ]
    assert sleeps.delays == pytest.approx(expected)
    assert counters.attempts == 5
    assert counters.retries == {"server-error": 1, "network": 1, "throttled": 2}


async def test_backoff_is_capped_and_retry_after_is_a_floor() -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=12, max_delay=3.0)
    retrier = make_retrier(sleeps=sleeps, policy=policy)
    script = Script(*[failure("SlowDown", 503) for _ in range(8)])
    await retrier.run(script, Counters())
    assert all(0 <= d <= 3.0 for d in sleeps.delays)
    sleeps.delays.clear()
    await retrier.run(Script(failure("SlowDown", 503, retry_after=2.5)), Counters())
    assert sleeps.delays[0] >= 2.5
    sleeps.delays.clear()
    await retrier.run(Script(failure("SlowDown", 503, retry_after=600.0)), Counters())
    assert sleeps.delays == [3.0]  # a server's Retry-After is capped too


async def test_permanent_errors_fail_on_the_first_attempt() -> None:
    for code, status in [("AccessDenied", 403), ("NoSuchBucket", 404), ("EntityTooSmall", 400)]:
        script = Script(failure(code, status))
        counters = Counters()
        with pytest.raises(S3RequestError) as raised:
            await make_retrier().run(script, counters)
        assert type(raised.value) is S3RequestError
        assert raised.value.code == code
        assert script.calls == 1
        assert counters.retries == {}


async def test_attempts_are_bounded_per_request() -> None:
    script = Script(*[failure("InternalError", 500) for _ in range(20)])
    with pytest.raises(RetriesExhaustedError) as raised:
        await make_retrier(policy=RetryPolicy(max_attempts=4)).run(script, Counters())
    assert script.calls == 4
    assert raised.value.attempts == 4
    assert raised.value.code == "InternalError"
    assert "gave up after 4 attempts" in str(raised.value)


async def test_a_spent_budget_makes_failures_final_at_once() -> None:
    budget = RetryBudget(capacity=20, retry_cost=5, timeout_cost=10)
    retrier = make_retrier(budget=budget)
    script = Script(*[failure(None, None) for _ in range(10)])
    with pytest.raises(RetriesExhaustedError, match="retry budget"):
        await retrier.run(script, Counters())
    assert script.calls == 5  # 4 retries of 5 tokens each
    assert budget.tokens == 0
    # A success puts back what its retries cost (else one token), up to the capacity.
    await retrier.run(Script(), Counters())
    assert budget.tokens == 1


async def test_timeouts_cost_more_of_the_budget() -> None:
    budget = RetryBudget(capacity=100)
    timeout = failure(None, None, last_exception=TimeoutError())
    await make_retrier(budget=budget).run(Script(timeout), Counters())
    assert budget.tokens == 100  # 10 taken, 10 given back on success
    budget.tokens = 50
    with pytest.raises(RetriesExhaustedError):
        await make_retrier(budget=budget).run(Script(*[timeout] * 10), Counters())
    assert budget.tokens == 0


async def test_expired_credentials_are_refreshed_then_retried_without_waiting() -> None:
    issued = iter(range(100))

    def fetch() -> dict[str, Any]:
        n = next(issued)
        return {"access_key": f"AK{n}", "secret_key": "SK", "token": "T", "expiry_time": far()}

    owner = CredentialOwner(fetch)
    await owner.get()
    sleeps = Sleeps()
    retrier = make_retrier(sleeps=sleeps, owner=owner)
    script = Script(failure("ExpiredToken", 400, credential_generation=owner.generation))
    counters = Counters()
    await retrier.run(script, counters)
    assert owner.refreshes == 1
    assert (await owner.get())[0].access_key == "AK1"
    assert sleeps.delays == [0.0]
    assert counters.retries == {"credentials-expired": 1}


async def test_static_credentials_rejected_as_expired_fail_at_once() -> None:
    script = Script(failure("ExpiredToken", 400))
    with pytest.raises(S3RequestError):
        await make_retrier().run(script, Counters())
    assert script.calls == 1


async def test_credentials_rejected_again_and_again_give_up() -> None:
    def fetch() -> dict[str, Any]:
        return {"access_key": "AK", "secret_key": "SK", "token": "T", "expiry_time": far()}

    owner = CredentialOwner(fetch)
    script = Script(*[failure("ExpiredToken", 400, credential_generation=None)] * 5)
    with pytest.raises(RetriesExhaustedError, match="2 credential refreshes"):
        await make_retrier(owner=owner).run(script, Counters())
    assert script.calls == 3


async def test_clock_skew_is_corrected_from_the_server_date() -> None:
    local = datetime.datetime(2026, 1, 1, 12, 0, 0)
    clock = ServerClock(lambda: local)
    server_time = local + datetime.timedelta(minutes=20)
    script = Script(failure("RequestTimeTooSkewed", 403, server_time=server_time))
    sleeps = Sleeps()
    counters = Counters()
    await make_retrier(clock=clock, sleeps=sleeps).run(script, counters)
    assert clock.offset == 1200
    assert clock.now() == server_time
    assert sleeps.delays == [0.0]
    assert counters.retries == {"clock-skew": 1}


async def test_clock_skew_without_a_server_date_fails() -> None:
    script = Script(failure("RequestTimeTooSkewed", 403))
    with pytest.raises(S3RequestError):
        await make_retrier().run(script, Counters())
    assert script.calls == 1


def reread_fix_for(reread: Any) -> dict[Action, Any]:
    return {Action.REREAD: reread_fix(reread)}


async def test_bad_digest_rereads_once() -> None:
    rereads = []

    async def reread() -> None:
        rereads.append(1)

    script = Script(failure("BadDigest", 400))
    await make_retrier().run(script, Counters(), fixes=reread_fix_for(reread))
    assert rereads == [1]
    script = Script(failure("BadDigest", 400), failure("BadDigest", 400))
    with pytest.raises(RetriesExhaustedError, match="1 re-reads"):
        await make_retrier().run(script, Counters(), fixes=reread_fix_for(reread))


async def test_throttling_lowers_the_concurrency_limit() -> None:
    now = [0.0]
    limiter = AdaptiveLimiter(16, now=lambda: now[0])
    retrier = make_retrier(limiter=limiter)
    await retrier.run(Script(failure("SlowDown", 503)), Counters())
    assert limiter.limit == 11
    assert limiter.decreases == 1


# -- adaptive concurrency ----------------------------------------------------------------------


async def test_aimd_decreases_once_per_cooldown_and_grows_back_additively() -> None:
    now = [0.0]
    limiter = AdaptiveLimiter(10, now=lambda: now[0], cooldown=1.0)
    limiter.on_throttled()
    limiter.on_throttled()  # the same burst
    assert limiter.limit == 7
    now[0] = 1.5
    limiter.on_throttled()
    assert limiter.limit == 4
    assert (limiter.lowest, limiter.decreases) == (4, 2)
    for _ in range(4):
        limiter.on_success()
    assert limiter.limit == 5  # +1 after `limit` successes
    for _ in range(5 + 6 + 7 + 8 + 9 + 10):
        limiter.on_success()
    assert limiter.limit == 10  # never above the maximum
    now[0] = 10.0
    for _ in range(20):
        limiter.on_throttled()
        now[0] += 1
    assert limiter.limit == 1  # never below one


async def test_lowering_the_limit_holds_back_new_requests() -> None:
    limiter = AdaptiveLimiter(4)
    peak = 0

    async def work() -> None:
        nonlocal peak
        async with limiter:
            peak = max(peak, limiter.in_flight)
            await anyio.sleep(0.01)

    limiter.on_throttled()
    limiter._last_decrease = -1e9
    limiter.on_throttled()
    assert limiter.limit == 1
    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(work)
    assert peak == 1


# -- credential owner --------------------------------------------------------------------------


def far(seconds: float = 3600) -> str:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)).isoformat()


class Provider:
    """A refreshable provider with a controllable clock and call log."""

    def __init__(self, lifetime: float, now: list[float]) -> None:
        self.lifetime = lifetime
        self.now = now
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {
            "AccessKeyId": f"AK{self.calls}",
            "SecretAccessKey": "SK",
            "SessionToken": f"T{self.calls}",
            "Expiration": self.now[0] + self.lifetime,
        }


async def test_credentials_refresh_ahead_of_expiry_at_most_a_quarter_of_their_life() -> None:
    now = [1000.0]
    provider = Provider(lifetime=900, now=now)  # a 15-minute token
    owner = CredentialOwner(provider, refresh_ahead=300, now=lambda: now[0])
    assert (await owner.get())[0].access_key == "AK1"
    assert owner.refreshes == 0
    now[0] += 600  # 5 minutes left: inside 300 s, but the window is 900/4 = 225 s
    assert (await owner.get())[0].access_key == "AK1"
    now[0] += 80  # 220 s left
    assert (await owner.get())[0].access_key == "AK2"
    assert owner.refreshes == 1
    assert owner.generation == 1


async def test_one_refresh_in_flight_at_a_time() -> None:
    now = [0.0]
    calls = []

    async def fetch() -> dict[str, Any]:
        calls.append(1)
        await anyio.sleep(0.05)
        return {
            "access_key": f"AK{len(calls)}",
            "secret_key": "SK",
            "token": "T",
            "expiry_time": now[0] + 100,
        }

    owner = CredentialOwner(fetch, now=lambda: now[0])
    await owner.get()
    now[0] = 90  # within the refresh window
    seen: list[str] = []

    async def get() -> None:
        seen.append((await owner.get())[0].access_key)

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(get)
    assert len(calls) == 2  # the first fetch and one refresh
    # While it runs, the others go on with the credentials in hand: valid for 10 s more.
    assert set(seen) <= {"AK1", "AK2"}
    assert (await owner.get())[0].access_key == "AK2"

    # Once they have expired, everybody waits for the refresh.
    now[0] = 300
    seen.clear()
    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(get)
    assert len(calls) == 3
    assert set(seen) == {"AK3"}

    # Twenty requests rejected with the same generation cause one refresh.
    generation = owner.generation
    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(owner.refresh_rejected, generation)
    assert len(calls) == 4


async def test_sync_providers_refresh_in_a_worker_thread() -> None:
    import threading

    threads = []

    def fetch() -> dict[str, Any]:
        threads.append(threading.current_thread())
        return {"access_key": "AK", "secret_key": "SK", "token": "T", "expiry_time": far()}

    owner = CredentialOwner(fetch)
    await owner.get()
    assert threads[0] is not threading.main_thread()


async def test_botocore_refreshable_credentials_are_used_without_an_extra_fetch() -> None:
    fetched = []

    def fetch() -> dict[str, Any]:
        fetched.append(1)
        return {"access_key": "NEW", "secret_key": "SK", "token": "T", "expiry_time": far()}

    source = RefreshableCredentials.create_from_metadata(
        {"access_key": "OLD", "secret_key": "SK", "token": "T", "expiry_time": far()},
        refresh_using=fetch,
        method="test",
    )
    owner = CredentialOwner(source)
    assert (await owner.get())[0].access_key == "OLD"
    assert fetched == []
    assert await owner.refresh_rejected(owner.generation)
    assert (await owner.get())[0].access_key == "NEW"


async def test_a_failed_refresh_keeps_valid_credentials_and_reports_expired_ones() -> None:
    now = [0.0]
    fail = [False]

    def fetch() -> dict[str, Any]:
        if fail[0]:
            raise RuntimeError("the identity provider is down")
        return {"access_key": "AK", "secret_key": "SK", "token": "T", "expiry_time": now[0] + 100}

    owner = CredentialOwner(fetch, now=lambda: now[0])
    await owner.get()
    fail[0] = True
    now[0] = 90
    assert (await owner.get())[0].access_key == "AK"  # still valid for 10 s
    now[0] = 101
    with pytest.raises(CredentialRefreshError, match="identity provider is down"):
        await owner.get()


async def test_a_provider_returning_nonsense_is_reported() -> None:
    owner = CredentialOwner(lambda: 42)
    with pytest.raises(Exception, match="must return a mapping"):
        await owner.get()


def test_owner_repr_shows_no_secret() -> None:
    owner = CredentialOwner(Credentials("AKIDVISIBLE", "SECRETSECRET", "TOKENTOKEN"))
    assert "SECRET" not in repr(owner)
    assert "TOKEN" not in repr(owner)


# -- clock -------------------------------------------------------------------------------------


def test_parse_http_date() -> None:
    assert parse_http_date("Sun, 22 Nov 2026 09:30:00 GMT") == datetime.datetime(
        2026, 11, 22, 9, 30
    )
    assert parse_http_date("2026-11-22T09:30:00Z") == datetime.datetime(2026, 11, 22, 9, 30)
    assert parse_http_date("2026-11-22T09:30:00.000Z") == datetime.datetime(2026, 11, 22, 9, 30)
    assert parse_http_date("yesterday") is None
    assert parse_http_date(None) is None


async def test_deferred_credentials_learn_their_expiry_on_first_use() -> None:
    from botocore.credentials import DeferredRefreshableCredentials

    expiry = far(100)
    source = DeferredRefreshableCredentials(
        refresh_using=lambda: {
            "access_key": "AK",
            "secret_key": "SK",
            "token": "T",
            "expiry_time": expiry,
        },
        method="assume-role",
    )
    owner = CredentialOwner(source, refresh_ahead=300)
    await owner.get()
    assert owner._current is not None
    assert owner._current.expires_at == pytest.approx(
        datetime.datetime.fromisoformat(expiry).timestamp()
    )


async def test_a_failing_refresh_ahead_does_not_stall_requests() -> None:
    now = [0.0]
    calls = []

    def fetch() -> dict[str, Any]:
        calls.append(now[0])
        if len(calls) > 1:
            raise RuntimeError("STS is down")
        return {"access_key": "AK", "secret_key": "SK", "token": "T", "expiry_time": 1000.0}

    owner = CredentialOwner(fetch, refresh_ahead=300, now=lambda: now[0])
    await owner.get()
    now[0] = 800  # within the window, 200 s of validity left
    for _ in range(10):
        assert (await owner.get())[0].access_key == "AK"
    assert calls == [0.0, 800]  # one failed try, then a quiet spell
    now[0] = 831
    await owner.get()
    assert calls == [0.0, 800, 831]


async def test_a_failing_provider_is_a_credential_refresh_error() -> None:
    def fetch() -> dict[str, Any]:
        raise RuntimeError("no route to the identity provider")

    with pytest.raises(CredentialRefreshError, match="no route") as raised:
        await CredentialOwner(fetch).get()
    assert raised.value.diagnosis is not None
    assert raised.value.diagnosis.cause == "credential-provider-failed"  # not an expiry


def no_answer(exc: BaseException) -> S3RequestError:
    """The error the wire makes of a request that got no answer."""
    from resilient_s3._s3.errors import Where, network_error

    return network_error(exc, Where("b", "k"), "PutObject", "https://s3.example/b/k")


async def test_an_untrusted_certificate_is_not_retried() -> None:
    import ssl

    error = no_answer(ssl.SSLCertVerificationError(1, "certificate verify failed"))
    script = Script(error)
    with pytest.raises(S3RequestError):
        await make_retrier().run(script, Counters())
    assert script.calls == 1


@pytest.mark.parametrize(
    ("exc", "row"),
    [
        (ConnectionResetError(104, "Connection reset by peer"), "connection-failed"),
        (TimeoutError(), "connection-failed"),
        (ConnectionRefusedError(111, "Connection refused"), "connection-refused"),
        (socket.gaierror(-2, "Name or service not known"), "host-unresolved"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "tls-untrusted"),
    ],
)
def test_a_failure_without_an_answer_is_decided_by_its_row_of_the_table(
    exc: BaseException, row: str
) -> None:
    """One table: the wire names the row, and both the retrier's verdict and the diagnosis a
    person reads come from it; neither is derived from the other."""
    from resilient_s3._diagnostics.codes import WITHOUT_ANSWER
    from resilient_s3._resilience.retry import verdict_of

    error = no_answer(exc)
    assert getattr(error, "without_answer", None) == row
    assert verdict_of(error) == WITHOUT_ANSWER[row].verdict
    assert error.diagnosis is not None
    assert error.diagnosis.retryable is WITHOUT_ANSWER[row].verdict.retryable


async def test_the_retrier_does_not_read_the_diagnosis_back() -> None:
    """A diagnosis is for people: replacing it (annotate re-diagnoses final failures) changes
    nothing the retrier decides."""
    from resilient_s3._diagnostics.model import Cause, Diagnosis

    reset = no_answer(ConnectionResetError(104, "Connection reset by peer"))
    reset.diagnosis = Diagnosis(Cause.NETWORK, "said to be final", retryable=False)
    script = Script(reset)
    assert await make_retrier().run(script, Counters()) == "ok"
    assert script.calls == 2

    untrusted = no_answer(ssl.SSLCertVerificationError(1, "certificate verify failed"))
    untrusted.diagnosis = Diagnosis(Cause.NETWORK, "said to be retryable", retryable=True)
    script = Script(untrusted)
    with pytest.raises(S3RequestError):
        await make_retrier().run(script, Counters())
    assert script.calls == 1


async def test_unbudgeted_requests_retry_with_an_empty_budget() -> None:
    budget = RetryBudget(capacity=0)
    script = Script(failure("SlowDown", 503), failure("InternalError", 500))
    await make_retrier(budget=budget).run(script, Counters(), budgeted=False)
    assert script.calls == 3
    assert budget.tokens == 0


def test_signing_region_comes_from_the_endpoint_rules() -> None:
    from resilient_s3 import InvalidUploadError
    from resilient_s3._s3.transport import signing_region as _signing_region

    access_point = {"authSchemes": [{"name": "sigv4", "signingRegion": "eu-west-1"}]}
    assert _signing_region(access_point, "us-west-2") == "eu-west-1"
    assert _signing_region(None, "us-west-2") == "us-west-2"
    with pytest.raises(InvalidUploadError, match="sigv4a"):
        _signing_region({"authSchemes": [{"name": "sigv4a"}]}, "us-west-2")


# -- classifier properties ---------------------------------------------------------------------

codes = st.one_of(st.none(), st.sampled_from(sorted(CODES)), st.text(max_size=30))
statuses = st.one_of(st.none(), st.integers(min_value=100, max_value=599))


@given(codes, statuses)
def test_a_network_failure_is_always_retried(code: str | None, status: int | None) -> None:
    assert classify(code, status, network=True).action is Action.RETRY


@given(st.sampled_from(sorted(CODES)), statuses)
def test_a_known_code_decides_whatever_the_status(code: str, status: int | None) -> None:
    assert classify(code, status) == CODES[code].verdict


@given(codes.filter(lambda c: c not in CODES), st.integers(min_value=400, max_value=499))
def test_unknown_client_errors_fail_except_429(code: str | None, status: int) -> None:
    verdict = classify(code, status)
    assert verdict.retryable is (status == 429)


@given(codes, statuses)
def test_every_retryable_verdict_has_a_cause_to_count(code: str | None, status: int | None) -> None:
    verdict = classify(code, status)
    assert verdict.cause in {
        "throttled",
        "server-error",
        "network",
        "credentials-expired",
        "invalid-token",
        "clock-skew",
        "bad-digest",
        "conflict",
        "fail",
    }
    assert (verdict.cause == "fail") is (not verdict.retryable)
