"""The bridge from the policies' events to the domain event bus: off unless opened, out of the
policies' path while nobody on the bus listens, forwarding only the rarer events, nested
handles, the `resilience.events_to_bus` flag; and no module but resilience/events.py reads
that module's private globals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import buttress
from buttress import events as bus
from buttress.config import load_text
from buttress.resilience import CircuitBreaker, CircuitOpenError, Fallback, Retry, events, registry
from tests.resilience.conftest import FakeClock


class Boom(Exception):
    pass


def fail() -> None:
    raise Boom


@pytest.fixture(autouse=True)
def no_bridge_left() -> Iterator[None]:
    yield
    registry.configure(None)
    assert not events.bridged(), "a test left the bridge open"
    assert events._forward not in events.global_listeners


def trip(clock: FakeClock) -> CircuitBreaker:
    """A breaker opened by two failures, then asked once more (a rejection)."""
    breaker = CircuitBreaker(name="db", minimum_calls=2, window_size=2, wait=10.0, clock=clock)
    for _ in range(2):
        with pytest.raises(Boom):
            breaker.call(fail)
    with pytest.raises(CircuitOpenError):
        breaker.call(fail)
    return breaker


def test_without_the_bridge_the_bus_hears_nothing(clock: FakeClock) -> None:
    got: list[bus.DomainEvent] = []
    with bus.subscribe(bus.DomainEvent, got.append):
        trip(clock)
    assert got == []


def test_an_open_bridge_stays_out_of_the_path_until_someone_subscribes(clock: FakeClock) -> None:
    before = events.global_listeners
    with events.bridge():
        assert events.global_listeners == before  # nil cost: nothing added to the policies
        assert not events.bridged()
        trip(clock)  # reported to no one
        got: list[events.CircuitStateChanged] = []
        with bus.subscribe(events.CircuitStateChanged, got.append):
            assert events.bridged()
            assert events.global_listeners == (*before, events._forward)
            trip(clock)
        assert not events.bridged()  # the last subscriber left: out of the path again
        assert events.global_listeners == before
    assert [(e.policy, e.old, e.new) for e in got] == [("db", "closed", "open")]


def test_the_bridge_forwards_the_rare_events_only(clock: FakeClock) -> None:
    got: list[bus.DomainEvent] = []
    with events.bridge(), bus.subscribe(bus.DomainEvent, got.append):
        trip(clock)
        retry = Retry(attempts=2, delay=0.1, jitter="none", clock=clock, sleep=clock.sleep)
        with pytest.raises(Boom):
            retry.call(fail)
        assert Fallback(Fallback.value(7)).call(fail) == 7
    kinds = [type(e).__name__ for e in got]
    assert kinds == [
        "CircuitStateChanged",
        "CallRejected",
        "RetryGaveUp",  # its RetryScheduled stays with the policy's own listeners
        "FallbackUsed",
    ]
    assert all(type(e) in events.BRIDGED for e in got)
    rejected = got[1]
    assert isinstance(rejected, events.CallRejected)
    assert (rejected.policy, rejected.kind) == ("db", "circuit_open")


def test_bridges_nest_and_close_once(clock: FakeClock) -> None:
    got: list[events.CallRejected] = []
    with bus.subscribe(events.CallRejected, got.append):
        outer = events.bridge()
        inner = events.bridge()
        inner.close()
        inner.close()  # harmless: the outer one still holds it open
        assert events.bridged()
        trip(clock)
        outer.close()
        assert not events.bridged()
        trip(clock)
    assert len(got) == 1


def test_the_policies_own_listeners_still_get_everything(clock: FakeClock) -> None:
    """The bridge adds to the global listeners; a policy's listeners and events.subscribe
    are untouched."""
    mine: list[events.Event] = []
    everyone: list[events.Event] = []
    events.subscribe(everyone.append)
    try:
        with events.bridge(), bus.subscribe(events.CircuitStateChanged, lambda e: None):
            breaker = CircuitBreaker(
                name="db", minimum_calls=2, window_size=2, clock=clock, listeners=(mine.append,)
            )
            for _ in range(2):
                with pytest.raises(Boom):
                    breaker.call(fail)
    finally:
        events.unsubscribe(everyone.append)
    assert [type(e).__name__ for e in mine] == ["CircuitStateChanged"]
    assert [type(e).__name__ for e in everyone] == ["CircuitStateChanged"]


def test_events_to_bus_in_the_configuration_opens_the_bridge(clock: FakeClock) -> None:
    text = (
        "resilience:\n  events_to_bus: {on}\n"
        "  policies:\n    db: {{retry: {{attempts: 2, delay: 0s}}}}\n"
    )
    got: list[events.RetryGaveUp] = []
    with bus.subscribe(events.RetryGaveUp, got.append):
        registry.configure(load_text(text.format(on="false"), env={}))
        assert not events.bridged()
        registry.configure(load_text(text.format(on="true"), env={}))
        assert events.bridged()
        with pytest.raises(Boom):
            buttress.resilience.policy("db").call(fail)
        registry.configure(None)  # forgetting the registry closes its bridge
        assert not events.bridged()
    assert [(e.policy, e.attempts) for e in got] == [("db.retry", 2)]


def test_no_module_reads_the_private_globals_of_resilience_events() -> None:
    src = Path(buttress.__file__).parent
    own = src / "resilience" / "events.py"
    private = re.compile(r"\bevents\._[a-z]\w*")
    found = [
        f"{path.relative_to(src)}:{n}: {line.strip()}"
        for path in sorted(src.rglob("*.py"))
        if path != own
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if private.search(line)
    ]
    assert found == []
