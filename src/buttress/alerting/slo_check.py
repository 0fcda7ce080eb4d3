"""The SLO checks of the validation step: what the models alone cannot see (names across the
list, tiers an SLO names, its period against its tiers' windows, a threshold above 1), and
the user's PromQL parsed by ``promtool`` with each problem placed at the SLO's YAML field.

:func:`check_slos` is registered by :mod:`buttress.config_checks`; with ``check_files``
(``buttress config check``) it also runs :func:`promql_problems` when promtool is installed.
``buttress alerts check`` runs :func:`promql_problems` always (and says which package to
install when promtool is missing).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from buttress.alerting import promql, tools
from buttress.alerting.slo import alert_name, dump, plan

if TYPE_CHECKING:
    from buttress.config import AlertingConfig, ButtressConfig

__all__ = ["Path_", "check_slos", "promql_problems", "runbook_links"]

Path_ = tuple[str | int, ...]
_SLOS: Path_ = ("alerting", "slos")
_PARSE = re.compile(r'group "q(\d+)", rule \d+, "[^"]*": (.*)')


def runbook_links(config: ButtressConfig) -> list[tuple[Path_, str]]:
    """The SLOs' ``links.runbook`` that name a runbook no runbook has, or that need
    ``incidents.public_url`` (:func:`buttress.alerting.links.runbook_problem`)."""
    from buttress.alerting.links import runbook_problem
    from buttress.alerting.slo import RUNBOOK_KEYS

    found: list[tuple[Path_, str]] = []
    for i, slo in enumerate(config.alerting.slos):
        for key, value in slo.links.items():
            why = runbook_problem(config, value) if key in RUNBOOK_KEYS else None
            if why is not None:
                found.append((("alerting", "slos", i, "links", key), why))
    return found


def check_slos(section: AlertingConfig, *, check_files: bool = False) -> list[tuple[Path_, str]]:
    """Every problem of ``alerting.slos`` and ``alerting.burn_tiers`` across items."""
    problems = list(_names(section))
    problems += _tier_references(section)
    if check_files and not problems:
        try:
            tools.find("promtool")
        except tools.ToolMissingError:
            return problems  # config check without promtool: `buttress alerts check` says so
        problems += promql_problems(section)
    return problems


def _names(section: AlertingConfig) -> Iterator[tuple[Path_, str]]:
    seen: dict[str, int] = {}
    for i, slo in enumerate(section.slos):
        if slo.name in seen:
            yield (
                (*_SLOS, i, "name"),
                f"two SLOs are named {slo.name!r} (alerting.slos[{seen[slo.name]}] too): "
                "SLO names are unique",
            )
        seen.setdefault(slo.name, i)
    tiers: dict[str, int] = {}
    alerts: dict[str, int] = {}
    for i, tier in enumerate(section.burn_tiers):
        where = ("alerting", "burn_tiers", i, "name")
        if tier.name in tiers:
            yield where, f"two burn tiers are named {tier.name!r}: tier names are unique"
        elif alert_name(tier.name) in alerts:
            other = section.burn_tiers[alerts[alert_name(tier.name)]].name
            yield (
                where,
                f"tiers {other!r} and {tier.name!r} would both be alert "
                f"{alert_name(tier.name)}: use names that differ in more than punctuation",
            )
        tiers.setdefault(tier.name, i)
        alerts.setdefault(alert_name(tier.name), i)


def _tier_references(section: AlertingConfig) -> Iterator[tuple[Path_, str]]:
    known = {t.name for t in section.burn_tiers}
    for i, slo in enumerate(section.slos):
        unknown = False
        for j, name in enumerate(slo.burn_tiers or ()):
            if name not in known:
                unknown = True
                yield (
                    (*_SLOS, i, "burn_tiers", j),
                    f"no burn tier is named {name!r} (alerting.burn_tiers has "
                    f"{', '.join(sorted(known)) or 'none'})",
                )
        if unknown:
            continue
        p = plan(slo, section.burn_tiers)
        if p.tiers:
            longest = max(p.tiers, key=lambda t: t.long)
            if longest.long > p.period:
                yield (
                    (*_SLOS, i, "period"),
                    f"the period {promql.duration(p.period)} is shorter than the long window "
                    f"{promql.duration(longest.long)} of burn tier {longest.name!r}: lengthen "
                    "the period or choose the SLO's burn_tiers",
                )
                continue
        for tier in p.tiers:
            threshold = p.threshold(tier)
            if threshold >= 1:
                yield (
                    (*_SLOS, i, "objective"),
                    f"burn tier {tier.name!r} fires above an error ratio of "
                    f"{promql.decimal(tier.factor)} x {promql.decimal(p.budget)} = "
                    f"{promql.decimal(threshold)}, which no ratio reaches: raise the objective, "
                    "lower the tier's factor or leave it out of this SLO's burn_tiers",
                )


def _queries(section: AlertingConfig) -> Iterator[tuple[Path_, str]]:
    """Each PromQL text the user wrote, as the rules use it (``$window`` as 5m), and where."""
    from buttress.config._slo import LatencySLIConfig, RatioSLIConfig, ThresholdSLIConfig

    for i, slo in enumerate(section.slos):
        sli = slo.sli
        at = (*_SLOS, i, "sli")
        if isinstance(sli, RatioSLIConfig):
            for field in ("errors", "good", "total"):
                query = getattr(sli, field)
                if query is not None:
                    yield (*at, field), query.replace("$window", "5m")
        elif isinstance(sli, LatencySLIConfig):
            yield (*at, "selector"), f"{sli.metric}_count{promql.merge_selector(sli.selector)}"
        elif isinstance(sli, ThresholdSLIConfig):
            yield (*at, "expr"), f"({sli.expr}) {sli.op} bool {float(sli.bound)!r}"


def promql_problems(section: AlertingConfig) -> list[tuple[Path_, str]]:
    """promtool's word on every query of ``alerting.slos``, each at its field.

    Raises:
        ToolMissingError: promtool is not installed (names the Debian package).
    """
    queries = list(_queries(section))
    if not queries:
        return []
    groups = [
        {"name": f"q{n}", "rules": [{"record": "buttress:check", "expr": query}]}
        for n, (_, query) in enumerate(queries)
    ]
    with tempfile.TemporaryDirectory(prefix="buttress-promql-") as tmp:
        file = Path(tmp) / "queries.rules.yml"
        file.write_text(dump({"groups": groups}), encoding="utf-8")
        result = tools.run("promtool", ["check", "rules", str(file)])
    if result.ok:
        return []
    problems: list[tuple[Path_, str]] = []
    for line in result.output.splitlines():
        found = _PARSE.search(line)
        if found:
            path = queries[int(found.group(1))][0]
            problems.append((path, f"promtool says: {found.group(2).strip()}"))
    if not problems:  # a failure not tied to one query: show it whole
        problems.append((_SLOS, f"promtool says: {result.output}"))
    return problems
