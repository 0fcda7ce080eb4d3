"""The error-budget arithmetic (report.compute), checked against numbers worked out by hand."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import pytest

from buttress.alerting.report import BudgetReport, compute

END = 1_800_000_000.0  # 2027-01-15T08:00:00Z
MIN = 60.0

# The hand-computed example: a 95 % SLO (budget 0.05) over a 1 h period, points every 10 min,
# the burn rate "now" over the last 20 min. Each point stands for the 600 s before it.
#
#   t (before END)  error ratio  events/s  events (x 600 s)  bad          kept?
#   50 min          0.00         10        6000              0            yes
#   40 min          0.02         10        6000              120          yes
#   30 min          0.50         20        12000             6000         no: maintenance
#   20 min          NaN          0         0                 -            no: no traffic
#   10 min          0.01          5        3000              30           yes (burn window)
#    0 min          0.03         10        6000              180          yes (burn window)
#
#   events = 6000 + 6000 + 3000 + 6000 = 21000; bad = 0 + 120 + 30 + 180 = 330
#   error ratio E = 330 / 21000 = 11/700 = 0.0157142857...
#   SLI = 1 - 11/700 = 689/700 = 0.9842857142...
#   consumed = E / 0.05 = 11/35 = 0.3142857...; remaining = 24/35 = 0.6857142...
#   burn now: (30 + 180) / (3000 + 6000) = 7/300; / 0.05 = 7/15 = 0.4666...
#   exhaustion = remaining x period / burn = 24/35 x 3600 / (7/15) = 1296000/245 s
#              = 5289.7959... s (about 1 h 28 min)
RATIO = {
    END - 50 * MIN: 0.00,
    END - 40 * MIN: 0.02,
    END - 30 * MIN: 0.50,
    END - 20 * MIN: math.nan,
    END - 10 * MIN: 0.01,
    END: 0.03,
}
EVENTS = {
    END - 50 * MIN: 10.0,
    END - 40 * MIN: 10.0,
    END - 30 * MIN: 20.0,
    END - 20 * MIN: 0.0,
    END - 10 * MIN: 5.0,
    END: 10.0,
}
MAINTENANCE = (END - 35 * MIN, END - 25 * MIN)


def in_maintenance(ts: dt.datetime) -> bool:
    return MAINTENANCE[0] <= ts.timestamp() < MAINTENANCE[1]


def example(**changes: Any) -> BudgetReport:
    """compute() over the worked example, with ``changes`` to its arguments."""
    args: dict[str, Any] = {
        "slo": "checkout",
        "service": "shop",
        "objective": Decimal("95"),
        "period": 3600.0,
        "end": END,
        "error_ratio": RATIO,
        "events": EVENTS,
        "excluded": in_maintenance,
        "step": 600.0,
        "burn_window": 1200.0,
    }
    args.update(changes)
    return compute(**args)


def test_the_hand_computed_example() -> None:
    """Traffic-weighted SLI, budget consumed and left, burn now and time to exhaustion match
    the worked example (maintenance and no-traffic points left out)."""
    report = example()
    assert report.events == pytest.approx(21000)
    assert report.bad_events == pytest.approx(330)
    assert report.sli == pytest.approx(689 / 700)
    assert report.error_budget == pytest.approx(0.05)
    assert report.consumed == pytest.approx(11 / 35)
    assert report.remaining == pytest.approx(24 / 35)
    assert report.burn_rate == pytest.approx(7 / 15)
    assert report.exhaustion == pytest.approx(1296000 / 245)
    assert (report.points, report.excluded_points) == (4, 1)


def test_the_maintenance_window_is_what_keeps_the_budget() -> None:
    """Without the exclusion the 30-min point (12000 events, half bad) counts: 6330 bad of
    33000, E = 0.19182 > the 0.05 budget, so the budget is overspent (exhausted now)."""
    report = example(excluded=lambda ts: False)
    assert report.bad_events == pytest.approx(6330)
    assert report.consumed == pytest.approx(6330 / 33000 / 0.05)
    assert report.remaining is not None
    assert report.remaining < 0
    assert report.exhaustion == 0.0
    assert report.excluded_points == 0


def test_excluded_is_asked_in_utc() -> None:
    """The callable gets aware UTC datetimes, one per point with traffic."""
    asked: list[dt.datetime] = []

    def record(ts: dt.datetime) -> bool:
        asked.append(ts)
        return False

    example(excluded=record)
    assert len(asked) == 5  # the NaN / no-traffic point is never asked about
    assert all(ts.tzinfo is dt.UTC for ts in asked)
    assert asked[-1] == dt.datetime(2027, 1, 15, 8, 0, tzinfo=dt.UTC)


def test_without_an_event_series_points_weigh_by_time() -> None:
    """No event rate: each kept point counts as its step. Ratios 0, 0.02, 0.01, 0.03 (the
    maintenance point excluded, the NaN one dropped): E = 0.06 / 4 = 0.015, consumed 0.3;
    burn over the last two: 0.02 / 0.05 = 0.4."""
    report = example(events=None)
    assert report.events is None
    assert report.bad_events is None
    assert report.sli == pytest.approx(0.985)
    assert report.consumed == pytest.approx(0.3)
    assert report.burn_rate == pytest.approx(0.4)
    assert report.exhaustion == pytest.approx(0.7 * 3600 / 0.4)


def test_no_traffic_gives_no_numbers_rather_than_nan() -> None:
    """A period without a single event: SLI, consumed, remaining, burn and exhaustion are
    unknown (None), never NaN."""
    report = example(events=dict.fromkeys(EVENTS, 0.0), excluded=lambda ts: False)
    assert report.sli is None
    assert report.consumed is None
    assert report.remaining is None
    assert report.burn_rate is None
    assert report.exhaustion is None
    assert report.points == 0


def test_nothing_burning_now_never_exhausts() -> None:
    """A clean last 20 min (burn 0): the budget left is never spent at this burn."""
    ratio = dict(RATIO)
    ratio[END - 10 * MIN] = ratio[END] = 0.0
    report = example(error_ratio=ratio)
    assert report.burn_rate == 0.0
    assert report.exhaustion is None
    assert report.remaining == pytest.approx(1 - 120 / 21000 / 0.05)


def test_points_outside_the_period_are_ignored() -> None:
    """A point at END - period (the period is (END - period, END]) or after END is left out."""
    ratio = {**RATIO, END - 3600.0: 1.0, END + 600.0: 1.0}
    events = {**EVENTS, END - 3600.0: 100.0, END + 600.0: 100.0}
    report = example(error_ratio=ratio, events=events)
    assert report.bad_events == pytest.approx(330)


@pytest.mark.parametrize("objective", ["0", "100", "-1"])
def test_an_objective_outside_0_100_is_refused(objective: str) -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        example(objective=Decimal(objective))
