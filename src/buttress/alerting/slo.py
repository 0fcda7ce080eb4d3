"""SLO recording rules, metadata rules, multi-window multi-burn-rate alerts and their
promtool unit tests.

For each SLO of ``alerting.slos`` this module writes one rule file, ``slo/<name>.rules.yml``,
with one group holding, in order:

- the SLI's error ratio over every window the SLO's alerts need (:func:`windows`: 5m, each
  enabled tier's long and short window, and the period), named
  :func:`~buttress.alerting.labels.sli_error_rule`;
- its events per second over 5m and each long window (the low-traffic guard), named
  :func:`~buttress.alerting.labels.sli_events_rule`;
- the metadata rules (objective, error budget, period in days, burn rate now and over the
  period, budget remaining, info), as Sloth has them;
- one alert per enabled burn tier: the error ratio over both the tier's windows is above
  ``factor x error budget``, and at least ``max(min_events, MIN_EVENTS_FLOOR)`` events were
  seen over the long window (no traffic is never an alert, and a NaN ratio never fires).

Everything is computed with :class:`~decimal.Decimal` and rendered by
:func:`buttress.alerting.promql.decimal`: ``0.999``, ``14.4``, ``0.0144``, never float noise.
:func:`plan` is the pure part (what an SLO's rules are); :func:`rule_file` turns it into the
YAML Prometheus loads. The generated promtool tests live in :mod:`.slo_tests`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import yaml

from buttress.alerting import labels as L
from buttress.alerting import promql
from buttress.errors import ConfigError

if TYPE_CHECKING:
    from buttress.alerting.generate import GeneratedFile
    from buttress.config import ButtressConfig
    from buttress.config._slo import BurnTierConfig, SLOConfig

__all__ = [
    "CURRENT_WINDOW",
    "LINES",
    "MAX_SUBQUERY",
    "MIN_EVENTS_FLOOR",
    "SUBQUERY_STEP",
    "SloPlan",
    "Tier",
    "alert_name",
    "dump",
    "generate",
    "plan",
    "rule_file",
    "rule_path",
    "sli_expressions",
    "tiers_of",
    "windows",
]

CURRENT_WINDOW = 300
"""Seconds: the window of "burn rate now" (``slo:current_burn_rate:ratio``), always recorded."""

MIN_EVENTS_FLOOR = Decimal("0.001")
"""The low-traffic guard's least count: with ``min_events: 0`` an alert still needs more than
(about) no events over its long window, so zero traffic (a 0/0 ratio) never fires."""

SUBQUERY_STEP = "1m"
"""The resolution of a threshold SLI's subquery: the gauge is sampled once a minute."""

MAX_SUBQUERY = 7 * 86400
"""Seconds: the longest window a threshold SLI's subquery covers (longer: see sli_expressions)."""

_DAY = 86400
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Tier:
    """One enabled burn tier as an SLO uses it: windows in seconds, the factor exact."""

    name: str
    kind: Literal["page", "ticket"]
    severity: str
    long: int
    short: int
    factor: Decimal
    for_: int | None
    labels: tuple[tuple[str, str], ...]

    @property
    def alert(self) -> str:
        return alert_name(self.name)


@dataclass(frozen=True, slots=True)
class SloPlan:
    """What an SLO generates, before it is written out."""

    slo: SLOConfig
    tiers: tuple[Tier, ...]
    windows: tuple[int, ...]  # seconds, ascending
    objective: Decimal  # a ratio: 0.999
    budget: Decimal  # 1 - objective: 0.001
    period: int  # seconds

    @property
    def selector(self) -> str:
        return promql.selector({L.SLO: self.slo.name})

    def threshold(self, tier: Tier) -> Decimal:
        """The error ratio above which ``tier`` fires: factor x error budget."""
        return tier.factor * self.budget

    def static_labels(self) -> dict[str, str]:
        """The labels of every series and alert of this SLO."""
        out = {L.SLO: self.slo.name, L.SERVICE: self.slo.service}
        if self.slo.team:
            out[L.TEAM] = self.slo.team
        out.update(self.slo.labels)
        return out


def alert_name(tier: str) -> str:
    """The alert of burn tier ``tier``: ``page-fast`` -> ``SLOErrorBudgetBurnPageFast`` (one
    name per tier, so a tier's alert is told apart and tested on its own)."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", tier) if w]
    return "SLOErrorBudgetBurn" + "".join(w[:1].upper() + w[1:] for w in words)


def factor_of(tier: BurnTierConfig, period: int) -> Decimal:
    """The tier's burn factor: ``factor``, or budget_consumed x period / long window (exact)."""
    if tier.factor is not None:
        return tier.factor
    if tier.budget_consumed is None:  # the model requires one of them
        raise ConfigError(f"burn tier {tier.name!r}: set factor or budget_consumed")
    return (tier.budget_consumed * Decimal(period) / Decimal(int(tier.long_window))).normalize()


def tiers_of(slo: SLOConfig, tiers: Sequence[BurnTierConfig]) -> tuple[Tier, ...]:
    """The enabled tiers ``slo`` alerts on (its ``burn_tiers``, else all), in config order."""
    wanted = None if slo.burn_tiers is None else set(slo.burn_tiers)
    period = int(slo.period)
    return tuple(
        Tier(
            name=t.name,
            kind=t.kind,
            severity=t.severity,
            long=int(t.long_window),
            short=int(t.short_window),
            factor=factor_of(t, period),
            for_=None if t.for_ is None else int(t.for_),
            labels=tuple(t.labels.items()),
        )
        for t in tiers
        if t.enabled and (wanted is None or t.name in wanted)
    )


def windows(tiers: Sequence[Tier], period: int) -> tuple[int, ...]:
    """The windows an SLO records: 5m, every tier's long and short window, and the period."""
    return tuple(sorted({CURRENT_WINDOW, period, *(w for t in tiers for w in (t.long, t.short))}))


def plan(slo: SLOConfig, tiers: Sequence[BurnTierConfig]) -> SloPlan:
    """The pure part: ``slo``'s tiers, windows, objective and budget."""
    objective = (slo.objective / _HUNDRED).normalize()
    chosen = tiers_of(slo, tiers)
    return SloPlan(
        slo=slo,
        tiers=chosen,
        windows=windows(chosen, int(slo.period)),
        objective=objective,
        budget=(Decimal(1) - objective).normalize(),
        period=int(slo.period),
    )


def sli_expressions(slo: SLOConfig, window: int) -> tuple[str, str]:
    """PromQL for ``slo``'s error ratio and its events per second over ``window`` seconds."""
    from buttress.config._slo import LatencySLIConfig, RatioSLIConfig, ThresholdSLIConfig

    w = promql.duration(window)
    sli = slo.sli
    if isinstance(sli, RatioSLIConfig):
        total = sli.total.replace("$window", w)
        if sli.errors is not None:
            errors = f"({sli.errors.replace('$window', w)})\n/\n({total})"
        else:
            if sli.good is None:  # the model requires errors or good
                raise ConfigError(f"SLO {slo.name!r}: its ratio SLI needs errors or good")
            errors = f"1 - (\n  ({sli.good.replace('$window', w)})\n  /\n  ({total})\n)"
        return errors, f"({total})"
    if isinstance(sli, LatencySLIConfig):
        le = promql.le_matcher(sli.threshold)
        bucket = f"{sli.metric}_bucket{promql.merge_selector(sli.selector, le)}"
        count = f"{sli.metric}_count{promql.merge_selector(sli.selector)}"
        events = f"sum(rate({count}[{w}]))"
        return f"1 - (\n  sum(rate({bucket}[{w}]))\n  /\n  {events}\n)", events
    if not isinstance(sli, ThresholdSLIConfig):
        raise TypeError(f"SLO {slo.name!r}: unknown SLI {type(sli).__name__}")
    if window == int(slo.period) and window > MAX_SUBQUERY:
        # A subquery over the whole period (43,200 steps for 30 days) is too heavy to evaluate
        # every minute; the 5m ratio averaged over the period is the same fraction of time.
        current = L.sli_error_rule(promql.duration(CURRENT_WINDOW))
        error = f"avg_over_time({current}{promql.selector({L.SLO: slo.name})}[{w}])"
        return error, f"count_over_time(({sli.expr})[{w}:{SUBQUERY_STEP}]) / {window}"
    bound = repr(float(sli.bound))
    good = f"avg_over_time(({sli.expr} {sli.op} bool {bound})[{w}:{SUBQUERY_STEP}])"
    events = f"count_over_time(({sli.expr})[{w}:{SUBQUERY_STEP}]) / {window}"
    return f"1 - {good}", events


def _labels(base: dict[str, str], **more: str) -> dict[str, str]:
    return {**base, **more}


def _human_days(days: Decimal) -> str:
    hours = days * 24
    if hours < 48:
        return f"{promql.decimal(round(hours, 1))} hours"
    return f"{promql.decimal(round(days, 1))} days"


def rules(p: SloPlan) -> list[dict[str, Any]]:
    """The rules of ``p``'s group, as the dicts of a Prometheus rule file."""
    base = p.static_labels()
    sel = p.selector
    out: list[dict[str, Any]] = []
    long_windows = {CURRENT_WINDOW, *(t.long for t in p.tiers)}
    for window in p.windows:
        errors, _ = sli_expressions(p.slo, window)
        out.append(
            {"record": L.sli_error_rule(promql.duration(window)), "expr": errors, "labels": base}
        )
    for window in sorted(long_windows):
        _, events = sli_expressions(p.slo, window)
        out.append(
            {"record": L.sli_events_rule(promql.duration(window)), "expr": events, "labels": base}
        )
    budget = promql.decimal(p.budget)
    period = promql.duration(p.period)
    now = L.sli_error_rule(promql.duration(CURRENT_WINDOW))
    out += [
        {
            "record": L.OBJECTIVE_RULE,
            "expr": f"vector({promql.decimal(p.objective)})",
            "labels": base,
        },
        {"record": L.ERROR_BUDGET_RULE, "expr": f"vector({budget})", "labels": base},
        {"record": L.PERIOD_DAYS_RULE, "expr": f"vector({p.period // _DAY})", "labels": base},
        {"record": L.CURRENT_BURN_RULE, "expr": f"{now}{sel} / {budget}", "labels": base},
        {
            "record": L.PERIOD_BURN_RULE,
            "expr": f"{L.sli_error_rule(period)}{sel} / {budget}",
            "labels": base,
        },
        {
            "record": L.BUDGET_REMAINING_RULE,
            "expr": f"1 - {L.PERIOD_BURN_RULE}{sel}",
            "labels": base,
        },
        {
            "record": L.INFO_RULE,
            "expr": "vector(1)",
            "labels": _labels(
                base,
                objective=promql.decimal(p.slo.objective),
                period=period,
                sli_kind=p.slo.sli.kind,
            ),
        },
    ]
    out += [alert_rule(p, tier) for tier in p.tiers]
    return out


def guard_count(p: SloPlan) -> Decimal:
    """The least number of events over a long window for an alert to fire."""
    return max(Decimal(str(p.slo.min_events)), MIN_EVENTS_FLOOR).normalize()


def alert_rule(p: SloPlan, tier: Tier) -> dict[str, Any]:
    """``tier``'s alert: both windows above the threshold, and enough events."""
    sel = p.selector
    threshold = promql.decimal(p.threshold(tier))
    lw, sw = promql.duration(tier.long), promql.duration(tier.short)
    expr = (
        f"(\n  {L.sli_error_rule(lw)}{sel} > {threshold}\n"
        f"  and\n  {L.sli_error_rule(sw)}{sel} > {threshold}\n)\n"
        f"and\n{L.sli_events_rule(lw)}{sel} * {tier.long} >= {promql.decimal(guard_count(p))}"
    )
    factor = promql.decimal(tier.factor)
    exhausted = _human_days(Decimal(p.period // _DAY) / tier.factor)
    slo = p.slo
    rule: dict[str, Any] = {"alert": tier.alert, "expr": expr}
    if tier.for_:
        rule["for"] = promql.duration(tier.for_)
    rule["labels"] = {
        **p.static_labels(),
        **dict(tier.labels),
        L.SEVERITY: tier.severity,
        L.TIER: tier.name,
        L.TIER_KIND: tier.kind,
        L.LONG_WINDOW: lw,
        L.SHORT_WINDOW: sw,
        L.SOURCE: L.SOURCE_SLO,
    }
    annotations = {
        "summary": (
            f"{slo.service}: SLO {slo.name} is burning its error budget {factor}x too fast "
            f"({tier.name})"
        ),
        "description": (
            f"The error ratio of SLO {slo.name} over both {lw} and {sw} is above {threshold} "
            f"({factor} x the error budget {promql.decimal(p.budget)} of the "
            f"{promql.decimal(slo.objective)} % objective over {promql.duration(p.period)}): "
            f"at this rate the whole budget is spent in {exhausted}."
        ),
    }
    for key, url in slo.links.items():
        annotations[key if key.endswith("_url") else f"{key}_url"] = url
    rule["annotations"] = annotations
    return rule


RUNBOOK_KEYS = ("runbook", "runbook_url")
"""The ``links`` of an SLO that may name a buttress runbook instead of a URL."""


def group_name(slo: SLOConfig) -> str:
    return f"slo-{slo.name}"


def rule_path(slo: SLOConfig) -> str:
    """Where ``slo``'s rule file goes in the output directory."""
    return f"slo/{slo.name}.rules.yml"


_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]  # a base chosen at import
    """Multi-line strings as literal blocks (readable PromQL), everything else as safe_dump;
    never an anchor (the same labels dict on every rule is written out each time)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(document: Any) -> str:
    """YAML for a rule or test file (block style, keys in the order built, PromQL readable)."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)


def rule_file(p: SloPlan) -> str:
    """The rule file of one SLO."""
    return dump({"groups": [{"name": group_name(p.slo), "rules": rules(p)}]})


LINES = "\0lines\0"
"""Where :func:`json_lines` puts its list (a config value never holds a NUL)."""


def json_lines(document: Any, items: Sequence[Any]) -> str:
    """``document`` as JSON (YAML parsers read it as YAML), with ``items`` in place of the
    value :data:`LINES`, one item a line: the C encoder writes it, for the files only promtool
    reads (a thousand SLOs' tests and fixtures in a second, not in half a minute)."""
    shell = json.dumps(document, ensure_ascii=False)
    lines = ",\n".join(json.dumps(item, ensure_ascii=False) for item in items)
    return shell.replace(json.dumps(LINES), f"[\n{lines}\n]", 1) + "\n"


def rule_file_json(p: SloPlan) -> str:
    """The rule file of one SLO as JSON, one rule a line (the promtool tests' fixture)."""
    return json_lines({"groups": [{"name": group_name(p.slo), "rules": LINES}]}, rules(p))


def plans(config: ButtressConfig) -> list[SloPlan]:
    """The plan of every SLO of ``config``, in config order."""
    from buttress.alerting.links import runbook_url

    out = []
    for slo in config.alerting.slos:
        links = {
            key: runbook_url(config, url) if key in RUNBOOK_KEYS else url
            for key, url in slo.links.items()
        }
        linked = slo.model_copy(update={"links": links}) if links != slo.links else slo
        out.append(plan(linked, config.alerting.burn_tiers))
    return out


def generate(config: ButtressConfig) -> list[GeneratedFile]:
    """Per SLO its rule file and its promtool tests."""
    from buttress.alerting import slo_tests
    from buttress.alerting.generate import GeneratedFile

    files: list[GeneratedFile] = []
    for p in plans(config):
        files.append(GeneratedFile(rule_path(p.slo), "rules", rule_file(p)))
        files.extend(slo_tests.generate(p))
    return files
