"""The level machine with a clock of the test's own: entering after `for`, leaving only after
`cooldown` clear, one level at a time, overrides and their expiry, cumulative features and
limits, recovery predictions; and, over random oscillating inputs, never more level changes
than the cooldowns allow."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buttress.degradation.levels import Level, Levels, Trigger

CPU_Y, CPU_O = Trigger("cpu_usage", 70), Trigger("cpu_usage", 85)


def shop(hold: float = 30, cooldown: float = 120) -> Levels:
    return Levels(
        [
            Level("GREEN", limits={"orders_per_minute": 5000, "search": "full"}),
            Level("YELLOW", (CPU_Y, Trigger("health_score", 80, below=True)), hold, cooldown,
                  disable=frozenset({"recommendations", "analytics"})),
            Level("ORANGE", (CPU_O,), hold, cooldown, disable=frozenset({"exports"}),
                  limits={"orders_per_minute": 500, "search": "basic"}),
            Level("RED", (Trigger("error_rate", 20),), 0, cooldown,
                  enable_only=frozenset({"checkout"})),
        ]
    )  # fmt: skip


def test_enter_after_for_and_leave_after_cooldown_one_level_at_a_time() -> None:
    lv = shop()
    assert lv.evaluate({"cpu_usage": 90}, 0).level == "GREEN"  # held, but not for 30 s yet
    assert lv.evaluate({"cpu_usage": 90}, 29).level == "GREEN"
    state = lv.evaluate({"cpu_usage": 90}, 30)
    assert (state.level, state.changed) == ("ORANGE", True)  # straight to the worst held
    assert state.reasons == ("cpu_usage > 85",)
    assert lv.evaluate({"cpu_usage": 75}, 40).level == "ORANGE"  # ORANGE clear since 40
    assert lv.evaluate({"cpu_usage": 75}, 159).level == "ORANGE"
    assert lv.evaluate({"cpu_usage": 75}, 160).level == "YELLOW"  # YELLOW still held: stop
    assert lv.evaluate({"cpu_usage": 10}, 200).level == "YELLOW"
    assert lv.evaluate({"cpu_usage": 10}, 320).level == "GREEN"


def test_a_dip_resets_the_cooldown_and_a_blip_does_not_enter() -> None:
    lv = shop(hold=10, cooldown=60)
    lv.evaluate({"cpu_usage": 80}, 0)
    assert lv.evaluate({"cpu_usage": 80}, 10).level == "YELLOW"
    lv.evaluate({"cpu_usage": 50}, 20)
    lv.evaluate({"cpu_usage": 71}, 70)  # held again before 60 s clear: cooldown starts over
    assert lv.evaluate({"cpu_usage": 50}, 85).level == "YELLOW"
    assert lv.evaluate({"cpu_usage": 50}, 144).level == "YELLOW"
    assert lv.evaluate({"cpu_usage": 50}, 145).level == "GREEN"
    lv.evaluate({"cpu_usage": 99}, 200)
    assert lv.evaluate({"cpu_usage": 10}, 205).level == "GREEN"  # 5 s blip: below `for`


def test_health_score_triggers_below_and_missing_metrics_hold_nothing() -> None:
    lv = shop(hold=0)
    assert lv.evaluate({"health_score": 90}, 0).level == "GREEN"
    assert lv.evaluate({"health_score": 70}, 1).level == "YELLOW"
    assert lv.evaluate({}, 2).reasons == ()
    assert lv.evaluate({"cpu_usage": math.nan}, 3).reasons == ()


def test_override_wins_until_it_expires_or_is_cleared() -> None:
    lv = shop(hold=0)
    lv.set_override("ORANGE", "db failover", until=100, actor="cli:ops")
    state = lv.evaluate({"cpu_usage": 10}, 5)
    assert (state.level, state.automatic) == ("ORANGE", "GREEN")
    assert state.override is not None
    assert state.override.reason == "db failover"
    assert lv.evaluate({"cpu_usage": 75}, 50).automatic == "YELLOW"
    assert lv.state(100).level == "YELLOW"  # expired: the automatic level again
    lv.set_override("RED", "drill", until=1000)
    assert lv.clear_override() is not None
    assert lv.state(101).level == "YELLOW"
    with pytest.raises(ValueError, match="unknown level 'PURPLE'; the levels are GREEN, YELLOW"):
        lv.set_override("PURPLE", "x", 10)
    with pytest.raises(ValueError, match="needs a reason"):
        lv.set_override("RED", "  ", 10)


def test_features_and_limits_are_cumulative() -> None:
    lv = shop()
    assert lv.disabled(0) == frozenset()
    assert lv.disabled(1) == {"recommendations", "analytics"}
    assert lv.disabled(2) == {"recommendations", "analytics", "exports"}
    assert lv.disabled(3) == {"recommendations", "analytics", "exports"}  # only checkout on
    assert lv.limits(1) == {"orders_per_minute": 5000, "search": "full"}
    assert lv.limits(3) == {"orders_per_minute": 500, "search": "basic"}


def test_bad_levels_are_refused() -> None:
    with pytest.raises(ValueError, match="at least two levels"):
        Levels([Level("A")])
    with pytest.raises(ValueError, match="unique"):
        Levels([Level("A"), Level("A")])
    with pytest.raises(ValueError, match="first level \\(A\\) cannot have triggers"):
        Levels([Level("A", (CPU_Y,)), Level("B")])


def test_recovery_prediction_from_the_trend() -> None:
    lv = shop(hold=0, cooldown=60)
    for t in range(0, 60, 5):  # cpu falling 0.5/s from 99: reaches 85 at t=28, 70 at t=58
        lv.evaluate({"cpu_usage": 99 - 0.5 * t}, t)
    assert lv.automatic in ("ORANGE", "YELLOW")
    lv2 = shop(hold=0)
    for t in range(10):
        lv2.evaluate({"cpu_usage": 90 - t * 0.1}, t)
    [p] = lv2.predict(9)
    assert p.trigger == "cpu_usage > 85"
    assert p.seconds is not None
    assert 40 < p.seconds < 42  # 90 - 0.1 t = 85 at t = 50: 41 s after t = 9
    lv3 = shop(hold=0)
    for t in range(10):
        lv3.evaluate({"cpu_usage": 90 + t}, t)  # getting worse
    [worse] = lv3.predict(9)
    assert worse.seconds is None
    assert "not towards recovery" in worse.why
    lv4 = shop(hold=0)
    lv4.evaluate({"cpu_usage": 95}, 0)
    [few] = lv4.predict(0)
    assert few.seconds is None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.1, 20), st.floats(0, 100), st.floats(0, 100)),
        min_size=1,
        max_size=200,
    ),
    st.floats(1, 120),
    st.floats(0, 30),
)
def test_changes_never_exceed_what_the_cooldowns_allow(
    steps: list[tuple[float, float, float]], cooldown: float, hold: float
) -> None:
    """However the inputs oscillate, each move down needs `cooldown` of clear time (disjoint
    per level) and each move up needs a move down before it (but the first per level), so:
    changes <= 2 * sum over levels of (elapsed / cooldown + 1)."""
    lv = shop(hold=hold, cooldown=cooldown)
    now = 0.0
    changes = 0
    for dt, cpu, score in steps:
        now += dt
        changes += lv.evaluate({"cpu_usage": cpu, "health_score": score}, now).changed
    moving_levels = len(lv.levels) - 1
    assert changes <= 2 * moving_levels * (now / cooldown + 1)


def test_oscillating_faster_than_the_cooldown_enters_once_and_stays() -> None:
    lv = shop(hold=0, cooldown=60)
    changes = sum(
        lv.evaluate({"cpu_usage": 72 if t % 20 < 10 else 68}, t).changed for t in range(0, 600)
    )
    assert changes == 1
    assert lv.automatic == "YELLOW"
