"""Generated ``promtool test rules`` files for each SLO: synthetic series through the SLO's own
windows, metadata and burn-rate alerts.

A user's SLI is arbitrary PromQL, so no synthetic series can be made to match it in general.
The tests therefore run the SLO's rules with its SLI replaced by a ratio over one synthetic
counter, ``slo_test_requests_total{result="ok"|"error"}`` (the *fixture*,
``slo/tests/<name>.fixture.yml``: every window, threshold, guard, label and annotation exactly
as generated, only the SLI's leaf query differs). The user's own queries are checked by
``promtool check rules`` (``buttress alerts check``).

Scenarios (one ``tests:`` entry each, series every minute, rules evaluated every minute):

- ``fast burn``: clean traffic for the longest long window, then errors at 20x the budget
  (2 % for a 99.9 % SLO): the fastest page is quiet just before ``long x threshold / error
  ratio (+ for)`` after the errors start (:func:`detection_seconds`, the documented time), and
  fires at the first evaluation after it;
- ``half burn``: errors at 0.5x the budget for twice the longest short window: no alert at
  any hour;
- ``zero traffic``: counters that never move (a 0/0 ratio): no alert; with ``min_events``
  above 1, a single failed request alone is no alert either;
- ``tier <name>``: for every tier, a history and a burst chosen so that this tier's window
  pair fires while the other tiers' do not (when the tiers' windows and factors allow it; a
  tier whose state at the checked time is too close to its threshold is not asserted).

Which alerts fire at a checked time is predicted by :func:`ratio` (errors over events between
the window's first and last samples, as ``rate()`` over both counters gives it), with a
:func:`margin` around each threshold (and 10 % around the low-traffic guard): a tier inside
the margin is left unasserted rather than guessed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from buttress.alerting import promql
from buttress.alerting import slo as slo_rules

if TYPE_CHECKING:
    from buttress.alerting.generate import GeneratedFile
    from buttress.alerting.slo import SloPlan, Tier

__all__ = [
    "FAST_BURN",
    "FIXTURE_SUFFIX",
    "HALF_BURN",
    "METRIC",
    "Scenario",
    "detection_seconds",
    "fixture_path",
    "generate",
    "scenarios",
    "test_path",
]

METRIC = "slo_test_requests_total"
FIXTURE_SUFFIX = ".fixture.yml"
STEP = 60  # seconds between samples
EVAL = 300  # seconds between rule evaluations (a multiple of STEP); checks fall on them
PER_EVAL = EVAL // STEP
TRAFFIC = Decimal(100)  # events per step
FAST_BURN = Decimal(20)
HALF_BURN = Decimal("0.5")
MARGIN = 0.1

State = Literal["firing", "quiet", "unknown"]


@dataclass(frozen=True, slots=True)
class Scenario:
    """Synthetic traffic: ``segments`` of (steps, error ratio), after a first sample at 0;
    ``checks`` are (step, tier name, expected state) pairs."""

    name: str
    segments: tuple[tuple[int, Decimal], ...]
    checks: tuple[tuple[int, str, State], ...]
    traffic: Decimal = TRAFFIC

    @property
    def steps(self) -> int:
        return sum(n for n, _ in self.segments)


def fixture_path(p: SloPlan) -> str:
    return f"slo/tests/{p.slo.name}{FIXTURE_SUFFIX}"


def test_path(p: SloPlan) -> str:
    return f"slo/tests/{p.slo.name}.test.yml"


def detection_seconds(tier: Tier, budget: Decimal, error_ratio: Decimal) -> float:
    """The documented time for ``tier`` to fire after errors at ``error_ratio`` start on clean
    traffic: its long window's ratio reaches the threshold after long x threshold / ratio
    (the short window's sooner), then ``for``."""
    threshold = tier.factor * budget
    return float(Decimal(tier.long) * threshold / error_ratio) + (tier.for_ or 0)


# -- the model -------------------------------------------------------------------------------


class _Model:
    """A scenario's counters in closed form: errors and events up to a step."""

    __slots__ = ("segments",)

    def __init__(self, s: Scenario) -> None:
        segments: list[tuple[int, int, float, float]] = []  # (first step, steps, errors, events)
        first, traffic = 0, float(s.traffic)
        for steps, r in s.segments:
            segments.append((first, steps, traffic * float(r), traffic))
            first += steps
        self.segments = segments

    def counts(self, k: int) -> tuple[float, float]:
        errors = events = 0.0
        for first, steps, e, t in self.segments:
            n = min(max(k - first, 0), steps)
            errors += e * n
            events += t * n
        return errors, events

    def window(self, k: int, window: int) -> tuple[float, float]:
        """Errors and events between the window's first sample and step ``k``."""
        a = max(0, k - window // STEP)
        e1, t1 = self.counts(k)
        e0, t0 = self.counts(a)
        return e1 - e0, t1 - t0


def ratio(model: _Model, k: int, window: int) -> float | None:
    """The error ratio over ``window`` seconds at step ``k`` (None: no events, a NaN)."""
    errors, events = model.window(k, window)
    return None if events <= 0 else errors / events


def margin(window: int) -> float:
    """How far from a threshold the model's ratio must be to be trusted over ``window``: 2 %,
    plus one sample's share of the window (where ``rate()`` starts, inclusive in Prometheus 2,
    exclusive in 3, moves the ratio by up to that much)."""
    return 0.02 + STEP / window


def _condition(threshold: float, guard: float, tier: Tier, model: _Model, k: int) -> State:
    _, events = model.window(k, tier.long)
    pairs = [(ratio(model, k, w), margin(w)) for w in (tier.long, tier.short)]
    if events <= guard * (1 - MARGIN) or any(r is None for r, _ in pairs):
        return "quiet"
    if any(r is not None and r <= threshold * (1 - m) for r, m in pairs):
        return "quiet"
    if events >= guard * (1 + MARGIN) and all(
        r is not None and r >= threshold * (1 + m) for r, m in pairs
    ):
        return "firing"
    return "unknown"


def predict(key: _Key, tier: Tier, model: _Model, k: int) -> State:
    """``tier``'s alert at step ``k``: firing only when its condition held for ``for``."""
    threshold, guard = float(tier.factor * key.budget), float(key.guard)
    held = math.ceil((tier.for_ or 0) / EVAL) * PER_EVAL
    if k - held < 0:
        return "quiet"
    states = [
        _condition(threshold, guard, tier, model, j) for j in range(k - held, k + 1, PER_EVAL)
    ]
    if "quiet" in states:
        return "quiet"
    return "firing" if all(s == "firing" for s in states) else "unknown"


@dataclass(frozen=True, slots=True)
class _Key:
    """What the scenarios depend on (SLOs sharing it share their scenarios)."""

    tiers: tuple[Tier, ...]
    budget: Decimal
    guard: Decimal


def _with_checks(key: _Key, s: Scenario, steps: Sequence[int]) -> Scenario:
    model = _Model(s)
    checks = tuple(
        (k, tier.name, predict(key, tier, model, k)) for k in steps for tier in key.tiers
    )
    return replace(s, checks=checks)


# -- the scenarios ---------------------------------------------------------------------------


def _fast_burn(p: _Key) -> Scenario | None:
    r = min(Decimal(1), FAST_BURN * p.budget)
    pages = [t for t in p.tiers if t.kind == "page"] or list(p.tiers)
    tier = min(pages, key=lambda t: detection_seconds(t, p.budget, r))
    history = _up(max(t.long for t in p.tiers) // STEP)  # every window clean at the start
    detect = math.ceil(detection_seconds(tier, p.budget, r) / STEP)
    span = _up(2 * detect + 2 * PER_EVAL)
    name = f"fast burn: {promql.decimal(r)} errors, {tier.name} fires"
    s = Scenario(name, ((history, Decimal(0)), (span, r)), ())
    model = _Model(s)
    offsets = range(0, span + 1, PER_EVAL)
    states = {d: predict(p, tier, model, history + d) for d in offsets}
    fire = next((d for d in offsets if states[d] == "firing"), None)
    if fire is None:
        return None
    quiet = max((d for d in offsets if d < fire and states[d] == "quiet"), default=None)
    steps = [history + d for d in (quiet, fire) if d is not None]
    return _with_checks(p, replace(s, segments=((history, Decimal(0)), (fire, r))), steps)


def _up(steps: int) -> int:
    """``steps`` rounded up to a whole number of evaluations."""
    return -(-steps // PER_EVAL) * PER_EVAL


def _every_hour(steps: int) -> list[int]:
    hour = 3600 // STEP
    return sorted({*range(hour, steps + 1, hour), steps})


def _half_burn(p: _Key) -> Scenario:
    # A steady ratio is the same over every window (over one longer than the data too: rate()
    # then counts what there is), so twice the longest short window shows every pair quiet.
    r = HALF_BURN * p.budget
    steps = _up(2 * max(t.short for t in p.tiers) // STEP)
    s = _with_checks(p, Scenario("half burn", ((steps, r),), ()), _every_hour(steps))
    low = sorted({name for _, name, state in s.checks if state != "quiet"})
    # a tier whose factor is below 0.5 (a short period's slow ticket) fires, as it should
    tail = f", only {', '.join(low)} (factor below 0.5) fires" if low else ", no alert"
    return replace(s, name=f"half burn: {promql.decimal(r)} errors{tail}")


def _zero_traffic(p: _Key) -> Scenario:
    steps = _up(2 * max(t.short for t in p.tiers) // STEP)
    s = Scenario("zero traffic: no alert", ((steps, Decimal(0)),), (), traffic=Decimal(0))
    return _with_checks(p, s, _every_hour(steps))


def _tier_alone(p: _Key, tier: Tier) -> Scenario | None:
    """The cheapest (history, burst, ratio) that fires ``tier`` and as few others as can be."""
    threshold = tier.factor * p.budget
    histories = sorted({0, *(_up(w // STEP) for t in p.tiers for w in (t.long, t.short))})
    bursts = sorted({_up(w // STEP) for w in (tier.short, tier.long, 2 * tier.long)})
    best: tuple[tuple[int, int], Scenario] | None = None
    for factor in ("1.3", "1.6", "2", "3"):
        r = threshold * Decimal(factor)
        if r > 1:
            continue
        for history in histories:
            for burst in bursts:
                s = Scenario(f"tier {tier.name}", ((history, Decimal(0)), (burst, r)), ())
                s = _with_checks(p, s, [history + burst])
                mine = [st for _, name, st in s.checks if name == tier.name]
                if mine != ["firing"]:
                    continue
                others = sum(1 for _, name, st in s.checks if name != tier.name and st != "quiet")
                cost = (others, history + burst)
                if best is None or cost < best[0]:
                    best = (cost, s)
    return None if best is None else best[1]


def scenarios(p: SloPlan) -> list[Scenario]:
    """The scenarios of ``p``'s test file (none when it has no tier)."""
    return list(_scenarios(_Key(p.tiers, p.budget, slo_rules.guard_count(p))))


@functools.lru_cache(maxsize=64)
def _scenarios(p: _Key) -> tuple[Scenario, ...]:
    if not p.tiers:
        return ()
    out = [s for s in (_fast_burn(p),) if s is not None]
    out += [_half_burn(p), _zero_traffic(p)]
    if p.guard > 1:
        single = Scenario(
            "one failed request alone: no alert (min_events)",
            ((1, Decimal(1)),),  # the one request of the test, failed
            (),
            traffic=Decimal(1),
        )
        out.append(_with_checks(p, single, [PER_EVAL]))
    out += [s for t in p.tiers if (s := _tier_alone(p, t)) is not None]
    return tuple(out)


# -- the files -------------------------------------------------------------------------------


def _series(s: Scenario, result: str) -> str:
    parts: list[str] = ["0"]
    value = Decimal(0)
    for steps, r in s.segments:
        per = s.traffic * r if result == "error" else s.traffic * (1 - r)
        if steps <= 0:
            continue
        start = value + per
        value = start + per * (steps - 1)
        parts.append(f"{promql.decimal(start)}+{promql.decimal(per)}x{steps - 1}")
    return " ".join(parts)


def _test_group(p: SloPlan, s: Scenario, rules: dict[str, dict[str, Any]]) -> dict[str, Any]:
    alerts = []
    for k, name, state in s.checks:
        if state == "unknown":
            continue
        rule = rules[name]
        expected = (
            [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}]
            if state == "firing"
            else []
        )
        alerts.append(
            {
                "eval_time": promql.duration(k * STEP) if k else "0s",
                "alertname": rule["alert"],
                "exp_alerts": expected,
            }
        )
    return {
        "name": s.name,
        "interval": promql.duration(STEP),
        "input_series": [
            {"series": f'{METRIC}{{result="{result}"}}', "values": _series(s, result)}
            for result in ("ok", "error")
        ],
        "alert_rule_test": alerts,
    }


def fixture_plan(p: SloPlan) -> SloPlan:
    """``p`` with its SLI replaced by the synthetic counter's error ratio."""
    from buttress.config._slo import RatioSLIConfig

    sli = RatioSLIConfig(
        kind="ratio",
        errors=f'sum(rate({METRIC}{{result="error"}}[$window]))',
        total=f"sum(rate({METRIC}[$window]))",
    )
    return replace(p, slo=p.slo.model_copy(update={"sli": sli}))


def generate(p: SloPlan) -> list[GeneratedFile]:
    """The fixture rules and the test file of one SLO (nothing when it has no tier)."""
    from buttress.alerting.generate import GeneratedFile

    cases = scenarios(p)
    if not cases:
        return []
    fixture = fixture_plan(p)
    alerts = {t.name: slo_rules.alert_rule(fixture, t) for t in fixture.tiers}
    test = {
        "rule_files": [fixture_path(p).rpartition("/")[2]],
        "evaluation_interval": promql.duration(EVAL),
        "tests": slo_rules.LINES,
    }
    groups = [_test_group(fixture, s, alerts) for s in cases]
    header = (
        f"# promtool test rules for SLO {p.slo.name} (generated by `buttress alerts generate`).\n"
        "# The rules under test are the SLO's own with its SLI replaced by the synthetic\n"
        f"# counter {METRIC} (see {fixture_path(p).rpartition('/')[2]}). Written as JSON\n"
        "# (which is YAML too), one scenario a line: a thousand SLOs' tests write in seconds.\n"
    )
    return [
        GeneratedFile(fixture_path(p), "rules", slo_rules.rule_file_json(fixture)),
        GeneratedFile(test_path(p), "rules-test", header + slo_rules.json_lines(test, groups)),
    ]
