"""The preset alert groups (``alerting.presets``): ready rule groups a user switches on and
tunes. Six groups: ``system`` (target down, databases unreachable, pods restarting),
``performance`` (p99 latency, error rate, CPU, memory), ``security`` (failed logins,
rate-limit rejections surging), ``business`` (order volume dropped, payment failures, on
metrics the user names), ``backups`` (from buttress's backup metrics) and ``buttress`` (breakers,
degradation level, health score, state store in fallback).

Each group has ``enabled`` (off by default), ``service``/``team``/``labels`` (the routing labels
of its alerts) and ``match`` (label matchers added to every series it reads); each alert of a
group has ``enabled``, ``severity``, ``for``, ``labels``, ``runbook`` and its own thresholds.

Metric names are checked here: a ``buttress_*`` name must be one buttress exports
(:mod:`buttress.metric_names`), any other must be a valid Prometheus metric name, and an enabled
business alert needs the metrics it reads. Checks that need other sections (backup targets,
degradation levels) run in the validation step (:mod:`buttress.alerting.presets`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from buttress import metric_names
from buttress.config._base import NAME_PATTERN, Section, raise_at
from buttress.config._types import Duration, PositiveDuration

__all__ = [
    "BackupsPresetConfig",
    "BusinessPresetConfig",
    "ButtressPresetConfig",
    "PerformancePresetConfig",
    "PresetAlertConfig",
    "PresetGroupConfig",
    "PresetsConfig",
    "SecurityPresetConfig",
    "SystemPresetConfig",
    "exported_metric_names",
]

METRIC_PATTERN = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_PATTERN = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_LABELS = frozenset(
    {"alertname", "severity", "service", "team", "buttress_source", "preset"}
)
"""Labels a preset sets itself (the label contract of buttress.alerting.labels)."""

_SUFFIXES = ("", "_total", "_created", "_bucket", "_count", "_sum")


def exported_metric_names() -> frozenset[str]:
    """Every name of :mod:`buttress.metric_names`, with the suffixes Prometheus series of a
    counter or histogram add (``_total``, ``_bucket``, ``_count``, ``_sum``, ``_created``)."""
    bases = [
        value
        for key, value in vars(metric_names).items()
        if key.isupper() and key != "PREFIX" and isinstance(value, str)
    ]
    return frozenset(base + suffix for base in bases for suffix in _SUFFIXES)


def metric_problem(name: str) -> str | None:
    """Why ``name`` cannot be a preset's metric, or None."""
    if not METRIC_PATTERN.fullmatch(name):
        return f"{name!r} is not a valid Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
    if name.startswith(f"{metric_names.PREFIX}_") and name not in exported_metric_names():
        return (
            f"buttress exports no metric {name!r} (its metrics are listed in docs/server.md; "
            "a counter's series end in _total, a histogram's in _bucket)"
        )
    return None


def _labels_problems(
    labels: dict[str, str], where: tuple[str | int, ...], *, matchers: bool = False
) -> list[tuple[tuple[str | int, ...], str]]:
    found: list[tuple[tuple[str | int, ...], str]] = []
    for key in labels:
        if not LABEL_PATTERN.fullmatch(key) or key.startswith("__"):
            found.append(((*where, key), f"{key!r} is not a valid label name"))
        elif not matchers and key in RESERVED_LABELS:
            found.append(
                ((*where, key), f"label {key!r} is set by the preset itself (use the field)")
            )
    return found


def _severity(default: str) -> Any:
    return Field(
        default=default, pattern=NAME_PATTERN, description="An alertmanager severity tier."
    )


def _for(default: float) -> Any:
    return Field(
        default=default, alias="for", description="How long the condition holds before it fires."
    )


class PresetAlertConfig(Section):
    """What every alert of a preset group has."""

    enabled: bool = Field(default=True, description="Generate this alert (when its group is on).")
    severity: str = Field(
        default="warning", pattern=NAME_PATTERN, description="An alertmanager severity tier."
    )
    for_: Duration = Field(
        default=300.0, alias="for", description="How long the condition holds before it fires."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Added to the alert.")
    runbook: str | None = Field(
        default=None,
        description="The runbook_url annotation: a URL, or the name of a buttress runbook "
        "(linked at incidents.public_url).",
    )

    @model_validator(mode="after")
    def _labels(self) -> PresetAlertConfig:
        raise_at("preset alert", _labels_problems(self.labels, ("labels",)))
        return self


class PresetGroupConfig(Section):
    """What every preset group has."""

    enabled: bool = Field(default=False, description="Generate this group's rule file.")
    service: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="The service label (default: presets')."
    )
    team: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="The team label (default: presets')."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Added to every alert.")
    match: dict[str, str] = Field(
        default_factory=dict,
        description='Label matchers (equality) added to every series read, e.g. {job: "api"}.',
    )

    @model_validator(mode="after")
    def _check_labels(self) -> PresetGroupConfig:
        raise_at(
            "preset group",
            _labels_problems(self.labels, ("labels",))
            + _labels_problems(self.match, ("match",), matchers=True),
        )
        return self


def _metric(value: str) -> str:
    if problem := metric_problem(value):
        raise ValueError(problem)
    return value


def _label_names(value: list[str]) -> list[str]:
    bad = [name for name in value if not LABEL_PATTERN.fullmatch(name)]
    if bad:
        raise ValueError(f"not valid label names: {', '.join(map(repr, bad))}")
    return value


Metric = Annotated[str, AfterValidator(_metric)]
"""A metric name: valid, and one buttress exports if it starts with ``buttress_``."""

LabelNames = Annotated[list[str], AfterValidator(_label_names)]


# --- system ------------------------------------------------------------------------------


class TargetDownConfig(PresetAlertConfig):
    """``TargetDown``: a scrape target's ``up`` is 0 (keeps its job and instance)."""

    severity: str = _severity("critical")


DatabaseKind = Literal["postgresql", "mariadb", "redis"]
DATABASE_KINDS: tuple[DatabaseKind, ...] = ("postgresql", "mariadb", "redis")


class DatabaseUnreachableConfig(PresetAlertConfig):
    """``PostgresqlUnreachable``, ``MariadbUnreachable``, ``RedisUnreachable``: from buttress's
    own health checks of those types (``buttress_health_check_up``) when ``health.checks`` has
    some, else from the standard exporters' ``pg_up``, ``mysql_up``, ``redis_up``."""

    severity: str = _severity("critical")
    for_: Duration = _for(120.0)
    source: Literal["auto", "health_checks", "exporters"] = Field(
        default="auto",
        description="auto: buttress's health checks of that type if any, else the exporter's.",
    )
    kinds: list[DatabaseKind] = Field(
        default=list(DATABASE_KINDS),
        description="The databases to alert on.",
    )
    postgresql_metric: Metric = Field(default="pg_up", description="postgres_exporter's up gauge.")
    mariadb_metric: Metric = Field(default="mysql_up", description="mysqld_exporter's up gauge.")
    redis_metric: Metric = Field(default="redis_up", description="redis_exporter's up gauge.")


class PodRestartingConfig(PresetAlertConfig):
    """``PodRestarting``: a container restarted more than ``restarts`` times in ``window``."""

    for_: Duration = _for(0.0)
    metric: Metric = Field(default="kube_pod_container_status_restarts_total")
    restarts: int = Field(default=2, ge=0, description="More restarts than this fire.")
    window: PositiveDuration = Field(default=900.0, description="Counted over.")


class SystemPresetConfig(PresetGroupConfig):
    """Target down, PostgreSQL/MariaDB/Redis unreachable, pods restarting."""

    target_down: TargetDownConfig = Field(default_factory=TargetDownConfig)
    database_unreachable: DatabaseUnreachableConfig = Field(
        default_factory=DatabaseUnreachableConfig
    )
    pod_restarting: PodRestartingConfig = Field(default_factory=PodRestartingConfig)


# --- performance -------------------------------------------------------------------------


class LatencyConfig(PresetAlertConfig):
    """``HighLatencyP99``: the ``quantile`` of a histogram above ``bound`` seconds."""

    for_: Duration = _for(600.0)
    histogram: Metric = Field(
        default=metric_names.HTTP_REQUEST_DURATION, description="Its name, without _bucket."
    )
    quantile: float = Field(default=0.99, gt=0, lt=1)
    bound: float = Field(default=1.0, gt=0, description="Seconds.")
    window: PositiveDuration = Field(default=300.0, description="The rate's range.")
    by: LabelNames = Field(default=["job", "instance"])


class ErrorRateConfig(PresetAlertConfig):
    """``HighErrorRate``: errors over all requests above ``bound``."""

    severity: str = _severity("critical")
    metric: Metric = Field(
        default=f"{metric_names.HTTP_REQUESTS}_total", description="Requests (a counter)."
    )
    errors_match: dict[str, str] = Field(
        default={"status": "5.."},
        description="Regex label matchers that pick the errors among the requests.",
    )
    errors_sample: dict[str, str] = Field(
        default={"status": "500"},
        description="A value of each errors_match label that matches it (for the tests).",
    )
    bound: float = Field(default=0.05, gt=0, lt=1, description="Fraction of requests.")
    window: PositiveDuration = Field(default=300.0)
    by: LabelNames = Field(default=["job", "instance"])

    @model_validator(mode="after")
    def _samples(self) -> ErrorRateConfig:
        found = _labels_problems(self.errors_match, ("errors_match",), matchers=True)
        for key, pattern in self.errors_match.items():
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                found.append(((("errors_match", key)), f"not a regular expression: {exc}"))
                continue
            sample = self.errors_sample.get(key)
            if sample is None or not compiled.fullmatch(sample):
                found.append(
                    (
                        ("errors_sample", key),
                        f"give a value of {key!r} that matches {pattern!r} (the generated "
                        "tests use it)",
                    )
                )
        raise_at("error_rate", found)
        return self


class CpuConfig(PresetAlertConfig):
    """``HighCpuUsage``: CPU busy above ``bound`` (node: all cores of the host; process: of
    ``cores``)."""

    bound: float = Field(default=0.8, gt=0, lt=1)
    window: PositiveDuration = Field(default=300.0)


class MemoryConfig(PresetAlertConfig):
    """``MemoryUsageHigh``: memory used above ``bound`` (node: of MemTotal; process: of
    ``memory_limit_bytes``)."""

    bound: float = Field(default=0.85, gt=0, lt=1)


class MemoryCriticalConfig(MemoryConfig):
    """``MemoryUsageCritical``: as ``memory_warning``, a higher bound, critical."""

    severity: str = _severity("critical")
    bound: float = Field(default=0.90, gt=0, lt=1)


class PerformancePresetConfig(PresetGroupConfig):
    """p99 latency, error rate, CPU, memory (warning and critical)."""

    resources: Literal["node", "process"] = Field(
        default="node",
        description="CPU and memory from node_exporter (node_*) or the process (process_*).",
    )
    cores: float = Field(default=1.0, gt=0, description="process: the CPU cores it may use.")
    memory_limit_bytes: int | None = Field(
        default=None, gt=0, description="process: its memory limit (needed with process)."
    )
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    error_rate: ErrorRateConfig = Field(default_factory=ErrorRateConfig)
    cpu: CpuConfig = Field(default_factory=CpuConfig)
    memory_warning: MemoryConfig = Field(default_factory=MemoryConfig)
    memory_critical: MemoryCriticalConfig = Field(default_factory=MemoryCriticalConfig)

    @model_validator(mode="after")
    def _memory_limit(self) -> PerformancePresetConfig:
        if (
            self.memory_warning.enabled
            and self.memory_critical.enabled
            and self.memory_warning.bound >= self.memory_critical.bound
        ):
            raise_at(
                "performance",
                [(("memory_warning", "bound"), "must be under memory_critical's bound")],
            )
        memory = self.memory_warning.enabled or self.memory_critical.enabled
        if self.enabled and memory and self.resources == "process" and not self.memory_limit_bytes:
            raise_at(
                "performance",
                [(("memory_limit_bytes",), "resources: process needs memory_limit_bytes")],
            )
        return self


# --- security ----------------------------------------------------------------------------


class FailedLoginsConfig(PresetAlertConfig):
    """``FailedLoginsHigh``: failed logins (a counter the user names) above ``per_minute``."""

    for_: Duration = _for(120.0)
    metric: Metric | None = Field(default=None, description="Failed logins (a counter).")
    per_minute: float = Field(default=5.0, gt=0)
    window: PositiveDuration = Field(default=300.0)
    by: LabelNames = Field(default=["job", "instance"])


class RateLimitSurgeConfig(PresetAlertConfig):
    """``RateLimitRejectionsSurging``: a rate limiter's rejections per second over ``window``
    above ``min_rate`` and ``factor`` times their rate over the ``baseline`` before."""

    metric: Metric = Field(default=f"{metric_names.RESILIENCE_REJECTIONS}_total")
    kind: str = Field(default="rate_limited", description="The rejections' kind label.")
    min_rate: float = Field(default=1.0, ge=0, description="Per second.")
    factor: float = Field(default=3.0, gt=0)
    window: PositiveDuration = Field(default=300.0)
    baseline: PositiveDuration = Field(default=3600.0)
    by: LabelNames = Field(default=["job", "instance", "policy"])

    @model_validator(mode="after")
    def _baseline(self) -> RateLimitSurgeConfig:
        if self.factor * (self.for_ + self.window) >= self.baseline:
            raise_at(
                "rate_limit_surge",
                [
                    (
                        ("baseline",),
                        "baseline must be longer than factor x (for + window): else it holds "
                        "the surge itself and the alert cannot fire",
                    )
                ],
            )
        return self


class SecurityPresetConfig(PresetGroupConfig):
    """Failed logins over 5 a minute, rate-limit rejections surging."""

    failed_logins: FailedLoginsConfig = Field(default_factory=FailedLoginsConfig)
    rate_limit_surge: RateLimitSurgeConfig = Field(default_factory=RateLimitSurgeConfig)

    @model_validator(mode="after")
    def _named(self) -> SecurityPresetConfig:
        if self.enabled and self.failed_logins.enabled and self.failed_logins.metric is None:
            raise_at(
                "security",
                [
                    (
                        ("failed_logins", "metric"),
                        "failed_logins needs the metric counting failed logins (or enabled: false)",
                    )
                ],
            )
        return self


# --- business ----------------------------------------------------------------------------


class OrderVolumeConfig(PresetAlertConfig):
    """``OrderVolumeDropped``: orders per second over ``window`` under ``1 - drop`` times the
    same hour ``compare_to`` earlier (a week, or a day)."""

    for_: Duration = _for(900.0)
    metric: Metric | None = Field(default=None, description="Orders (a counter).")
    drop: float = Field(default=0.5, gt=0, lt=1, description="The fraction lost that fires.")
    compare_to: PositiveDuration = Field(default=7 * 86400.0, description="1w or 1d.")
    window: PositiveDuration = Field(default=1800.0)
    by: LabelNames = Field(default_factory=list)


class PaymentFailuresConfig(PresetAlertConfig):
    """``PaymentFailuresHigh``: failed payments over all payments above ``bound``."""

    bound: float = Field(default=0.02, gt=0, lt=1)


class PaymentFailuresCriticalConfig(PaymentFailuresConfig):
    """``PaymentFailuresCritical``: as ``payment_failures_warning``, a higher bound, critical."""

    severity: str = _severity("critical")
    bound: float = Field(default=0.05, gt=0, lt=1)


class BusinessPresetConfig(PresetGroupConfig):
    """Order volume dropped, payment failures over 2 % and 5 %: on metrics the user names."""

    order_volume: OrderVolumeConfig = Field(default_factory=OrderVolumeConfig)
    payments_failed_metric: Metric | None = Field(default=None, description="A counter.")
    payments_total_metric: Metric | None = Field(default=None, description="A counter.")
    payments_window: PositiveDuration = Field(default=300.0)
    payments_by: LabelNames = Field(default_factory=list)
    payment_failures_warning: PaymentFailuresConfig = Field(default_factory=PaymentFailuresConfig)
    payment_failures_critical: PaymentFailuresCriticalConfig = Field(
        default_factory=PaymentFailuresCriticalConfig
    )

    @model_validator(mode="after")
    def _named(self) -> BusinessPresetConfig:
        warning, critical = self.payment_failures_warning, self.payment_failures_critical
        if warning.enabled and critical.enabled and warning.bound >= critical.bound:
            raise_at(
                "business",
                [
                    (
                        ("payment_failures_warning", "bound"),
                        "must be under payment_failures_critical's bound",
                    )
                ],
            )
        if not self.enabled:
            return self
        missing: list[tuple[tuple[str | int, ...], str]] = []
        if self.order_volume.enabled and self.order_volume.metric is None:
            missing.append(
                (
                    ("order_volume", "metric"),
                    "order_volume needs the metric counting orders (or enabled: false)",
                )
            )
        if self.payment_failures_warning.enabled or self.payment_failures_critical.enabled:
            for key in ("payments_failed_metric", "payments_total_metric"):
                if getattr(self, key) is None:
                    missing.append(
                        (
                            (key,),
                            f"the payment failure alerts need {key} (or enabled: false on "
                            "payment_failures_warning and payment_failures_critical)",
                        )
                    )
        raise_at("business", missing)
        return self


# --- backups -----------------------------------------------------------------------------


class BackupStaleConfig(PresetAlertConfig):
    """``BackupTooOld``: no successful backup of a target within ``factor`` times its expected
    interval (the longest gap between runs of its ``schedule``), or ``max_age``; and
    ``BackupNeverSucceeded``: a target without any successful backup for that long."""

    severity: str = _severity("critical")
    for_: Duration = _for(0.0)
    factor: float = Field(default=1.5, ge=1)
    max_age: dict[str, PositiveDuration] = Field(
        default_factory=dict,
        description="Per target name: the bound itself (needed for a target without schedule).",
    )


class BackupCheckFailedConfig(PresetAlertConfig):
    """``BackupVerifyFailed`` / ``BackupRestoreTestFailed``: the newest good backup of a
    target failed its checksum verification / its restore test."""

    for_: Duration = _for(0.0)


class RestoreTestFailedConfig(BackupCheckFailedConfig):
    """``BackupRestoreTestFailed``: the newest good backup of a target failed its restore
    test (critical: it may not restore)."""

    severity: str = _severity("critical")


class BackupSizeDropConfig(PresetAlertConfig):
    """``BackupSizeDropped``: a target's newest backup is under ``ratio`` times the largest
    of its backups in the stale bound before (the previous one)."""

    for_: Duration = _for(0.0)
    ratio: float = Field(default=0.5, gt=0, lt=1)
    kind: Literal["stored", "raw"] = Field(default="stored", description="Which size.")


class BackupsPresetConfig(PresetGroupConfig):
    """From buttress's backup metrics: stale, verify failed, restore test failed, size drop."""

    targets: list[str] | None = Field(
        default=None, description="Backup target names (default: every target)."
    )
    stale: BackupStaleConfig = Field(default_factory=BackupStaleConfig)
    verify_failed: BackupCheckFailedConfig = Field(default_factory=BackupCheckFailedConfig)
    restore_test_failed: RestoreTestFailedConfig = Field(default_factory=RestoreTestFailedConfig)
    size_drop: BackupSizeDropConfig = Field(default_factory=BackupSizeDropConfig)


# --- buttress itself ---------------------------------------------------------------------


class BreakerOpenConfig(PresetAlertConfig):
    """``CircuitBreakerOpen``: a policy's breaker open for longer than ``for``."""


class DegradationConfig(PresetAlertConfig):
    """``DegradationLevelHigh``: the degradation level at or above ``level`` (a name of
    ``health.degradation``'s levels, or its index: 1 is the first level past normal)."""

    for_: Duration = _for(60.0)
    level: int | str = Field(default=1, description="Name or index (>= 1).")

    @field_validator("level")
    @classmethod
    def _level(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("level: an index of 1 or more (0 is the normal level)")
        return value


class HealthScoreConfig(PresetAlertConfig):
    """``HealthScoreLow``: buttress's health score (0-100) under ``bound``."""

    bound: float = Field(default=50.0, gt=0, le=100)


class StateStoreFallbackConfig(PresetAlertConfig):
    """``StateStoreFallback``: a policy with shared state is not using the Redis store (its
    on_store_failure mode: local, allow or deny)."""

    for_: Duration = _for(60.0)


class ButtressPresetConfig(PresetGroupConfig):
    """buttress itself: breakers open, degradation level, health score, state store."""

    breaker_open: BreakerOpenConfig = Field(default_factory=BreakerOpenConfig)
    degradation: DegradationConfig = Field(default_factory=DegradationConfig)
    health_score: HealthScoreConfig = Field(default_factory=HealthScoreConfig)
    state_store_fallback: StateStoreFallbackConfig = Field(default_factory=StateStoreFallbackConfig)


class PresetsConfig(Section):
    """The preset alert groups, each off until ``enabled: true``; one rule file per group
    (``rules/presets-<group>.yml``) and its promtool tests."""

    service: str = Field(
        default="buttress", pattern=NAME_PATTERN, description="Default service label."
    )
    team: str | None = Field(default=None, pattern=NAME_PATTERN, description="Default team.")
    labels: dict[str, str] = Field(default_factory=dict, description="Added to every alert.")
    system: SystemPresetConfig = Field(default_factory=SystemPresetConfig)
    performance: PerformancePresetConfig = Field(default_factory=PerformancePresetConfig)
    security: SecurityPresetConfig = Field(default_factory=SecurityPresetConfig)
    business: BusinessPresetConfig = Field(default_factory=BusinessPresetConfig)
    backups: BackupsPresetConfig = Field(default_factory=BackupsPresetConfig)
    buttress: ButtressPresetConfig = Field(default_factory=ButtressPresetConfig)

    @model_validator(mode="after")
    def _check_labels(self) -> PresetsConfig:
        raise_at("presets", _labels_problems(self.labels, ("labels",)))
        return self
