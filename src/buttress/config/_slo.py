"""SLOs and their burn-rate alert tiers (``alerting.slos``, ``alerting.burn_tiers``).

An SLO has one SLI, told apart by ``kind``: ``ratio`` (error or good events over total events,
as PromQL with ``$window`` where the range goes), ``latency`` (the fraction of a histogram's
observations at or under a threshold, from its ``le`` buckets) or ``threshold`` (the fraction of
time a gauge such as ``up`` or ``probe_success`` meets a bound). Objectives are decimal
percentages (``99.9``), kept exact.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from buttress.config._base import NAME_PATTERN, Section, Variant, raise_at
from buttress.config._types import PositiveDuration

__all__ = [
    "DEFAULT_BURN_TIERS",
    "RESERVED_LABELS",
    "WINDOW_PLACEHOLDER",
    "AnySLIConfig",
    "BurnTierConfig",
    "LatencySLIConfig",
    "RatioSLIConfig",
    "SLOConfig",
    "ThresholdSLIConfig",
]

WINDOW_PLACEHOLDER = "$window"
"""Where a ratio SLI's queries take their range (``rate(x[$window])``)."""

RESERVED_LABELS = frozenset(
    {
        "alertname",
        "buttress_source",
        "le",
        "long_window",
        "service",
        "severity",
        "short_window",
        "slo",
        "team",
        "tier",
        "tier_kind",
    }
)
"""Label names the generator sets itself (the label contract of ``buttress.alerting.labels``):
an SLO's or a tier's own ``labels`` cannot use them."""

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DAY = 86400


def _check_labels(labels: dict[str, str]) -> dict[str, str]:
    for key in labels:
        if not _LABEL_NAME.match(key):
            raise ValueError(
                f"label name {key!r} is not a Prometheus label name (letters, digits and _, "
                "not starting with a digit)"
            )
        if key in RESERVED_LABELS or key.startswith("__"):
            raise ValueError(
                f"label {key!r} is set by the generator (one of "
                f"{', '.join(sorted(RESERVED_LABELS))} or __*); choose another name"
            )
    return labels


def _whole_minutes(value: float) -> float:
    if value % 60:
        raise ValueError(f"a burn-rate window is a whole number of minutes, got {value:g} s")
    return value


class SLIConfig(Variant):
    """Base of the SLI kinds (told apart by ``kind``)."""

    variant_noun: ClassVar[str] = "SLI"
    variant_key: ClassVar[str] = "kind"


class RatioSLIConfig(SLIConfig):
    """Bad (``errors``) or ``good`` events over ``total`` events; each a PromQL expression with
    ``$window`` as its range, e.g. ``sum(rate(http_requests_total{code=~"5.."}[$window]))``."""

    kind: Literal["ratio"]
    errors: str | None = Field(default=None, description="PromQL: bad events per second.")
    good: str | None = Field(default=None, description="PromQL: good events per second.")
    total: str = Field(description="PromQL: all events per second.")

    @field_validator("errors", "good", "total")
    @classmethod
    def _has_window(cls, value: str | None) -> str | None:
        if value is not None and WINDOW_PLACEHOLDER not in value:
            raise ValueError(
                f"the query has no {WINDOW_PLACEHOLDER}: write its range as "
                f"[{WINDOW_PLACEHOLDER}] (e.g. rate(http_requests_total[{WINDOW_PLACEHOLDER}])), "
                "the generator puts each alert window there"
            )
        return value

    @model_validator(mode="after")
    def _errors_or_good(self) -> RatioSLIConfig:
        if (self.errors is None) == (self.good is None):
            which = "both" if self.errors is not None else "neither"
            raise_at(
                "RatioSLIConfig",
                [
                    (
                        ("errors",) if self.errors is not None else (),
                        f"a ratio SLI takes errors or good (over total), not {which}",
                    )
                ],
            )
        return self


class LatencySLIConfig(SLIConfig):
    """The fraction of requests served within ``threshold`` seconds, from the histogram
    ``metric`` (its ``_bucket`` and ``_count`` series); ``threshold`` must be one of its ``le``
    bucket bounds."""

    kind: Literal["latency"]
    metric: str = Field(description="The histogram's name (without _bucket).")
    threshold: float = Field(gt=0, description="Seconds: a request at or under it is good.")
    selector: str = Field(
        default="", description='Label matchers for the series, e.g. {job="checkout"}.'
    )

    @field_validator("selector")
    @classmethod
    def _braces(cls, value: str) -> str:
        text = value.strip()
        if text and not (text.startswith("{") and text.endswith("}")):
            raise ValueError(
                'a selector is label matchers in braces, e.g. {job="checkout"} (the metric '
                "name goes in metric)"
            )
        return text

    @field_validator("metric")
    @classmethod
    def _metric_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", value):
            raise ValueError(f"{value!r} is not a Prometheus metric name")
        if value.endswith(("_bucket", "_count", "_sum")):
            raise ValueError(
                f"give the histogram's name without its suffix ({value.rsplit('_', 1)[0]!r})"
            )
        return value


class ThresholdSLIConfig(SLIConfig):
    """The fraction of time the gauge ``expr`` (e.g. ``up{job="api"}``, ``probe_success``)
    meets ``op bound``."""

    kind: Literal["threshold"]
    expr: str = Field(description="PromQL: the gauge.")
    op: Literal[">", ">=", "<", "<=", "==", "!="] = ">="
    bound: float = 1.0


AnySLIConfig = Annotated[
    RatioSLIConfig | LatencySLIConfig | ThresholdSLIConfig, Field(discriminator="kind")
]


class SLOConfig(Section):
    """One service level objective."""

    name: str = Field(pattern=NAME_PATTERN, description="Unique among the SLOs.")
    service: str = Field(pattern=NAME_PATTERN, description="The service it belongs to.")
    team: str | None = Field(default=None, description="The owning team (a routing label).")
    objective: Decimal = Field(description="Percent of good events, e.g. 99.9 (0 < x < 100).")
    period: PositiveDuration = Field(
        default=30 * 86400.0, description="The SLO's window, in whole days or weeks (30d)."
    )
    description: str = ""
    sli: AnySLIConfig
    labels: dict[str, str] = Field(
        default_factory=dict, description="Added to every rule and alert of this SLO."
    )
    links: dict[str, str] = Field(
        default_factory=dict,
        description="Annotations <key>_url, e.g. runbook: URL or a buttress runbook's name, "
        "dashboard: URL.",
    )
    min_events: float = Field(
        default=0.0,
        ge=0,
        description=(
            "Low-traffic guard: no burn-rate alert while fewer events than this were seen over "
            "the alert's long window (0: alert on any traffic, but never on none)."
        ),
    )
    burn_tiers: list[str] | None = Field(
        default=None,
        description="The names of the alerting.burn_tiers this SLO alerts on (default: all).",
    )

    @field_validator("objective")
    @classmethod
    def _percent(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or not Decimal(0) < value < Decimal(100):
            raise ValueError(
                f"objective is a percentage above 0 and below 100 (e.g. 99.9), got {value}"
            )
        return value

    @field_validator("period")
    @classmethod
    def _whole_days(cls, value: float) -> float:
        if value % _DAY:
            raise ValueError(
                f"period is a whole number of days or weeks (e.g. 30d, 4w), got {value:g} s"
            )
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value)


class BurnTierConfig(Section):
    """One multi-window burn-rate alert tier: fires when the error rate over both windows is
    above ``factor`` times the rate that would spend the budget exactly over the period. Give
    ``factor``, or ``budget_consumed`` (the fraction of the budget spent over the long window:
    factor = budget_consumed x period / long_window)."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["page", "ticket"] = Field(description="A page inhibits the same SLO's tickets.")
    severity: str = Field(description="An alerting.alertmanager severity tier.")
    long_window: PositiveDuration
    short_window: PositiveDuration
    factor: Decimal | None = Field(default=None, gt=0)
    budget_consumed: Decimal | None = Field(default=None, gt=0, le=1)
    for_: PositiveDuration | None = Field(default=None, alias="for")
    labels: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True

    @field_validator("long_window", "short_window")
    @classmethod
    def _minutes(cls, value: float) -> float:
        return _whole_minutes(value)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value)

    @model_validator(mode="after")
    def _consistent(self) -> BurnTierConfig:
        errors: list[tuple[tuple[str | int, ...], str]] = []
        if (self.factor is None) == (self.budget_consumed is None):
            errors.append(
                (
                    ("factor",) if self.factor is not None else (),
                    "a burn tier takes factor or budget_consumed, not "
                    + ("both" if self.factor is not None else "neither"),
                )
            )
        if self.short_window >= self.long_window:
            errors.append((("short_window",), "short_window must be shorter than long_window"))
        raise_at("BurnTierConfig", errors)
        return self


def _tier(
    name: str,
    kind: Literal["page", "ticket"],
    severity: str,
    long: float,
    short: float,
    consumed: str,
) -> BurnTierConfig:
    return BurnTierConfig(
        name=name,
        kind=kind,
        severity=severity,
        long_window=long,
        short_window=short,
        budget_consumed=Decimal(consumed),
    )


DEFAULT_BURN_TIERS: tuple[BurnTierConfig, ...] = (
    # the SRE workbook's, for 30 days: 14.4x over 1h/5m, 6x over 6h/30m, 3x over 1d/2h, 1x 3d/6h
    _tier("page-fast", "page", "critical", 3600.0, 300.0, "0.02"),
    _tier("page-slow", "page", "critical", 6 * 3600.0, 1800.0, "0.05"),
    _tier("ticket-fast", "ticket", "warning", 86400.0, 2 * 3600.0, "0.10"),
    _tier("ticket-slow", "ticket", "warning", 3 * 86400.0, 6 * 3600.0, "0.10"),
)
