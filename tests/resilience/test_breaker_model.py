"""Model-based test: the breaker matches a plain reference state machine on any sequence."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from buttress.resilience import CircuitBreaker, CircuitOpenError
from tests.resilience.conftest import FakeClock

SIZE, MINIMUM, RATE, WAIT, PROBES = 5, 3, 60.0, 10.0, 2


class Reference:
    """The count-window breaker of resilience4j, written as plainly as possible."""

    def __init__(self) -> None:
        self.state = "closed"
        self.window: list[bool] = []  # True = failure
        self.open_until = 0.0
        self.probes: list[bool] = []
        self.in_flight = 0  # admitted half-open probes not yet recorded

    def admit(self, now: float) -> bool:
        if self.state == "open" and now >= self.open_until:
            self.state, self.probes, self.in_flight = "half_open", [], 0
        if self.state == "open":
            return False
        if self.state == "half_open":
            if len(self.probes) + self.in_flight >= PROBES:
                return False
            self.in_flight += 1
        return True

    def record(self, failed: bool, now: float) -> None:
        if self.state == "half_open":
            self.in_flight -= 1
            self.probes.append(failed)
            if len(self.probes) == PROBES:
                if 100 * sum(self.probes) >= RATE * PROBES:
                    self.state, self.open_until = "open", now + WAIT
                else:
                    self.state, self.window = "closed", []
            return
        self.window = ([*self.window, failed])[-SIZE:]
        if (
            failed
            and len(self.window) >= MINIMUM
            and 100 * sum(self.window) >= RATE * len(self.window)
        ):
            self.state, self.open_until = "open", now + WAIT


class BreakerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.breaker = CircuitBreaker(
            window_size=SIZE,
            minimum_calls=MINIMUM,
            failure_rate=RATE,
            wait=WAIT,
            half_open_calls=PROBES,
            clock=self.clock,
        )
        self.model = Reference()

    def _call(self, failed: bool) -> None:
        admitted = self.model.admit(self.clock.now)

        def fn() -> None:
            if failed:
                raise ValueError

        try:
            self.breaker.call(fn)
            assert admitted, "breaker let a call through that the model rejects"
        except CircuitOpenError:
            assert not admitted, "breaker rejected a call that the model admits"
            return
        except ValueError:
            assert admitted
        self.model.record(failed, self.clock.now)

    @rule()
    def success(self) -> None:
        self._call(False)

    @rule()
    def failure(self) -> None:
        self._call(True)

    @rule(seconds=st.sampled_from([0.5, 3.0, 10.0, 25.0]))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: self.model.state != "open")
    @rule(inner_fails=st.booleans())
    def overlapping_calls(self, inner_fails: bool) -> None:
        """A call held open in a with-block while another call runs and ends first."""
        admitted = self.model.admit(self.clock.now)
        try:
            with self.breaker:
                assert admitted, "breaker admitted a with-block the model rejects"
                self._call(inner_fails)
        except CircuitOpenError:
            assert not admitted, "breaker rejected a with-block the model admits"
            return
        self.model.record(False, self.clock.now)

    @invariant()
    def same_state(self) -> None:
        model_state = self.model.state
        if model_state == "open" and self.clock.now >= self.model.open_until:
            model_state = "half_open"
        assert self.breaker.state == model_state


BreakerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestBreakerModel = BreakerMachine.TestCase
