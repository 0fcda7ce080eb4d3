"""The preset alert groups (system health, performance, security, business, backups, buttress
itself) as Prometheus rule files, each with the promtool unit tests that prove its alerts fire
on synthetic series and stay quiet on healthy ones.

Every alert carries the label contract of :mod:`buttress.alerting.labels` (``severity``,
``service``, ``team`` when set, ``buttress_source: preset``, ``preset: <group>``) and the labels
of the series it is computed from; annotations ``summary``, ``description`` and ``runbook``
(when configured). One file per enabled group: ``presets/<group>.rules.yml`` (kind ``rules``)
and ``presets/tests/<group>.test.yml`` (kind ``rules-test``, its ``rule_files`` relative to itself).

Backups: the bound of "no successful backup" is, per target, ``factor`` (1.5) times the longest
gap between two runs of its ``schedule`` (:func:`expected_interval`), or its ``max_age``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from buttress import metric_names as names
from buttress.alerting import labels as contract

if TYPE_CHECKING:
    from buttress.alerting.generate import GeneratedFile
    from buttress.config import ButtressConfig
    from buttress.config._alert_presets import (
        BackupsPresetConfig,
        BusinessPresetConfig,
        ButtressPresetConfig,
        PerformancePresetConfig,
        PresetAlertConfig,
        PresetGroupConfig,
        PresetsConfig,
        SecurityPresetConfig,
        SystemPresetConfig,
    )

__all__ = [
    "GROUPS",
    "PresetRule",
    "Scenario",
    "check",
    "expected_interval",
    "generate",
    "group_rules",
    "prom_duration",
    "rules_file",
    "tests_file",
]

GROUPS = ("system", "performance", "security", "business", "backups", "buttress")
"""The preset groups, in the order their files are generated (the ``preset`` label's values)."""

_ANCHOR = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)  # a Friday: a weekday-only gap shows at once
_SPAN = 400 * 86400.0
_MAX_RUNS = 3000


def expected_interval(schedule: str) -> float:
    """The longest gap, in seconds, between two runs of the cron ``schedule`` (UTC; five
    fields, or six with seconds last): over 400 days from a fixed Friday, or its first 3,000
    runs. ``0 3 * * *`` -> 86400; ``0 3 * * 1-5`` -> 3 days (Friday to Monday)."""
    from croniter import croniter

    it = croniter(schedule, _ANCHOR)
    previous = float(it.get_next(float))
    end = previous + _SPAN
    gap = 0.0
    for _ in range(_MAX_RUNS):
        following = float(it.get_next(float))
        gap = max(gap, following - previous)
        previous = following
        if following > end:
            break
    return gap


_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def prom_duration(seconds: float) -> str:
    """``129600`` -> ``1d12h``; ``90`` -> ``1m30s``; ``0.5`` -> ``500ms`` (Prometheus syntax)."""
    millis = round(seconds * 1000)
    if millis <= 0:
        return "0s"
    whole, rest = divmod(millis, 1000)
    out = ""
    for unit, size in _UNITS:
        count, whole = divmod(whole, size)
        if count:
            out += f"{count}{unit}"
    return out + (f"{rest}ms" if rest else "")


def _quote(value: str) -> str:
    return json.dumps(value)  # a PromQL string literal: Go's escapes are JSON's


def _selector(
    metric: str,
    matchers: Mapping[str, str],
    regex: Mapping[str, str] | None = None,
    unequal: Mapping[str, str] | None = None,
) -> str:
    parts = [f"{k}={_quote(v)}" for k, v in matchers.items()]
    parts += [f"{k}=~{_quote(v)}" for k, v in (regex or {}).items()]
    parts += [f"{k}!={_quote(v)}" for k, v in (unequal or {}).items()]
    return metric + ("{" + ", ".join(parts) + "}" if parts else "")


_REGEX_SPECIAL = re.compile(r"([\\.^$*+?()\[\]{}|])")


def _alternation(values: Iterable[str]) -> str:
    """A PromQL (RE2) regex matching exactly ``values`` (names: only ``.`` needs escaping)."""
    return "|".join(_REGEX_SPECIAL.sub(r"\\\1", v) for v in values)


def _number(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


def _by(labels: Sequence[str]) -> str:
    return f" by ({', '.join(labels)})" if labels else ""


def _pct(value: float) -> str:
    return f"{_number(round(value * 100, 6))} %"


# --- the model of a preset rule and its test ----------------------------------------------


@dataclass(frozen=True)
class Series:
    """One input series of a promtool test: its metric, labels and values (promtool's
    expanding notation, one value per ``step``)."""

    metric: str
    labels: Mapping[str, str]
    values: str

    @property
    def text(self) -> str:
        return _selector(self.metric, self.labels)


@dataclass(frozen=True)
class Scenario:
    """Synthetic series, evaluated at ``at`` steps: the alert fires with the series labels of
    each of ``fires`` (empty: it stays quiet)."""

    name: str
    series: tuple[Series, ...]
    at: int
    fires: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True)
class PresetRule:
    """One alert rule of a preset group, with a firing and a healthy scenario."""

    alert: str
    expr: str
    for_: float
    labels: Mapping[str, str]
    summary: str
    description: str
    runbook: str | None
    firing: Scenario
    healthy: Scenario
    metrics: tuple[str, ...] = field(default=())

    @property
    def title(self) -> str:
        """``BackupTooOld[db] (critical)``: unique in its group (its tests are named by it)."""
        target = self.labels.get("target")
        return f"{self.alert}{f'[{target}]' if target else ''} ({self.labels[contract.SEVERITY]})"

    def rule(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alert": self.alert, "expr": self.expr}
        if self.for_ > 0:
            out["for"] = prom_duration(self.for_)
        out["labels"] = dict(self.labels)
        out["annotations"] = self.annotations_template()
        return out

    def annotations_template(self) -> dict[str, str]:
        notes = {"summary": self.summary, "description": self.description}
        if self.runbook:
            notes["runbook_url"] = self.runbook
        return notes

    def expected(self, series_labels: Mapping[str, str]) -> dict[str, Any]:
        """The alert promtool must see for a firing series with ``series_labels``."""
        every = {**series_labels, **self.labels}
        notes = {key: _render(text, every) for key, text in self.annotations_template().items()}
        return {"exp_labels": every, "exp_annotations": notes}


_LABEL_REF = re.compile(r"\{\{ \$labels\.([a-zA-Z_][a-zA-Z0-9_]*) \}\}")


def _render(text: str, values: Mapping[str, str]) -> str:
    return _LABEL_REF.sub(lambda m: values.get(m.group(1), ""), text)


@dataclass
class _Group:
    """What the builders of one group share: its rule labels and series matchers."""

    name: str
    presets: PresetsConfig
    config: PresetGroupConfig
    step: int = 60
    rules: list[PresetRule] = field(default_factory=list)

    @property
    def match(self) -> dict[str, str]:
        return dict(self.config.match)

    def labels(self, alert: PresetAlertConfig) -> dict[str, str]:
        out = {**self.presets.labels, **self.config.labels, **alert.labels}
        out[contract.SEVERITY] = alert.severity
        out[contract.SERVICE] = self.config.service or self.presets.service
        team = self.config.team or self.presets.team
        if team:
            out[contract.TEAM] = team
        out[contract.SOURCE] = contract.SOURCE_PRESET
        out[contract.PRESET] = self.name
        return out

    def sel(
        self,
        metric: str,
        matchers: Mapping[str, str] | None = None,
        *,
        regex: Mapping[str, str] | None = None,
        unequal: Mapping[str, str] | None = None,
    ) -> str:
        return _selector(metric, {**self.match, **(matchers or {})}, regex, unequal)

    def series(self, metric: str, labels: Mapping[str, str], values: str) -> Series:
        return Series(metric, {**labels, **self.match}, values)

    def steps(self, seconds: float) -> int:
        return max(1, math.ceil(seconds / self.step))

    def add(
        self,
        alert: PresetAlertConfig,
        name: str,
        expr: str,
        summary: str,
        description: str,
        firing: Scenario,
        healthy: Scenario,
        *,
        metrics: Sequence[str],
        for_: float | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self.rules.append(
            PresetRule(
                alert=name,
                expr=expr,
                for_=alert.for_ if for_ is None else for_,
                labels={**(labels or {}), **self.labels(alert)},
                summary=summary,
                description=description,
                runbook=alert.runbook,
                firing=firing,
                healthy=healthy,
                metrics=tuple(metrics),
            )
        )


def _kept(labels: Mapping[str, str], by: Sequence[str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k in by}


def _with_by(labels: Mapping[str, str], by: Sequence[str]) -> dict[str, str]:
    """``labels`` plus a test value for every aggregation label they lack."""
    return {**{b: f"test-{b}" for b in by}, **labels}


# --- system --------------------------------------------------------------------------------


_DB_ALERTS = {
    "postgresql": "PostgresqlUnreachable",
    "mariadb": "MariadbUnreachable",
    "redis": "RedisUnreachable",
}
_DB_TITLES = {"postgresql": "PostgreSQL", "mariadb": "MariaDB", "redis": "Redis"}


def _system(g: _Group, config: ButtressConfig) -> None:
    c: SystemPresetConfig = g.config  # type: ignore[assignment]
    if c.target_down.enabled:
        down = c.target_down
        n = g.steps(down.for_) + 5
        target = {"job": "api", "instance": "api-1:8000"}
        g.add(
            down,
            contract.TARGET_DOWN_ALERT,
            f"{g.sel('up')} == 0",
            "Target {{ $labels.instance }} of {{ $labels.job }} is down",
            f"Prometheus could not scrape {{{{ $labels.instance }}}} (job {{{{ $labels.job }}}}) "
            f"for {prom_duration(down.for_)}.",
            Scenario("down", (g.series("up", target, f"0x{n}"),), n, ({**target, **g.match},)),
            Scenario("up", (g.series("up", target, f"1x{n}"),), n),
            metrics=("up",),
        )
    if c.database_unreachable.enabled:
        db = c.database_unreachable
        n = g.steps(db.for_) + 5
        for kind in db.kinds:
            checks = [chk.name for chk in config.health.checks if chk.type == kind]
            use_checks = db.source == "health_checks" or (db.source == "auto" and bool(checks))
            title = _DB_TITLES[kind]
            if use_checks:
                if not checks:
                    continue  # `check` reports the source without any check
                metric = names.HEALTH_CHECK_UP
                expr = f"{g.sel(metric, regex={'check': _alternation(checks)})} == 0"
                base = {"check": checks[0], "job": "buttress", "instance": "buttress-1:8000"}
                what = "buttress's health check {{ $labels.check }}"
            else:
                metric = getattr(db, f"{kind}_metric")
                expr = f"{g.sel(metric)} == 0"
                base = {"job": f"{kind}-exporter", "instance": f"{kind}-1:9100"}
                what = f"the exporter {{{{ $labels.instance }}}} ({metric})"
            g.add(
                db,
                _DB_ALERTS[kind],
                expr,
                f"{title} is unreachable",
                f"{title} did not answer {what} for {prom_duration(db.for_)}.",
                Scenario(
                    "down",
                    (g.series(metric, base, f"0x{n}"),),
                    n,
                    ({**base, **g.match},),
                ),
                Scenario("up", (g.series(metric, base, f"1x{n}"),), n),
                metrics=(metric,),
            )
    if c.pod_restarting.enabled:
        pods = c.pod_restarting
        window = prom_duration(pods.window)
        n = g.steps(pods.window + pods.for_) + 5
        pod = {"namespace": "shop", "pod": "api-1", "container": "api", "job": "kube-state"}
        per_step = math.ceil((pods.restarts + 1) * 2 * g.step / pods.window) + 1
        g.add(
            pods,
            "PodRestarting",
            f"increase({g.sel(pods.metric)}[{window}]) > {pods.restarts}",
            "Pod {{ $labels.namespace }}/{{ $labels.pod }} is restarting",
            f"Container {{{{ $labels.container }}}} of pod {{{{ $labels.namespace }}}}/"
            f"{{{{ $labels.pod }}}} restarted more than {pods.restarts} times in {window}.",
            Scenario(
                "restarting",
                (g.series(pods.metric, pod, f"0+{per_step}x{n}"),),
                n,
                ({**pod, **g.match},),
            ),
            Scenario("steady", (g.series(pods.metric, pod, f"5x{n}"),), n),
            metrics=(pods.metric,),
        )


# --- performance ---------------------------------------------------------------------------


def _performance(g: _Group, config: ButtressConfig) -> None:
    c: PerformancePresetConfig = g.config  # type: ignore[assignment]
    if c.latency.enabled:
        lat = c.latency
        bucket = f"{lat.histogram}_bucket"
        window = prom_duration(lat.window)
        n = g.steps(lat.window + lat.for_) + 5
        q = _number(lat.quantile)
        expr = (
            f"histogram_quantile({q}, sum{_by(['le', *lat.by])} "
            f"(rate({g.sel(bucket)}[{window}]))) > {_number(lat.bound)}"
        )
        base = _with_by({"job": "api", "instance": "api-1:8000", "route": "/"}, lat.by)
        bounds = (lat.bound / 2, lat.bound, lat.bound * 4)

        def buckets(slow: bool) -> tuple[Series, ...]:
            # slow: every observation in (bound, 4 x bound]; fast: every one under bound / 2
            out = []
            for le in (*bounds, math.inf):
                count = 0 if slow and le <= lat.bound else 60
                label = "+Inf" if le == math.inf else _number(le)
                out.append(g.series(bucket, {**base, "le": label}, f"0+{count}x{n}"))
            return tuple(out)

        quantile = f"p{_number(round(lat.quantile * 100, 4))}"
        g.add(
            lat,
            f"HighLatency{quantile.upper()}".replace(".", "_"),
            expr,
            f"{quantile} latency of {{{{ $labels.job }}}} is over {_number(lat.bound)}s",
            f"The {quantile} of {lat.histogram} on {{{{ $labels.instance }}}} has been over "
            f"{_number(lat.bound)}s for {prom_duration(lat.for_)}.",
            Scenario("slow", buckets(True), n, (_kept({**base, **g.match}, lat.by),)),
            Scenario("fast", buckets(False), n),
            metrics=(bucket,),
        )
    if c.error_rate.enabled:
        err = c.error_rate
        window = prom_duration(err.window)
        n = g.steps(err.window + err.for_) + 5
        errors = f"sum{_by(err.by)} (rate({g.sel(err.metric, regex=err.errors_match)}[{window}]))"
        total = f"sum{_by(err.by)} (rate({g.sel(err.metric)}[{window}]))"
        base = _with_by({"job": "api", "instance": "api-1:8000"}, err.by)
        ok = {**base, **dict.fromkeys(err.errors_sample, "ok")}
        bad = {**base, **err.errors_sample}
        failing = math.ceil(100 * (1 + err.bound) / 2)  # errors per 100 requests: over bound
        g.add(
            err,
            "HighErrorRate",
            f"{errors} / {total} > {_number(err.bound)}",
            "Error rate of {{ $labels.job }} is over " + _pct(err.bound),
            f"More than {_pct(err.bound)} of the requests to {{{{ $labels.instance }}}} failed "
            f"over {window}, for {prom_duration(err.for_)}.",
            Scenario(
                "failing",
                (
                    g.series(err.metric, ok, f"0+{100 - failing}x{n}"),
                    g.series(err.metric, bad, f"0+{failing}x{n}"),
                ),
                n,
                (_kept({**base, **g.match}, err.by),),
            ),
            Scenario(
                "healthy",
                (g.series(err.metric, ok, f"0+60x{n}"), g.series(err.metric, bad, f"3x{n}")),
                n,
            ),
            metrics=(err.metric,),
        )
    host = {"job": "node", "instance": "host-1:9100"}
    proc = {"job": "api", "instance": "api-1:8000"}
    if c.cpu.enabled:
        busy = c.cpu
        window = prom_duration(busy.window)
        n = g.steps(busy.window + busy.for_) + 5
        if c.resources == "node":
            metric = "node_cpu_seconds_total"
            idle = g.sel(metric, {"mode": "idle"})
            expr = f"(1 - avg by (job, instance) (rate({idle}[{window}]))) > {_number(busy.bound)}"
            labels = {**host, "cpu": "0", "mode": "idle"}
            busy_idle = _number(round(g.step * (1 - busy.bound) / 2, 6))
            firing: tuple[Series, ...] = (g.series(metric, labels, f"0+{busy_idle}x{n}"),)
            healthy: tuple[Series, ...] = (g.series(metric, labels, f"0+{g.step}x{n}"),)
            kept = {**host, **_kept(g.match, ["job", "instance"])}
        else:
            metric = "process_cpu_seconds_total"
            expr = f"rate({g.sel(metric)}[{window}]) / {_number(c.cores)} > {_number(busy.bound)}"
            seconds = _number(round(g.step * c.cores * (1 + busy.bound) / 2, 6))
            firing = (g.series(metric, proc, f"0+{seconds}x{n}"),)
            healthy = (g.series(metric, proc, f"0x{n}"),)
            kept = {**proc, **g.match}
        g.add(
            busy,
            "HighCpuUsage",
            expr,
            "CPU of {{ $labels.instance }} is over " + _pct(busy.bound),
            f"CPU ({c.resources}) on {{{{ $labels.instance }}}} has been over {_pct(busy.bound)} "
            f"for {prom_duration(busy.for_)}.",
            Scenario("busy", firing, n, (kept,)),
            Scenario("idle", healthy, n),
            metrics=(metric,),
        )
    for level, mem in (("High", c.memory_warning), ("Critical", c.memory_critical)):
        if not mem.enabled:
            continue
        n = g.steps(mem.for_) + 5
        total_bytes = 1_000_000_000
        free = str(math.floor(total_bytes * (1 - mem.bound) / 2))
        if c.resources == "node":
            avail, total = "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes"
            expr = f"(1 - {g.sel(avail)} / {g.sel(total)}) > {_number(mem.bound)}"
            firing = (
                g.series(avail, host, f"{free}x{n}"),
                g.series(total, host, f"{total_bytes}x{n}"),
            )
            healthy = (
                g.series(avail, host, f"{total_bytes}x{n}"),
                g.series(total, host, f"{total_bytes}x{n}"),
            )
            kept, of = {**host, **g.match}, "MemTotal"
            metrics: tuple[str, ...] = (avail, total)
        else:
            limit = c.memory_limit_bytes or 1
            rss = "process_resident_memory_bytes"
            expr = f"{g.sel(rss)} / {limit} > {_number(mem.bound)}"
            used = str(math.ceil(limit * (1 + mem.bound) / 2))
            firing = (g.series(rss, proc, f"{used}x{n}"),)
            healthy = (g.series(rss, proc, f"0x{n}"),)
            kept, of = {**proc, **g.match}, f"its limit of {limit} bytes"
            metrics = (rss,)
        g.add(
            mem,
            f"MemoryUsage{level}",
            expr,
            "Memory of {{ $labels.instance }} is over " + _pct(mem.bound),
            f"{{{{ $labels.instance }}}} has used more than {_pct(mem.bound)} of {of} for "
            f"{prom_duration(mem.for_)}.",
            Scenario("full", firing, n, (kept,)),
            Scenario("empty", healthy, n),
            metrics=metrics,
        )


# --- security ------------------------------------------------------------------------------


def _security(g: _Group, config: ButtressConfig) -> None:
    c: SecurityPresetConfig = g.config  # type: ignore[assignment]
    logins = c.failed_logins
    metric = logins.metric
    if logins.enabled and metric:
        window = prom_duration(logins.window)
        n = g.steps(logins.window + logins.for_) + 5
        base = _with_by({"job": "auth", "instance": "auth-1:8000"}, logins.by)
        per_step = math.ceil(logins.per_minute * 2 * g.step / 60) + 1
        quiet = math.floor(logins.per_minute * g.step / 60 / 2)  # half the bound, or none
        g.add(
            logins,
            "FailedLoginsHigh",
            f"sum{_by(logins.by)} (rate({g.sel(metric)}[{window}])) * 60 > "
            f"{_number(logins.per_minute)}",
            f"More than {_number(logins.per_minute)} failed logins a minute",
            f"Failed logins ({metric}) on {{{{ $labels.instance }}}} have been over "
            f"{_number(logins.per_minute)} a minute for {prom_duration(logins.for_)}.",
            Scenario(
                "attack",
                (g.series(metric, base, f"0+{per_step}x{n}"),),
                n,
                (_kept({**base, **g.match}, logins.by),),
            ),
            Scenario("quiet", (g.series(metric, base, f"0+{quiet}x{n}"),), n),
            metrics=(metric,),
        )
    if c.rate_limit_surge.enabled:
        r = c.rate_limit_surge
        window, baseline = prom_duration(r.window), prom_duration(r.baseline)
        sel = g.sel(r.metric, {"kind": r.kind})
        now = f"sum{_by(r.by)} (rate({sel}[{window}]))"
        before = f"sum{_by(r.by)} (rate({sel}[{baseline}] offset {window}))"
        expr = f"({now} > {_number(r.min_rate)}) unless ({now} <= {_number(r.factor)} * {before})"
        base = _with_by({"job": "api", "instance": "api-1:8000", "policy": "login"}, r.by)
        labels = {**base, "kind": r.kind}
        quiet = g.steps(r.baseline + r.window) + 5
        surge = g.steps(r.window + r.for_) + 2
        per_step = math.ceil(max(r.min_rate, 1.0) * 10 * g.step)
        steady = math.ceil(max(r.min_rate, 1.0) * 2 * g.step)
        g.add(
            r,
            "RateLimitRejectionsSurging",
            expr,
            "Rate-limit rejections of {{ $labels.policy }} are surging",
            f"The rate limiter {{{{ $labels.policy }}}} rejects more than {_number(r.min_rate)} "
            f"calls a second over {window}, over {_number(r.factor)} times its rate of the "
            f"{baseline} before.",
            Scenario(
                "surge",
                (g.series(r.metric, labels, f"0x{quiet} 0+{per_step}x{surge}"),),
                quiet + surge,
                (_kept({**labels, **g.match}, r.by),),
            ),
            Scenario(
                "steady",
                (g.series(r.metric, labels, f"0+{steady}x{quiet + surge}"),),
                quiet + surge,
            ),
            metrics=(r.metric,),
        )


# --- business ------------------------------------------------------------------------------


def _business(g: _Group, config: ButtressConfig) -> None:
    c: BusinessPresetConfig = g.config  # type: ignore[assignment]
    o = c.order_volume
    # the tests' step: 2.5 samples per rate window at least (a week of 1m steps is slow)
    g.step = max(60, math.floor(min(o.window, c.payments_window) / 2.5 / 60) * 60)
    if o.enabled and o.metric:
        metric = o.metric
        window, compare = prom_duration(o.window), prom_duration(o.compare_to)
        now = f"sum{_by(o.by)} (rate({g.sel(metric)}[{window}]))"
        before = f"sum{_by(o.by)} (rate({g.sel(metric)}[{window}] offset {compare}))"
        keep = 1 - o.drop
        base = _with_by({"job": "shop", "instance": "shop-1:8000"}, o.by)
        dropped = g.steps(o.window + o.for_) + 5
        total = g.steps(o.compare_to) + dropped
        normal = 100
        low = max(0, math.floor(normal * keep / 2))
        start = normal * (total - dropped)
        g.add(
            o,
            "OrderVolumeDropped",
            f"{now} < {_number(round(keep, 6))} * {before}",
            f"Orders dropped by more than {_pct(o.drop)}",
            f"Orders ({metric}) over {window} are more than {_pct(o.drop)} below the same "
            f"time {compare} earlier, for {prom_duration(o.for_)}.",
            Scenario(
                "dropped",
                (
                    g.series(
                        metric,
                        base,
                        f"0+{normal}x{total - dropped} {start}+{low}x{dropped}",
                    ),
                ),
                total,
                (_kept({**base, **g.match}, o.by),),
            ),
            Scenario("normal", (g.series(metric, base, f"0+{normal}x{total}"),), total),
            metrics=(metric,),
        )
    failed, total_metric = c.payments_failed_metric, c.payments_total_metric
    for level, pay in (
        ("High", c.payment_failures_warning),
        ("Critical", c.payment_failures_critical),
    ):
        if not (pay.enabled and failed and total_metric):
            continue
        window = prom_duration(c.payments_window)
        n = g.steps(c.payments_window + pay.for_) + 5
        ratio = (
            f"sum{_by(c.payments_by)} (rate({g.sel(failed)}[{window}])) / "
            f"sum{_by(c.payments_by)} (rate({g.sel(total_metric)}[{window}]))"
        )
        base = _with_by({"job": "shop", "instance": "shop-1:8000"}, c.payments_by)
        bad = math.ceil(100 * (1 + pay.bound) / 2)
        g.add(
            pay,
            f"PaymentFailures{level}",
            f"{ratio} > {_number(pay.bound)}",
            f"More than {_pct(pay.bound)} of payments fail",
            f"More than {_pct(pay.bound)} of payments ({failed} / {total_metric}) failed over "
            f"{window}, for {prom_duration(pay.for_)}.",
            Scenario(
                "failing",
                (
                    g.series(failed, base, f"0+{bad}x{n}"),
                    g.series(total_metric, base, f"0+100x{n}"),
                ),
                n,
                (_kept({**base, **g.match}, c.payments_by),),
            ),
            Scenario(
                "healthy",
                (g.series(failed, base, f"1x{n}"), g.series(total_metric, base, f"0+100x{n}")),
                n,
            ),
            metrics=(failed, total_metric),
        )


# --- backups -------------------------------------------------------------------------------


def backup_bounds(config: ButtressConfig) -> dict[str, tuple[float, str]]:
    """Per backup target the preset covers: the age past which its newest good backup is too
    old (``max_age``, or ``factor`` x :func:`expected_interval` of its schedule) and where the
    bound comes from; targets with neither are left out."""
    c = config.alerting.presets.backups
    out: dict[str, tuple[float, str]] = {}
    for target in config.backup.targets:
        if c.targets is not None and target.name not in c.targets:
            continue
        if target.name in c.stale.max_age:
            out[target.name] = (c.stale.max_age[target.name], "its max_age")
        elif target.schedule:
            gap = expected_interval(target.schedule)
            out[target.name] = (
                math.ceil(gap * c.stale.factor),
                f"{_number(c.stale.factor)} x the {prom_duration(gap)} between runs of its "
                f"schedule {target.schedule}",
            )
    return out


def _backup_step(bounds: Mapping[str, tuple[float, str]], size_for: float) -> int:
    """The tests' step: a third of the shortest bound (less the size alert's ``for``), in whole
    minutes: a daily target's tests run a few steps of 12h, not 2,000 minutes. Every backup
    rule reads gauges at the very times the synthetic samples are, so no rate window needs
    finer samples; the shrunk size and the previous one are both within the bound."""
    if not bounds:
        return 60
    shortest = min(bound - size_for for bound, _ in bounds.values())
    return max(60, math.floor(shortest / 3 / 60) * 60)


def _backups(g: _Group, config: ButtressConfig) -> None:
    c: BackupsPresetConfig = g.config  # type: ignore[assignment]
    bounds = backup_bounds(config)
    g.step = _backup_step(bounds, c.size_drop.for_ if c.size_drop.enabled else 0.0)
    where = {"job": "buttress", "instance": "buttress-1:8000"}
    chosen = c.targets if c.targets is not None else [t.name for t in config.backup.targets]
    last, failures = names.BACKUP_LAST_SUCCESS, f"{names.BACKUP_FAILURES}_total"
    size = names.BACKUP_LAST_SIZE
    for target, (bound, reason) in bounds.items():
        t = {"target": target}
        if c.stale.enabled:
            stale = c.stale
            n = g.steps(bound + stale.for_) + 2
            labels = {**where, **t}
            g.add(
                stale,
                "BackupTooOld",
                f"time() - {g.sel(last, t)} > {_number(bound)}",
                "No recent backup of {{ $labels.target }}",
                f"The newest successful backup of {target} is older than {prom_duration(bound)} "
                f"({reason}).",
                Scenario("stale", (g.series(last, labels, f"0x{n}"),), n, ({**labels, **g.match},)),
                Scenario("fresh", (g.series(last, labels, f"0+{g.step}x{n}"),), n),
                metrics=(last,),
                labels=t,
            )
            never = g.steps(bound) + 2
            g.add(
                stale,
                "BackupNeverSucceeded",
                f"{g.sel(failures, t)} unless on (target) {g.sel(last, t)}",
                "{{ $labels.target }} has no successful backup",
                f"buttress has no successful backup of {target} at all, for "
                f"{prom_duration(bound)}.",
                Scenario(
                    "never",
                    (g.series(failures, labels, f"0x{never}"),),
                    never,
                    ({**labels, **g.match},),
                ),
                Scenario(
                    "once",
                    (
                        g.series(failures, labels, f"0x{never}"),
                        g.series(last, labels, f"0+{g.step}x{never}"),
                    ),
                    never,
                ),
                metrics=(failures, last),
                for_=bound,
                labels=t,
            )
        if c.size_drop.enabled:
            s = c.size_drop
            sized = {**where, **t, "kind": s.kind}
            selector = g.sel(size, {**t, "kind": s.kind})
            n = 3  # steps at the previous size; then the new size for `for`, and a step
            m = g.steps(s.for_)
            g.add(
                s,
                "BackupSizeDropped",
                f"{selector} < {_number(s.ratio)} * "
                f"max_over_time({selector}[{prom_duration(bound)}])",
                "Backup of {{ $labels.target }} shrank by more than half"
                if s.ratio == 0.5
                else f"Backup of {{{{ $labels.target }}}} is under {_pct(s.ratio)} of the previous",
                f"The newest backup of {target} ({s.kind} size) is under {_pct(s.ratio)} of the "
                f"largest in the {prom_duration(bound)} before: data lost upstream?",
                Scenario(
                    "shrunk",
                    (g.series(size, sized, f"1000x{n} {math.floor(500 * s.ratio)}x{m}"),),
                    n + m + 1,
                    ({**sized, **g.match},),
                ),
                Scenario("grown", (g.series(size, sized, f"1000x{n} 1100x{m}"),), n + m + 1),
                metrics=(size,),
                labels=t,
            )
    verified = names.BACKUP_LAST_VERIFIED
    matched = {"target": _alternation(chosen)} if c.targets is not None else {}
    sample_target = chosen[0] if chosen else "db"
    for check, verify, alert, what in (
        ("checksums", c.verify_failed, "BackupVerifyFailed", "failed its checksum verification"),
        (
            "restore_test",
            c.restore_test_failed,
            "BackupRestoreTestFailed",
            "failed its restore test",
        ),
    ):
        if not verify.enabled:
            continue
        n = g.steps(verify.for_) + 3
        labels = {**where, "target": sample_target, "check": check}
        g.add(
            verify,
            alert,
            f"{g.sel(verified, {'check': check}, regex=matched)} == 0",
            f"Backup of {{{{ $labels.target }}}} {what}",
            f"The newest good backup of {{{{ $labels.target }}}} {what}: it may not restore.",
            Scenario(
                "failed", (g.series(verified, labels, f"0x{n}"),), n, ({**labels, **g.match},)
            ),
            Scenario("passed", (g.series(verified, labels, f"1x{n}"),), n),
            metrics=(verified,),
        )


# --- buttress itself -----------------------------------------------------------------------


def degradation_index(config: ButtressConfig) -> int | None:
    """The index of the buttress preset's degradation ``level`` (None: a name that is not one
    of ``health.degradation``'s levels)."""
    level = config.alerting.presets.buttress.degradation.level
    if isinstance(level, int):
        return level
    section = config.health.degradation
    levels = section.names if section is not None else []
    return levels.index(level) if level in levels else None


def _buttress(g: _Group, config: ButtressConfig) -> None:
    c: ButtressPresetConfig = g.config  # type: ignore[assignment]
    where = {"job": "app", "instance": "app-1:8000"}
    if c.breaker_open.enabled:
        breaker = c.breaker_open
        metric = names.BREAKER_STATE
        n = g.steps(breaker.for_) + 5
        open_ = {**where, "policy": "payments", "state": "open"}
        g.add(
            breaker,
            "CircuitBreakerOpen",
            f"{g.sel(metric, {'state': 'open'})} == 1",
            "Circuit breaker {{ $labels.policy }} is open",
            f"The breaker of policy {{{{ $labels.policy }}}} on {{{{ $labels.instance }}}} has "
            f"been open for {prom_duration(breaker.for_)}: its calls fail fast.",
            Scenario("open", (g.series(metric, open_, f"1x{n}"),), n, ({**open_, **g.match},)),
            Scenario("closed", (g.series(metric, open_, f"0x{n}"),), n),
            metrics=(metric,),
        )
    index = degradation_index(config)
    if c.degradation.enabled and index is not None:
        degr = c.degradation
        metric = names.DEGRADATION_LEVEL
        n = g.steps(degr.for_) + 5
        g.add(
            degr,
            "DegradationLevelHigh",
            f"{g.sel(metric)} >= {index}",
            f"buttress degraded to level {index} or above",
            f"The degradation level of {{{{ $labels.instance }}}} has been at or above "
            f"{c.degradation.level} (index {index}) for {prom_duration(degr.for_)}: features are "
            "off.",
            Scenario(
                "degraded", (g.series(metric, where, f"{index}x{n}"),), n, ({**where, **g.match},)
            ),
            Scenario("normal", (g.series(metric, where, f"{index - 1}x{n}"),), n),
            metrics=(metric,),
        )
    if c.health_score.enabled:
        score = c.health_score
        metric = names.HEALTH_SCORE
        n = g.steps(score.for_) + 5
        g.add(
            score,
            "HealthScoreLow",
            f"{g.sel(metric)} < {_number(score.bound)}",
            f"Health score under {_number(score.bound)}",
            f"The health score of {{{{ $labels.instance }}}} has been under {_number(score.bound)} "
            f"(of 100) for {prom_duration(score.for_)}: dependencies are failing.",
            Scenario(
                "low",
                (g.series(metric, where, f"{_number(score.bound / 2)}x{n}"),),
                n,
                ({**where, **g.match},),
            ),
            Scenario("high", (g.series(metric, where, f"100x{n}"),), n),
            metrics=(metric,),
        )
    if c.state_store_fallback.enabled:
        store = c.state_store_fallback
        metric = names.STATE_STORE_MODE
        n = g.steps(store.for_) + 5
        local = {**where, "policy": "api-limit", "mode": "local"}
        shared = {**where, "policy": "api-limit", "mode": "shared"}
        g.add(
            store,
            "StateStoreFallback",
            f"{g.sel(metric, unequal={'mode': 'shared'})} == 1",
            "Policy {{ $labels.policy }} is not sharing its state",
            "The Redis state store does not answer policy {{ $labels.policy }} on "
            "{{ $labels.instance }}: it runs in {{ $labels.mode }} mode (per process) for "
            f"{prom_duration(store.for_)} or more.",
            Scenario(
                "fallback",
                (g.series(metric, local, f"1x{n}"), g.series(metric, shared, f"0x{n}")),
                n,
                ({**local, **g.match},),
            ),
            Scenario(
                "shared",
                (g.series(metric, local, f"0x{n}"), g.series(metric, shared, f"1x{n}")),
                n,
            ),
            metrics=(metric,),
        )


_BUILDERS: dict[str, Callable[[_Group, ButtressConfig], None]] = {
    "system": _system,
    "performance": _performance,
    "security": _security,
    "business": _business,
    "backups": _backups,
    "buttress": _buttress,
}


def group_rules(config: ButtressConfig, group: str) -> tuple[list[PresetRule], int]:
    """The rules of one preset ``group`` (enabled or not) and its tests' step in seconds."""
    from buttress.alerting.links import runbook_url

    presets = config.alerting.presets
    g = _Group(group, presets, getattr(presets, group))
    _BUILDERS[group](g, config)
    rules = [
        dataclasses.replace(r, runbook=runbook_url(config, r.runbook)) if r.runbook else r
        for r in g.rules
    ]
    return rules, g.step


def rules_file(group: str, rules: Sequence[PresetRule]) -> str:
    """A Prometheus rule file with the group ``buttress-presets-<group>``."""
    body = {"groups": [{"name": f"buttress-presets-{group}", "rules": [r.rule() for r in rules]}]}
    return _dump(body)


def tests_file(group: str, rules: Sequence[PresetRule], step: int) -> str:
    """The promtool test file of a group: for each rule, its firing and its healthy scenario."""
    tests = []
    for rule in rules:
        for verdict, scenario in (("fires", rule.firing), ("quiet", rule.healthy)):
            tests.append(
                {
                    "name": f"{rule.title} {verdict}: {scenario.name}",
                    "interval": prom_duration(step),
                    "input_series": [
                        {"series": s.text, "values": s.values} for s in scenario.series
                    ],
                    "alert_rule_test": [
                        {
                            "eval_time": prom_duration(scenario.at * step),
                            "alertname": rule.alert,
                            "exp_alerts": [rule.expected(f) for f in scenario.fires],
                        }
                    ],
                }
            )
    body = {
        "rule_files": [f"../{group}.rules.yml"],
        "evaluation_interval": prom_duration(step),
        "tests": tests,
    }
    return _dump(body)


def _dump(body: Mapping[str, Any]) -> str:
    text: str = yaml.safe_dump(dict(body), sort_keys=False, allow_unicode=True, width=1 << 20)
    return text


def generate(config: ButtressConfig) -> list[GeneratedFile]:
    """One rule file and one test file per enabled preset group with at least one rule."""
    from buttress.alerting.generate import GeneratedFile

    files: list[GeneratedFile] = []
    for group in GROUPS:
        if not getattr(config.alerting.presets, group).enabled:
            continue
        rules, step = group_rules(config, group)
        if not rules:
            continue
        files.append(GeneratedFile(f"presets/{group}.rules.yml", "rules", rules_file(group, rules)))
        files.append(
            GeneratedFile(
                f"presets/tests/{group}.test.yml", "rules-test", tests_file(group, rules, step)
            )
        )
    return files


def check(config: ButtressConfig) -> list[tuple[tuple[str | int, ...], str]]:
    """What the models cannot see alone: the backup targets and degradation levels a preset
    names must exist in the same file (path from ``alerting.presets``, message)."""
    from buttress.alerting.links import runbook_problem
    from buttress.config._alert_presets import PresetAlertConfig

    presets = config.alerting.presets
    found: list[tuple[tuple[str | int, ...], str]] = []
    for group in _BUILDERS:
        section = getattr(presets, group)
        if not section.enabled:
            continue
        for key, alert in section:
            if isinstance(alert, PresetAlertConfig) and alert.runbook:
                why = runbook_problem(config, alert.runbook)
                if why is not None:
                    found.append(((group, key, "runbook"), why))
    backups = presets.backups
    known = {t.name: t for t in config.backup.targets}
    if backups.enabled:
        if not known:
            found.append((("backups", "enabled"), "no backup.targets to alert on"))
        for i, name in enumerate(backups.targets or []):
            if name not in known:
                found.append((("backups", "targets", i), f"{name!r} is not one of backup.targets"))
            elif (
                backups.stale.enabled
                and known[name].schedule is None
                and name not in backups.stale.max_age
            ):
                found.append(
                    (
                        ("backups", "targets", i),
                        f"target {name!r} has no schedule: give stale.max_age.{name} (the age "
                        "its newest backup must not exceed)",
                    )
                )
        if backups.size_drop.enabled and backups.size_drop.for_ > 0:
            for name, (bound, _) in backup_bounds(config).items():
                if backups.size_drop.for_ >= bound:
                    found.append(
                        (
                            ("backups", "size_drop", "for"),
                            f"must be shorter than the bound of target {name!r} "
                            f"({prom_duration(bound)}): the previous size is looked for within it",
                        )
                    )
                    break
        for name in backups.stale.max_age:
            if name not in known:
                found.append(
                    (
                        ("backups", "stale", "max_age", name),
                        f"{name!r} is not one of backup.targets",
                    )
                )
    level = presets.buttress.degradation
    if presets.buttress.enabled and level.enabled:
        section = config.health.degradation
        levels = section.names if section is not None else []
        if isinstance(level.level, str) and level.level not in levels:
            where = ", ".join(levels) if levels else "none: health.degradation is not set"
            found.append(
                (
                    ("buttress", "degradation", "level"),
                    f"{level.level!r} is not a degradation level (levels: {where})",
                )
            )
        elif isinstance(level.level, int) and levels and level.level >= len(levels):
            found.append(
                (
                    ("buttress", "degradation", "level"),
                    f"index {level.level} is past the last level ({len(levels) - 1}: {levels[-1]})",
                )
            )
    db = presets.system.database_unreachable
    if presets.system.enabled and db.enabled and db.source == "health_checks":
        types = {c.type for c in config.health.checks}
        lacking = [kind for kind in db.kinds if kind not in types]
        if lacking:
            found.append(
                (
                    ("system", "database_unreachable", "source"),
                    "health_checks: health.checks has no check of type "
                    + ", ".join(lacking)
                    + " (list only the kinds it checks, or source: auto)",
                )
            )
    return found
