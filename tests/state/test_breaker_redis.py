"""Circuit breakers sharing state through Redis: one window for every process, openings seen
everywhere within the documented bound, probes handed out once, and the failure modes."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from typing import Any, assert_type

import pytest

from buttress.resilience import CircuitBreaker, CircuitOpenError
from buttress.resilience.events import Event, StateStoreModeChanged
from buttress.state import RedisStore
from tests.conftest import OwnRedis, wait_until
from tests.resilience.test_faces import FACES, through
from tests.state.conftest import evalsha_calls


def _boom() -> None:
    raise RuntimeError("dependency down")


def _fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        with pytest.raises((RuntimeError, CircuitOpenError)):
            breaker.call(_boom)


@pytest.fixture
def pair(store: RedisStore) -> Iterator[tuple[RedisStore, RedisStore]]:
    """Two stores on one Redis: two processes' views (each with its own agent thread)."""
    other = RedisStore(store.url, prefix=store.prefix, retry_interval=0.2, sync_interval=0.05)
    yield store, other
    other.close()


SETTINGS: dict[str, Any] = {
    "minimum_calls": 4,
    "window_size": 10,
    "wait": 0.3,
    "half_open_calls": 2,
}


def test_failures_from_two_processes_fill_one_window_and_open_it_for_both(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    a = CircuitBreaker.shared(name="db", store=pair[0], **SETTINGS)
    b = CircuitBreaker.shared(name="db", store=pair[1], **SETTINGS)
    _fail(a, 2)  # neither alone reaches minimum_calls=4
    _fail(b, 2)
    wait_until(lambda: a.state == "open" and b.state == "open")
    with pytest.raises(CircuitOpenError) as caught:
        b.call(lambda: "never")
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 0.3


def test_a_time_window_is_shared_too(pair: tuple[RedisStore, RedisStore]) -> None:
    opts = {**SETTINGS, "window": "time", "window_size": 5}
    a = CircuitBreaker.shared(name="tw", store=pair[0], **opts)
    b = CircuitBreaker.shared(name="tw", store=pair[1], **opts)
    for _ in range(3):
        a.call(lambda: None)
    _fail(b, 3)  # 3 of 6 calls failed: 50%
    wait_until(lambda: a.state == "open" and b.state == "open")


def test_successes_keep_it_closed_and_cost_no_round_trip(store: RedisStore) -> None:
    breaker = CircuitBreaker.shared(name="hot", store=store, **SETTINGS)
    breaker.sync()
    before = evalsha_calls(store.url)
    rounds = store.agent.rounds
    for _ in range(5000):
        breaker.call(lambda: None)
    breaker.sync()
    after = evalsha_calls(store.url)
    # one script per sync round (the agent's, and ours), none per call
    assert after - before <= store.agent.rounds - rounds + 1
    assert breaker.metrics()["calls"] >= 4900  # counted in batches (a rare increment may race)
    assert breaker.state == "closed"


def test_half_open_probes_are_handed_out_once_across_processes(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    a = CircuitBreaker.shared(name="probe", store=pair[0], **SETTINGS)
    b = CircuitBreaker.shared(name="probe", store=pair[1], **SETTINGS)
    _fail(a, 4)
    wait_until(lambda: b.state == "open")
    time.sleep(0.35)
    admitted = 0
    blocked = []
    for breaker in (a, b, a, b, a):  # probes that do not finish: only 2 may start, in total
        try:
            breaker._admit()
            admitted += 1
        except CircuitOpenError as exc:
            blocked.append(exc)
    assert admitted == 2
    assert len(blocked) == 3


def test_probe_successes_close_it_everywhere_and_a_failed_probe_reopens_it_for_longer(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    opts = {**SETTINGS, "wait_multiplier": 2.0}
    a = CircuitBreaker.shared(name="heal", store=pair[0], **opts)
    b = CircuitBreaker.shared(name="heal", store=pair[1], **opts)
    _fail(a, 4)
    wait_until(lambda: b.state == "open")
    time.sleep(0.35)
    _fail(b, 1)  # both probes fail (one per process): open again, for 0.6 s this time
    _fail(a, 1)
    wait_until(lambda: a.state == "open")
    with pytest.raises(CircuitOpenError) as caught:
        a.call(lambda: None)
    assert caught.value.retry_after is not None
    assert 0.3 < caught.value.retry_after <= 0.6
    time.sleep(0.65)
    assert a.call(lambda: 1) == 1
    assert b.call(lambda: 2) == 2
    wait_until(lambda: a.state == "closed" and b.state == "closed")


def test_manual_states_reach_every_process(pair: tuple[RedisStore, RedisStore]) -> None:
    a = CircuitBreaker.shared(name="manual", store=pair[0], **SETTINGS)
    b = CircuitBreaker.shared(name="manual", store=pair[1], **SETTINGS)
    for action, expected in (
        (a.force_open, "forced_open"),
        (b.disable, "disabled"),
        (a.force_closed, "forced_closed"),
        (b.reset, "closed"),
    ):
        action()
        wait_until(lambda expected=expected: a.state == expected and b.state == expected)  # type: ignore[misc]
    a.force_open()
    wait_until(lambda: b.state == "forced_open")
    with pytest.raises(CircuitOpenError):
        b.call(lambda: None)


def test_a_missed_notice_is_caught_up_by_the_next_sync(pair: tuple[RedisStore, RedisStore]) -> None:
    a = CircuitBreaker.shared(name="deaf", store=pair[0], **SETTINGS)
    b = CircuitBreaker.shared(name="deaf", store=pair[1], **SETTINGS)
    b.notice = lambda fields: None  # type: ignore[method-assign]  # pub/sub lost
    a.force_open()
    took = wait_until(lambda: b.state == "forced_open", timeout=2.0)
    assert took <= 1.0  # sync_interval is 0.05 s here; the bound is one interval plus a round trip


def test_a_new_process_sees_a_breaker_already_open(pair: tuple[RedisStore, RedisStore]) -> None:
    CircuitBreaker.shared(name="early", store=pair[0], **SETTINGS).force_open()
    late = CircuitBreaker.shared(name="early", store=pair[1], **SETTINGS)
    assert late.state == "forced_open"  # read at construction, before any call


# -- another process, measured ------------------------------------------------------------------


def _watch(url: str, prefix: str, ready: Any, out: Any) -> None:
    st = RedisStore(url, prefix=prefix)
    breaker = CircuitBreaker.shared(name="watched", store=st, **SETTINGS)
    first = breaker.state  # read once: connected and watching before it says ready
    assert first == "closed"
    ready.set()
    while breaker.state != "forced_open":
        time.sleep(0.0002)
    out.put(time.time())
    st.close()


def test_forced_open_in_one_process_is_open_in_another_within_the_bound(
    store: RedisStore,
) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, out = ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_watch, args=(store.url, store.prefix, ready, out))
    proc.start()
    assert ready.wait(30)
    breaker = CircuitBreaker.shared(name="watched", store=store, **SETTINGS)
    sent = time.time()
    breaker.force_open()
    seen = out.get(timeout=10)
    proc.join(10)
    delay = seen - sent
    print(f"\npropagation to another process: {delay * 1000:.2f} ms")
    # documented bound: sync_interval (0.1 s by default) + one command timeout (0.25 s)
    assert 0 <= delay <= 0.35


# -- when Redis fails ---------------------------------------------------------------------------


def _faulty(server: OwnRedis) -> RedisStore:
    return RedisStore(
        server.url,
        prefix="cbf",
        command_timeout=0.2,
        connect_timeout=0.2,
        retry_interval=0.2,
        sync_interval=0.05,
    )


def test_failures_recorded_as_the_local_mode_starts_count(own_redis: OwnRedis) -> None:
    """on_store_failure=local: calls made the moment the failure mode becomes visible (here
    from the mode-change event itself) are judged locally and open the breaker; none is lost
    to the local window being set up after them."""
    store = _faulty(own_redis)
    breaker = CircuitBreaker.shared(name="edge", store=store, on_store_failure="local", **SETTINGS)
    raised: list[str] = []

    def on_event(event: Event) -> None:
        if isinstance(event, StateStoreModeChanged) and event.new == "local":
            for _ in range(4):
                try:
                    breaker.call(_boom)
                except (RuntimeError, CircuitOpenError) as exc:
                    raised.append(type(exc).__name__)

    breaker.add_listener(on_event)
    own_redis.stop()
    wait_until(lambda: len(raised) == 4)
    assert raised == ["RuntimeError"] * 4
    assert breaker.state == "open"
    store.close()


@pytest.mark.parametrize("mode", ["local", "allow", "deny"])
def test_failure_modes_and_recovery(own_redis: OwnRedis, mode: str) -> None:
    store = _faulty(own_redis)
    breaker = CircuitBreaker.shared(name="m", store=store, on_store_failure=mode, **SETTINGS)  # type: ignore[arg-type]
    assert breaker.store_mode == "shared"
    own_redis.stop()
    wait_until(lambda: breaker.store_mode == mode)
    if mode == "local":
        _fail(breaker, 4)  # judged by this process alone
        assert breaker.state == "open"
    elif mode == "allow":
        _fail(breaker, 10)
        assert breaker.call(lambda: "ran") == "ran"
    else:
        with pytest.raises(CircuitOpenError):
            breaker.call(lambda: "never")
    own_redis.start()
    wait_until(lambda: breaker.store_mode == "shared", timeout=10)
    wait_until(lambda: breaker.state == "closed")  # the shared state (a fresh Redis: closed) rules
    assert breaker.call(lambda: "ok") == "ok"
    store.close()


def test_deny_rejects_from_the_moment_the_failure_mode_shows(own_redis: OwnRedis) -> None:
    """A call made while the breaker enters `deny` (here: from the mode-change event, which
    fires inside that transition) is rejected, never let through the closed fast path."""
    store = _faulty(own_redis)
    breaker = CircuitBreaker.shared(name="race", store=store, on_store_failure="deny", **SETTINGS)
    outcomes: list[str] = []

    def during_transition(event: object) -> None:
        if isinstance(event, StateStoreModeChanged) and event.new == "deny":
            try:
                breaker.call(lambda: "ran")
                outcomes.append("ran")
            except CircuitOpenError:
                outcomes.append("rejected")

    breaker.add_listener(during_transition)
    assert breaker.call(lambda: "ok") == "ok"  # closed, fast path in use
    own_redis.stop()
    wait_until(lambda: bool(outcomes))
    assert outcomes == ["rejected"]
    store.close()


@pytest.mark.parametrize("face", FACES)
def test_every_face_of_a_shared_breaker_counts_its_calls(store: RedisStore, face: str) -> None:
    """Successes on the lock-free path reach the shared window from every face: a pipeline
    stage used to take the in-process fast path and never counted them."""
    breaker = CircuitBreaker.shared(name=f"faces-{face}", store=store, **SETTINGS)

    def shared_window() -> tuple[float, float]:
        breaker.sync()  # the agent's own round may answer last with older totals: ask again
        return breaker.metrics()["calls"], breaker.metrics()["failures"]

    for _ in range(5):
        assert through(breaker, face, lambda: "ok") == "ok"
    wait_until(lambda: shared_window() == (5, 0), "5 calls in the shared window", timeout=5.0)
    with pytest.raises(RuntimeError):
        through(breaker, face, _boom)
    wait_until(lambda: shared_window() == (6, 1), "6 calls, 1 failure", timeout=5.0)
    breaker.close()


def test_the_plain_constructors_refuse_a_shared_store(store: RedisStore) -> None:
    """CircuitBreaker/Bulkhead/RetryBudget(store=<shared>) used to turn into their shared
    subclass in __new__; the choice is now explicit, and the error names the constructor."""
    from buttress.resilience import Bulkhead, RetryBudget

    for build, hint in (
        (lambda: CircuitBreaker(name="x", store=store), "CircuitBreaker.shared"),
        (lambda: Bulkhead(name="x", store=store), "Bulkhead.shared"),
        (lambda: RetryBudget(name="x", store=store), "RetryBudget.shared"),
    ):
        with pytest.raises(TypeError, match=hint):
            build()


def test_shared_returns_the_documented_types(store: RedisStore) -> None:
    """shared() returns the exported shared types; without a shared store it is an error."""
    from buttress.resilience import (
        Bulkhead,
        RetryBudget,
        SharedBulkhead,
        SharedCircuitBreaker,
        SharedRetryBudget,
    )
    from buttress.state import MemoryStore

    breaker = CircuitBreaker.shared(name="typed", store=store)
    bulkhead = Bulkhead.shared(name="typed", store=store)
    budget = RetryBudget.shared(name="typed", store=store)
    assert_type(breaker, SharedCircuitBreaker)  # checked by mypy: the real type, not the base
    assert_type(bulkhead, SharedBulkhead)
    assert_type(budget, SharedRetryBudget)
    assert isinstance(breaker, SharedCircuitBreaker)
    assert isinstance(bulkhead, SharedBulkhead)
    assert isinstance(budget, SharedRetryBudget)
    breaker.close()
    bulkhead.close()
    for build in (
        lambda: CircuitBreaker.shared(name="m", store=MemoryStore()),
        lambda: Bulkhead.shared(name="m", store=MemoryStore()),
        lambda: RetryBudget.shared(name="m", store=MemoryStore()),
    ):
        with pytest.raises(ValueError, match="must be a shared store"):
            build()
