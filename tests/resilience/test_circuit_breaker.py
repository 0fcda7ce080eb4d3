"""Circuit breaker: windows, thresholds, open/half-open/closed, manual states, events."""

from __future__ import annotations

import pytest

from buttress.resilience import CircuitBreaker, CircuitOpenError, events
from tests.resilience.conftest import FakeClock


class Boom(Exception):
    pass


def fail() -> None:
    raise Boom


def ok() -> str:
    return "ok"


def _missing() -> None:
    raise KeyError("x")


def run(breaker: CircuitBreaker, outcomes: str) -> None:
    """Feed outcomes: 's' success, 'f' failure."""
    for o in outcomes:
        if o == "s":
            breaker.call(ok)
        else:
            with pytest.raises(Boom):
                breaker.call(fail)


def state(breaker: CircuitBreaker) -> str:
    """The breaker's state as a plain string (keeps the type checker from over-narrowing)."""
    return breaker.state


def make(clock: FakeClock, **kw: object) -> CircuitBreaker:
    settings: dict[str, object] = {
        "minimum_calls": 4,
        "window_size": 4,
        "wait": 10.0,
        "half_open_calls": 2,
    }
    settings.update(kw)
    return CircuitBreaker(name="db", clock=clock, **settings)  # type: ignore[arg-type]


def test_opens_at_failure_rate_after_minimum_calls(clock: FakeClock) -> None:
    """It judges only after minimum_calls, and opens when the failure rate reaches the threshold."""
    breaker = make(clock)
    run(breaker, "fff")
    assert state(breaker) == "closed"  # 3 calls < minimum 4
    run(breaker, "s")
    assert state(breaker) == "closed"  # a success never trips it
    run(breaker, "f")  # window f f s f: 75% >= 50% with 4 calls
    assert state(breaker) == "open"


def test_below_threshold_stays_closed(clock: FakeClock) -> None:
    """A failure rate under the threshold keeps the breaker closed."""
    breaker = make(clock, window_size=10, minimum_calls=10, failure_rate=50)
    run(breaker, "ssssssfff" + "s")
    run(breaker, "f")  # window: last 10 = sssssfff s f -> 4/10
    assert state(breaker) == "closed"
    assert breaker.metrics()["failure_rate"] == 40.0


def test_open_rejects_with_retry_after(clock: FakeClock) -> None:
    """An open breaker rejects without calling, telling how long until half-open."""
    breaker = make(clock)
    run(breaker, "ffff")
    clock.advance(4)
    called = []
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(lambda: called.append(1))
    assert called == []
    assert info.value.retry_after == pytest.approx(6.0)
    assert info.value.policy == "db"
    assert "circuit breaker 'db' is open" in str(info.value)


def test_half_open_probes_close_on_success(clock: FakeClock) -> None:
    """After the wait, probe calls run; enough successes close the breaker."""
    breaker = make(clock)
    run(breaker, "ffff")
    clock.advance(10)
    assert state(breaker) == "half_open"
    run(breaker, "ss")
    assert state(breaker) == "closed"


def test_half_open_probe_failures_reopen(clock: FakeClock) -> None:
    """Probes failing at the threshold rate reopen the breaker for another wait."""
    breaker = make(clock)
    run(breaker, "ffff")
    clock.advance(10)
    run(breaker, "sf")  # 1/2 = 50% >= 50%
    assert state(breaker) == "open"


def test_half_open_limits_probes(clock: FakeClock) -> None:
    """Only half_open_calls probes may be in flight; others are rejected."""
    breaker = make(clock, half_open_calls=1)
    run(breaker, "ffff")
    clock.advance(10)
    with breaker, pytest.raises(CircuitOpenError):
        breaker.call(ok)
    assert state(breaker) == "closed"


def test_exponential_wait_grows_to_cap(clock: FakeClock) -> None:
    """Each consecutive opening waits longer, up to max_wait."""
    breaker = make(clock, wait_multiplier=2.0, max_wait=25.0, half_open_calls=1)
    run(breaker, "ffff")
    waits = []
    for _ in range(4):
        with pytest.raises(CircuitOpenError) as info:
            breaker.call(ok)
        assert info.value.retry_after is not None
        waits.append(info.value.retry_after)
        clock.advance(info.value.retry_after)
        run(breaker, "f")  # the probe fails: open again, longer
    assert waits == [10.0, 20.0, 25.0, 25.0]


def test_slow_calls_open_the_breaker(clock: FakeClock) -> None:
    """Calls slower than slow_call_duration count toward the slow-call rate."""
    breaker = make(clock, slow_call_duration=1.0, slow_call_rate=50)

    def slow() -> None:
        clock.advance(2)

    for _ in range(4):
        breaker.call(slow)
    assert state(breaker) == "open"


def test_failure_if_result(clock: FakeClock) -> None:
    """A result can count as a failure."""
    breaker = make(clock, failure_if_result=lambda r: r == 503)
    for _ in range(4):
        assert breaker.call(lambda: 503) == 503
    assert state(breaker) == "open"


def test_ignored_and_unrecorded_exceptions(clock: FakeClock) -> None:
    """Ignored exceptions count as nothing; exceptions outside record_on count as success."""
    breaker = make(clock, ignore_on=KeyError, record_on=Boom)
    for _ in range(5):
        with pytest.raises(KeyError):
            breaker.call(_missing)
    assert breaker.metrics()["calls"] == 0
    for _ in range(4):
        with pytest.raises(ValueError, match="invalid literal"):
            breaker.call(lambda: int("x"))
    assert breaker.metrics() == {
        "calls": 4,
        "failures": 0,
        "slow_calls": 0,
        "failure_rate": 0.0,
        "slow_call_rate": 0.0,
    }


def test_clean_fast_path_still_records_failures(clock: FakeClock) -> None:
    """After a clean, full window (the lock-free path), failures are still seen and trip it."""
    breaker = make(clock)
    run(breaker, "ssss")
    assert breaker._fast_gen >= 0
    run(breaker, "ff")
    assert state(breaker) == "open"


def test_time_window_forgets_old_calls(clock: FakeClock) -> None:
    """A time-based window only judges the calls of the last window_size seconds."""
    breaker = make(clock, window="time", window_size=10, minimum_calls=4)
    run(breaker, "fff")
    clock.advance(11)
    run(breaker, "sss")
    run(breaker, "f")  # only 1 failure in the last 10 s: 1/4
    assert state(breaker) == "closed"
    assert breaker.metrics()["calls"] == 4


def test_manual_states(clock: FakeClock) -> None:
    """force_open rejects, force_closed never trips, disable records nothing, reset closes."""
    breaker = make(clock)
    breaker.force_open()
    with pytest.raises(CircuitOpenError, match=r"is forced open \(until it is reset\)") as info:
        breaker.call(ok)
    assert info.value.forced
    assert info.value.retry_after is None  # no time is known: not infinity
    clock.advance(1000)
    assert state(breaker) == "forced_open"
    breaker.force_closed()
    run(breaker, "ffff")
    assert state(breaker) == "forced_closed"
    assert breaker.metrics()["failures"] == 4
    breaker.disable()
    run(breaker, "ffff")
    assert state(breaker) == "disabled"
    breaker.reset()
    assert state(breaker) == "closed"
    assert breaker.metrics()["calls"] == 0


def test_stale_outcome_is_ignored(clock: FakeClock) -> None:
    """An outcome of a call admitted before a transition does not count after it."""
    breaker = make(clock, half_open_calls=1)
    run(breaker, "ffff")
    clock.advance(10)
    with breaker:  # the probe
        breaker.reset()  # state changes while the probe runs
    assert breaker.metrics()["calls"] == 0


def test_state_change_events(clock: FakeClock) -> None:
    """Every transition reaches listeners, with old and new states and a reason."""
    seen: list[events.Event] = []
    breaker = make(clock, listeners=(seen.append,))
    run(breaker, "ffff")
    with pytest.raises(CircuitOpenError):
        breaker.call(ok)
    clock.advance(10)
    run(breaker, "ss")
    changes = [(e.old, e.new) for e in seen if isinstance(e, events.CircuitStateChanged)]
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert any(isinstance(e, events.CallRejected) and e.kind == "circuit_open" for e in seen)


def test_listener_errors_never_break_calls(clock: FakeClock) -> None:
    """A listener that raises is logged and ignored."""

    def bad(event: events.Event) -> None:
        raise RuntimeError("listener bug")

    breaker = make(clock, listeners=(bad,))
    run(breaker, "ffff")
    assert state(breaker) == "open"


def test_decorator_and_context_manager(clock: FakeClock) -> None:
    """The decorator and the with-block record outcomes like call()."""
    breaker = make(clock)

    @breaker
    def guarded(x: int) -> int:
        if x < 0:
            raise Boom
        return x * 2

    assert guarded(2) == 4
    assert guarded.__name__ == "guarded"
    for _ in range(2):
        with pytest.raises(Boom):
            guarded(-1)
    with pytest.raises(Boom), breaker:
        raise Boom
    assert state(breaker) == "open"


@pytest.mark.anyio
async def test_async_twin(clock: FakeClock) -> None:
    """acall and the async decorator behave like the sync faces; cancellation is not a failure."""
    import asyncio

    breaker = make(clock)

    @breaker
    async def guarded(fail_: bool) -> str:
        if fail_:
            raise Boom
        return "ok"

    assert await guarded(False) == "ok"
    task = asyncio.ensure_future(breaker.acall(asyncio.sleep, 10))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.metrics()["failures"] == 0
    for _ in range(3):
        with pytest.raises(Boom):
            await guarded(True)
    assert state(breaker) == "open"
    with pytest.raises(CircuitOpenError):
        await guarded(False)
    with pytest.raises(CircuitOpenError):
        async with breaker:  # rejected at entry
            pass


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"failure_rate": 0}, "failure_rate=0"),
        ({"failure_rate": 101}, "failure_rate=101"),
        ({"slow_call_rate": -1}, "slow_call_rate=-1"),
        ({"window_size": 0}, "window_size=0"),
        ({"minimum_calls": 0}, "minimum_calls=0"),
        ({"wait": 0}, "wait=0"),
        ({"wait": -5}, "wait=-5"),
        ({"window": "sliding"}, "window='sliding'"),
        ({"half_open_calls": 0}, "half_open_calls=0"),
        ({"wait_multiplier": 0.5}, "wait_multiplier=0.5"),
        ({"slow_call_duration": 0}, "slow_call_duration=0"),
    ],
)
def test_bad_settings_fail_at_construction(kwargs: dict[str, object], fragment: str) -> None:
    """Invalid settings are rejected when the breaker is built, naming the field."""
    with pytest.raises(ValueError, match=fragment):
        CircuitBreaker(**kwargs)  # type: ignore[arg-type]


def test_unknown_setting_is_a_type_error() -> None:
    """A misspelled setting is a TypeError naming it."""
    with pytest.raises(TypeError, match="failure_ratio"):
        CircuitBreaker(failure_ratio=50)


def test_failure_on_fast_path_ages_out_of_the_window(clock: FakeClock) -> None:
    """A failure seen on the lock-free path leaves it: later successes push the failure out."""
    breaker = make(clock)
    run(breaker, "ssss")
    run(breaker, "f")
    run(breaker, "ssss")
    assert breaker.metrics()["failures"] == 0
    assert breaker._fast_gen >= 0
