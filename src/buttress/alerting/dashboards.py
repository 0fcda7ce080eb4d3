"""Grafana dashboards as JSON (SLO overview and detail, backups, resilience, executive summary),
built with Grafana's own ``grafana-foundation-sdk`` builders and dumped with its encoder, so
every file is a dashboard model Grafana reads (no JSON template anywhere).

Every board reads Prometheus through the ``${datasource}`` variable (its default is
``alerting.dashboards.datasource``), so a file imports into any Grafana. The SLO boards read
only the recording rules of :mod:`buttress.alerting.labels` and ``ALERTS``; the backups and
resilience boards read the metrics of :mod:`buttress.metric_names`. Uids are
``<uid_prefix>-<board>``: stable across runs, so a re-import replaces a board.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import gauge, stat, table, timeseries
from grafana_foundation_sdk.builders import prometheus as pq
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    Dashboard,
    DashboardCursorSync,
    DataSourceRef,
    DataTransformerConfig,
    DynamicConfigValue,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMapping,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from buttress import metric_names as m
from buttress.alerting import labels as lb
from buttress.alerting.generate import GeneratedFile

if TYPE_CHECKING:
    from buttress.config import ButtressConfig
    from buttress.config._dashboards import Board
    from buttress.config._slo import SLOConfig

__all__ = [
    "ALERTS_METRIC",
    "DATASOURCE_VARIABLE",
    "build",
    "dashboard_json",
    "generate",
    "panel_queries",
    "sla_problems",
    "window_name",
]

DATASOURCE_VARIABLE = "datasource"
"""The name of the data-source variable every board has (``${datasource}``)."""
ALERTS_METRIC = "ALERTS"
"""Prometheus's own series of pending and firing alerts."""
SLO_WINDOWS: tuple[float, ...] = (300.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0, 259200.0)
"""The windows the SLO rules always record (5m ... 3d); the enabled tiers' windows are added."""

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_GREEN, _YELLOW, _RED = "green", "yellow", "red"

Query = tuple[str, str]
"""A panel query: (PromQL expression, legend)."""


def window_name(seconds: float) -> str:
    """A window as it appears in a recording rule's name: the largest unit that divides it
    exactly (``300`` -> ``5m``, ``5400`` -> ``90m``, ``2592000`` -> ``30d``)."""
    whole = round(seconds)
    if whole <= 0 or whole != seconds:
        raise ValueError(f"a rule window must be a whole number of seconds above 0: {seconds}")
    for unit, size in _UNITS:
        if whole % size == 0:
            return f"{whole // size}{unit}"
    raise AssertionError("unreachable: every whole number of seconds is a whole 's'")


def _matcher(names: Sequence[str]) -> str:
    """``"a|b\\\\.c"``, a PromQL string for ``=~`` (Prometheus anchors it): names hold only
    letters, digits and ``_ . -``, and ``.`` is the one regex character among them."""
    return '"' + "|".join(name.replace(".", "\\\\.") for name in names) + '"'


def _slo_windows(config: ButtressConfig) -> list[str]:
    """The windows whose SLI error ratio the boards chart: the fixed ones and the tiers'."""
    seconds = set(SLO_WINDOWS)
    for tier in config.alerting.burn_tiers:
        if tier.enabled:
            seconds.update((tier.long_window, tier.short_window))
    return [window_name(s) for s in sorted(seconds)]


def _thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for value, color in steps])
    )


def _value_text(mapping: dict[str, tuple[str, str]]) -> list[ValueMapping]:
    """Value mappings such as ``{"1": ("ok", "green"), "0": ("failed", "red")}``."""
    return [
        ValueMap(
            options={
                value: ValueMappingResult(text=text, color=color, index=i)
                for i, (value, (text, color)) in enumerate(mapping.items())
            }
        )
    ]


class _Board:
    """One dashboard being built: gives out panel ids and query ref ids, and reads every
    query through the ``${datasource}`` variable."""

    def __init__(self, config: ButtressConfig, board: Board, title: str, description: str):
        section = config.alerting.dashboards
        self.uid = f"{section.uid_prefix}-{board}"
        self._next_id = 1
        self.source = DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
        self.builder = (
            db.Dashboard(title)
            .uid(self.uid)
            .description(description)
            .tags(list(dict.fromkeys(["buttress", section.folder, board])))
            .time("now-24h", "now")
            .refresh("1m")
            .timezone("browser")
            .tooltip(DashboardCursorSync.CROSSHAIR)
            .editable()
            .with_variable(
                db.DatasourceVariable(DATASOURCE_VARIABLE)
                .label("Data source")
                .type("prometheus")
                .current(
                    VariableOption(selected=True, text=section.datasource, value=section.datasource)
                )
            )
        )

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def query_variable(self, name: str, label: str, query: str) -> None:
        """A multi-value variable (with All) filled from Prometheus by ``label_values``."""
        self.builder.with_variable(
            db.QueryVariable(name)
            .label(label)
            .datasource(self.source)
            .query(query)
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".*")
            .current(VariableOption(selected=True, text="All", value="$__all"))
        )

    def custom_variable(self, name: str, label: str, values: Sequence[str]) -> None:
        """A one-value variable over a fixed list (the configured SLOs)."""
        self.builder.with_variable(
            db.CustomVariable(name)
            .label(label)
            .values(",".join(values))
            .current(VariableOption(selected=True, text=values[0], value=values[0]))
            .options(
                [VariableOption(selected=i == 0, text=v, value=v) for i, v in enumerate(values)]
            )
        )

    def row(self, title: str) -> None:
        self.builder.with_row(db.Row(title).id(self._id()))

    def _queries(
        self, queries: Sequence[Query], *, instant: bool, table_format: bool = False
    ) -> list[Builder[Dataquery]]:
        out: list[Builder[Dataquery]] = []
        for i, (expr, legend) in enumerate(queries):
            query = (
                pq.Dataquery()
                .expr(expr)
                .ref_id(chr(ord("A") + i))
                .datasource(self.source)
                .legend_format(legend)
            )
            query = query.instant() if instant else query.range()
            if table_format:
                query = query.format(PromQueryFormat.TABLE)
            out.append(query)
        return out

    def stat(
        self,
        title: str,
        queries: Sequence[Query],
        *,
        unit: str,
        description: str = "",
        width: int = 6,
        height: int = 5,
        thresholds: db.ThresholdsConfig | None = None,
        mappings: list[ValueMapping] | None = None,
        decimals: float | None = None,
    ) -> None:
        panel = (
            stat.Panel()
            .id(self._id())
            .title(title)
            .description(description)
            .datasource(self.source)
            .targets(self._queries(queries, instant=True))
            .unit(unit)
            .span(width)
            .height(height)
            .graph_mode(common.BigValueGraphMode.NONE)
            .color_mode(common.BigValueColorMode.VALUE)
            .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
            .thresholds(thresholds or _thresholds((None, _GREEN)))
        )
        if mappings:
            panel = panel.mappings(mappings)
        if decimals is not None:
            panel = panel.decimals(decimals)
        self.builder.with_panel(panel)

    def gauge(
        self,
        title: str,
        queries: Sequence[Query],
        *,
        unit: str,
        low: float,
        high: float,
        thresholds: db.ThresholdsConfig,
        description: str = "",
        width: int = 6,
        height: int = 6,
    ) -> None:
        self.builder.with_panel(
            gauge.Panel()
            .id(self._id())
            .title(title)
            .description(description)
            .datasource(self.source)
            .targets(self._queries(queries, instant=True))
            .unit(unit)
            .min(low)
            .max(high)
            .span(width)
            .height(height)
            .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
            .thresholds(thresholds)
            .show_threshold_markers(True)
        )

    def timeseries(
        self,
        title: str,
        queries: Sequence[Query],
        *,
        unit: str,
        description: str = "",
        width: int = 12,
        height: int = 8,
        low: float | None = None,
    ) -> None:
        panel = (
            timeseries.Panel()
            .id(self._id())
            .title(title)
            .description(description)
            .datasource(self.source)
            .targets(self._queries(queries, instant=False))
            .unit(unit)
            .span(width)
            .height(height)
            .line_width(1)
            .fill_opacity(10)
            .legend(
                cb.VizLegendOptions()
                .display_mode(common.LegendDisplayMode.LIST)
                .placement(common.LegendPlacement.BOTTOM)
                .show_legend(True)
            )
        )
        if low is not None:
            panel = panel.min(low)
        self.builder.with_panel(panel)

    def table(
        self,
        title: str,
        queries: Sequence[Query],
        *,
        columns: dict[str, str],
        description: str = "",
        width: int = 24,
        height: int = 8,
        unit: str = "",
        mappings: list[ValueMapping] | None = None,
        units: dict[str, str] | None = None,
    ) -> None:
        """Instant queries as one table: rows joined on their labels (Grafana's ``merge``),
        ``columns`` renaming ``Value #A``... and the labels to keep, in order; the rest
        (``Time``) hidden. ``units``: a unit per (renamed) column."""
        keep = list(columns)
        panel = (
            table.Panel()
            .id(self._id())
            .title(title)
            .description(description)
            .datasource(self.source)
            .targets(self._queries(queries, instant=True, table_format=True))
            .span(width)
            .height(height)
            .show_header(True)
            .with_transformation(DataTransformerConfig(id_val="merge", options={}))
            .with_transformation(
                DataTransformerConfig(
                    id_val="organize",
                    options={
                        "excludeByName": {"Time": True},
                        "indexByName": {name: i for i, name in enumerate(keep)},
                        "renameByName": columns,
                    },
                )
            )
        )
        if unit:
            panel = panel.unit(unit)
        if mappings:
            panel = panel.mappings(mappings)
        for column, column_unit in (units or {}).items():
            panel = panel.override_by_name(column, [DynamicConfigValue("unit", column_unit)])
        self.builder.with_panel(panel)

    def build(self) -> Dashboard:
        return self.builder.build()


# --- the SLO boards -----------------------------------------------------------------------


def _sli_now(selector: str) -> str:
    return f"1 - {lb.sli_error_rule('5m')}{selector}"


def _period_sli(selector: str, by: str) -> str:
    """The SLI over each SLO's period: 1 - period burn rate x error budget."""
    return (
        f"1 - max by ({by}) ({lb.PERIOD_BURN_RULE}{selector} * on (slo, service) "
        f"{lb.ERROR_BUDGET_RULE}{selector})"
    )


def _slo_overview(config: ButtressConfig, slos: Sequence[SLOConfig]) -> Dashboard:
    board = _Board(
        config,
        "slo-overview",
        "SLO overview",
        "Every SLO of buttress.yaml: objective, SLI now, error budget left, burn rates and the "
        "burn-rate alerts firing.",
    )
    sel = f"{{slo=~{_matcher([s.name for s in slos])}}}"
    by = "slo, service"
    alerts = f'{ALERTS_METRIC}{{{lb.SOURCE}="{lb.SOURCE_SLO}", alertstate="firing"}}'
    board.table(
        "SLOs",
        [
            (f"max by ({by}) ({lb.OBJECTIVE_RULE}{sel})", ""),
            (f"max by ({by}) ({_sli_now(sel)})", ""),
            (_period_sli(sel, by), ""),
            (f"max by ({by}) ({lb.BUDGET_REMAINING_RULE}{sel})", ""),
            (f"max by ({by}) ({lb.CURRENT_BURN_RULE}{sel})", ""),
            (
                f"count by ({by}) ({alerts}) or on (slo, service) "
                f"(0 * max by ({by}) ({lb.OBJECTIVE_RULE}{sel}))",
                "",
            ),
        ],
        columns={
            "slo": "SLO",
            "service": "service",
            "Value #A": "objective",
            "Value #B": "SLI (5m)",
            "Value #C": "SLI (period)",
            "Value #D": "budget left",
            "Value #E": "burn rate (5m)",
            "Value #F": "alerts firing",
        },
        units={
            "objective": "percentunit",
            "SLI (5m)": "percentunit",
            "SLI (period)": "percentunit",
            "budget left": "percentunit",
            "burn rate (5m)": "x",
        },
        height=4 + 2 * min(len(slos), 12),
        description="One row per SLO; ratios, and the burn rate as a multiple of the budget.",
    )
    board.row("Error budget and burn")
    board.timeseries(
        "Error budget remaining",
        [(f"max by ({by}) ({lb.BUDGET_REMAINING_RULE}{sel})", "{{slo}}")],
        unit="percentunit",
        description="1 is the whole budget of the period left; at 0 it is spent.",
    )
    board.timeseries(
        "Burn rate (5m)",
        [(f"max by ({by}) ({lb.CURRENT_BURN_RULE}{sel})", "{{slo}}")],
        unit="x",
        low=0,
        description="1x spends the budget exactly over the period; the fast page fires at 14.4x.",
    )
    board.timeseries(
        "SLI (5m)",
        [(f"max by ({by}) ({_sli_now(sel)})", "{{slo}}")],
        unit="percentunit",
    )
    board.timeseries(
        "Burn-rate alerts firing",
        [(f"count by (slo, {lb.TIER}) ({alerts})", "{{slo}} {{tier}}")],
        unit="short",
        low=0,
    )
    return board.build()


def _slo_detail(config: ButtressConfig, slos: Sequence[SLOConfig]) -> Dashboard:
    board = _Board(
        config,
        "slo-detail",
        "SLO detail",
        "One SLO (pick it with $slo): SLI and burn rate over every alert window, error budget, "
        "traffic and the alerts firing.",
    )
    board.custom_variable("slo", "SLO", [s.name for s in slos])
    sel = '{slo="$slo"}'
    by = "slo, service"
    board.stat("Objective", [(f"max({lb.OBJECTIVE_RULE}{sel})", "")], unit="percentunit")
    board.stat("SLI now (5m)", [(f"max({_sli_now(sel)})", "")], unit="percentunit", decimals=4)
    board.stat(
        "SLI over the period",
        [(_period_sli(sel, by), "")],
        unit="percentunit",
        decimals=4,
    )
    board.stat(
        "Error budget remaining",
        [(f"max({lb.BUDGET_REMAINING_RULE}{sel})", "")],
        unit="percentunit",
        thresholds=_thresholds((None, _RED), (0.25, _YELLOW), (0.5, _GREEN)),
    )
    windows = _slo_windows(config)
    board.row("Burn rate")
    board.timeseries(
        "Burn rate per window",
        [
            (
                f"max by (slo) ({lb.sli_error_rule(w)}{sel}) / on (slo) "
                f"max by (slo) ({lb.ERROR_BUDGET_RULE}{sel})",
                w,
            )
            for w in windows
        ],
        unit="x",
        low=0,
        width=24,
        description="Error ratio over each window the alert tiers use, as a multiple of the "
        "error budget; a tier fires when both its windows are above its factor.",
    )
    board.timeseries(
        "SLI per window",
        [(f"1 - max by (slo) ({lb.sli_error_rule(w)}{sel})", w) for w in windows],
        unit="percentunit",
    )
    board.timeseries(
        "Error budget remaining",
        [(f"max by (slo) ({lb.BUDGET_REMAINING_RULE}{sel})", "remaining")],
        unit="percentunit",
    )
    board.row("Traffic and alerts")
    board.timeseries(
        "Events per second (5m)",
        [(f"max by (slo) ({lb.sli_events_rule('5m')}{sel})", "events/s")],
        unit="reqps",
        low=0,
    )
    board.table(
        "Alerts firing",
        [
            (
                f"max by ({lb.TIER}, {lb.TIER_KIND}, {lb.SEVERITY}, {lb.LONG_WINDOW}, "
                f'{lb.SHORT_WINDOW}) ({ALERTS_METRIC}{{{lb.SOURCE}="{lb.SOURCE_SLO}", '
                'slo="$slo", alertstate="firing"})',
                "",
            )
        ],
        columns={
            lb.TIER: "tier",
            lb.TIER_KIND: "kind",
            lb.SEVERITY: "severity",
            lb.LONG_WINDOW: "long window",
            lb.SHORT_WINDOW: "short window",
            "Value #A": "firing",
        },
        width=12,
    )
    return board.build()


def _sla(config: ButtressConfig, service: str, slos: Sequence[SLOConfig]) -> Decimal:
    """The SLA of ``service``: the configured one, else its strictest SLO objective."""
    configured = config.alerting.dashboards.sla.get(service)
    if configured is not None:
        return configured
    return max(s.objective for s in slos if s.service == service)


def _executive(config: ButtressConfig, slos: Sequence[SLOConfig]) -> Dashboard:
    board = _Board(
        config,
        "executive",
        "Executive summary",
        "Availability of each service over its SLO period, against its SLA.",
    )
    services = sorted({s.service for s in slos})
    for service in services:
        sla = float(_sla(config, service, slos) / 100)
        ours = [s.name for s in slos if s.service == service]
        sel = f'{{service="{service}", slo=~{_matcher(ours)}}}'
        board.stat(
            f"{service}: availability (SLA {_sla_text(sla)})",
            [(f"min({_period_sli(sel, 'service')})", "")],
            unit="percentunit",
            decimals=3,
            thresholds=_thresholds((None, _RED), (sla, _GREEN)),
            description="The worst of its SLOs over their period; green at or above the SLA "
            "(alerting.dashboards.sla, else the strictest objective of its SLOs).",
            width=12,
        )
        board.stat(
            f"{service}: error budget left",
            [(f"min({lb.BUDGET_REMAINING_RULE}{sel})", "")],
            unit="percentunit",
            thresholds=_thresholds((None, _RED), (0.25, _YELLOW), (0.5, _GREEN)),
            description="The least budget left among its SLOs.",
            width=12,
        )
    everything = f"{{slo=~{_matcher([s.name for s in slos])}}}"
    board.timeseries(
        "Availability over the period, per service",
        [(_period_sli(everything, "service"), "{{service}}")],
        unit="percentunit",
        width=24,
    )
    return board.build()


def _sla_text(ratio: float) -> str:
    return f"{ratio * 100:g} %"


# --- the buttress boards ------------------------------------------------------------------


def _backups(config: ButtressConfig) -> Dashboard:
    board = _Board(
        config,
        "backups",
        "Backups",
        "buttress backups per target: age of the last good backup, duration, size, "
        "verification results, failures.",
    )
    board.query_variable("target", "Target", f"label_values({m.BACKUP_LAST_SUCCESS}, target)")
    sel = '{target=~"$target"}'
    board.table(
        "Targets",
        [
            (f"max by (target) (time() - {m.BACKUP_LAST_SUCCESS}{sel})", ""),
            (f"max by (target) ({m.BACKUP_LAST_DURATION}{sel})", ""),
            (f'max by (target) ({m.BACKUP_LAST_SIZE}{{target=~"$target", kind="stored"}})', ""),
            (f"min by (target) ({m.BACKUP_LAST_VERIFIED}{sel})", ""),
            (f"sum by (target) (increase({m.BACKUP_FAILURES}_total{sel}[$__range]))", ""),
        ],
        columns={
            "target": "target",
            "Value #A": "last success age",
            "Value #B": "last duration",
            "Value #C": "stored size",
            "Value #D": "verified (1 all ok)",
            "Value #E": "failures in range",
        },
        units={
            "last success age": "s",
            "last duration": "s",
            "stored size": "bytes",
        },
        description="One row per target; 'verified' is the worst of its checks (1 ok, 0 failed).",
    )
    board.row("History")
    board.timeseries(
        "Age of the last successful backup",
        [(f"max by (target) (time() - {m.BACKUP_LAST_SUCCESS}{sel})", "{{target}}")],
        unit="s",
        low=0,
    )
    board.timeseries(
        "Duration of the last good run",
        [(f"max by (target) ({m.BACKUP_LAST_DURATION}{sel})", "{{target}}")],
        unit="s",
        low=0,
    )
    board.timeseries(
        "Size trend",
        [(f"max by (target, kind) ({m.BACKUP_LAST_SIZE}{sel})", "{{target}} {{kind}}")],
        unit="bytes",
        low=0,
        description="Raw and stored (compressed, encrypted) size of each target's last backup.",
    )
    board.timeseries(
        "Runs by status",
        [
            (
                f"sum by (target, status) (increase({m.BACKUP_RUNS}_total{sel}[$__rate_interval]))",
                "{{target}} {{status}}",
            )
        ],
        unit="short",
        low=0,
    )
    board.table(
        "Verification results",
        [(f"max by (target, check) ({m.BACKUP_LAST_VERIFIED}{sel})", "")],
        columns={"target": "target", "check": "check", "Value #A": "result"},
        mappings=_value_text({"1": ("ok", _GREEN), "0": ("failed", _RED)}),
        width=12,
    )
    board.timeseries(
        "Verifications by result",
        [
            (
                f"sum by (target, check, result) "
                f"(increase({m.BACKUP_VERIFICATIONS}_total{sel}[$__rate_interval]))",
                "{{target}} {{check}} {{result}}",
            )
        ],
        unit="short",
        low=0,
    )
    return board.build()


def _resilience(config: ButtressConfig) -> Dashboard:
    board = _Board(
        config,
        "resilience",
        "Resilience",
        "buttress policies: circuit breaker states, rejections, retries, rate limiter keys, "
        "bulkheads, state store mode; the degradation level and feature flags.",
    )
    board.query_variable("policy", "Policy", f"label_values({m.RESILIENCE_CALLS}_total, policy)")
    sel = '{policy=~"$policy"}'
    rate = "[$__rate_interval]"
    board.stat(
        "Degradation level",
        [(f"max({m.DEGRADATION_LEVEL})", "")],
        unit="none",
        thresholds=_thresholds((None, _GREEN), (1, _YELLOW), (2, _RED)),
        description="The level's index: 0 is normal, higher is more degraded.",
    )
    board.table(
        "Level",
        [(f"max by (level, automatic) ({m.DEGRADATION_LEVEL_INFO} == 1)", "")],
        columns={"level": "level", "automatic": "automatic"},
        width=6,
        height=5,
    )
    board.gauge(
        "Health score",
        [(f"min({m.HEALTH_SCORE})", "")],
        unit="none",
        low=0,
        high=100,
        thresholds=_thresholds((None, _RED), (50, _YELLOW), (80, _GREEN)),
        height=5,
    )
    board.stat(
        "Override active",
        [(f"max({m.DEGRADATION_OVERRIDE})", "")],
        unit="none",
        mappings=_value_text({"1": ("override", _YELLOW), "0": ("automatic", _GREEN)}),
    )
    board.row("Circuit breakers and rejections")
    board.table(
        "Circuit breaker states",
        [(f"max by (policy, state) ({m.BREAKER_STATE}{sel} == 1)", "")],
        columns={"policy": "policy", "state": "state"},
        width=8,
    )
    board.timeseries(
        "Breaker transitions",
        [
            (
                f"sum by (policy, to_state) (increase({m.BREAKER_TRANSITIONS}_total{sel}{rate}))",
                "{{policy}} -> {{to_state}}",
            )
        ],
        unit="short",
        low=0,
        width=16,
    )
    board.timeseries(
        "Rejections per second",
        [
            (
                f"sum by (policy, kind) (rate({m.RESILIENCE_REJECTIONS}_total{sel}{rate}))",
                "{{policy}} {{kind}}",
            )
        ],
        unit="reqps",
        low=0,
    )
    board.timeseries(
        "Calls per second by outcome",
        [
            (
                f"sum by (policy, outcome) (rate({m.RESILIENCE_CALLS}_total{sel}{rate}))",
                "{{policy}} {{outcome}}",
            )
        ],
        unit="reqps",
        low=0,
    )
    board.row("Retries, timeouts, limits")
    board.timeseries(
        "Retries and give-ups per second",
        [
            (
                f"sum by (policy) (rate({m.RESILIENCE_RETRIES}_total{sel}{rate}))",
                "{{policy}} retry",
            ),
            (
                f"sum by (policy, reason) (rate({m.RESILIENCE_RETRY_GIVE_UPS}_total{sel}{rate}))",
                "{{policy}} gave up ({{reason}})",
            ),
        ],
        unit="reqps",
        low=0,
    )
    board.timeseries(
        "Timeouts and fallbacks per second",
        [
            (
                f"sum by (policy) (rate({m.RESILIENCE_TIMEOUTS}_total{sel}{rate}))",
                "{{policy}} timeout",
            ),
            (
                f"sum by (policy) (rate({m.RESILIENCE_FALLBACKS}_total{sel}{rate}))",
                "{{policy}} fallback",
            ),
        ],
        unit="reqps",
        low=0,
    )
    board.timeseries(
        "Rate limiter keys",
        [(f"max by (policy) ({m.RATE_LIMITER_KEYS}{sel})", "{{policy}}")],
        unit="short",
        low=0,
    )
    board.timeseries(
        "Bulkheads",
        [
            (f"max by (policy) ({m.BULKHEAD_ACTIVE}{sel})", "{{policy}} active"),
            (f"max by (policy) ({m.BULKHEAD_QUEUED}{sel})", "{{policy}} queued"),
        ],
        unit="short",
        low=0,
    )
    board.row("Shared state and flags")
    board.table(
        "State store mode",
        [
            (f"max by (policy, mode) ({m.STATE_STORE_MODE}{sel} == 1)", ""),
        ],
        columns={"policy": "policy", "mode": "mode"},
        width=8,
    )
    board.timeseries(
        "State store errors per second",
        [(f"sum by (policy) (rate({m.STATE_STORE_ERRORS}_total{sel}{rate}))", "{{policy}}")],
        unit="reqps",
        low=0,
        width=8,
    )
    board.table(
        "Feature flags",
        [(f"max by (feature) ({m.FEATURE_ENABLED})", "")],
        columns={"feature": "feature", "Value #A": "enabled"},
        mappings=_value_text({"1": ("on", _GREEN), "0": ("off", _RED)}),
        width=8,
    )
    return board.build()


# --- the whole output ---------------------------------------------------------------------


def sla_problems(config: ButtressConfig) -> list[tuple[tuple[str | int, ...], str]]:
    """``alerting.dashboards.sla`` entries that name no service of ``alerting.slos`` (a
    validation-step check: the lead may register it with :func:`buttress.config.register_check`)."""
    services = {s.service for s in config.alerting.slos}
    return [
        (
            ("alerting", "dashboards", "sla", service),
            f"no SLO of alerting.slos has the service {service!r} (known: "
            f"{', '.join(sorted(services)) or 'none'})",
        )
        for service in config.alerting.dashboards.sla
        if service not in services
    ]


_SLO_BOARDS: dict[str, Callable[[ButtressConfig, Sequence[SLOConfig]], Dashboard]] = {
    "slo-overview": _slo_overview,
    "slo-detail": _slo_detail,
    "executive": _executive,
}
_PLAIN_BOARDS: dict[str, Callable[[ButtressConfig], Dashboard]] = {
    "backups": _backups,
    "resilience": _resilience,
}


def build(config: ButtressConfig) -> list[Dashboard]:
    """The enabled dashboards as SDK models, in the order of ``BOARDS``; the SLO boards only
    when there are SLOs. An SLA naming an unknown service is a :class:`ConfigError`."""
    from buttress.config._dashboards import BOARDS
    from buttress.errors import ConfigError

    problems = sla_problems(config)
    if problems:
        raise ConfigError(
            "; ".join(f"alerting.dashboards.sla.{loc[-1]}: {text}" for loc, text in problems)
        )
    slos = list(config.alerting.slos)
    enabled = set(config.alerting.dashboards.enabled)
    out: list[Dashboard] = []
    for board in BOARDS:
        if board not in enabled:
            continue
        if board in _SLO_BOARDS:
            if slos:
                out.append(_SLO_BOARDS[board](config, slos))
        else:
            out.append(_PLAIN_BOARDS[board](config))
    return out


def dashboard_json(dashboard: Dashboard) -> str:
    """A dashboard model as the JSON Grafana imports (the SDK's own encoder)."""
    return json.dumps(dashboard, cls=JSONEncoder, indent=2) + "\n"


def panel_queries(document: dict[str, object]) -> list[tuple[str, str]]:
    """(panel title, PromQL expression) of every query of a dashboard JSON document, rows'
    nested panels included (what the tests check and ``alerts check`` can lint)."""
    found: list[tuple[str, str]] = []

    def walk(panels: object) -> None:
        if not isinstance(panels, list):
            return
        for panel in panels:
            if not isinstance(panel, dict):
                continue
            for target in panel.get("targets") or []:
                if isinstance(target, dict) and isinstance(target.get("expr"), str):
                    found.append((str(panel.get("title", "")), target["expr"]))
            walk(panel.get("panels"))

    walk(document.get("panels"))
    return found


def generate(config: ButtressConfig) -> list[GeneratedFile]:
    """``dashboards/<uid>.json`` for every enabled board."""
    return [
        GeneratedFile(f"dashboards/{board.uid}.json", "dashboard", dashboard_json(board))
        for board in build(config)
    ]
