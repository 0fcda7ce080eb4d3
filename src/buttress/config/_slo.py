"""SLOs and their burn-rate alert tiers (``alerting.slos``, ``alerting.burn_tiers``).

An SLO has one SLI, told apart by ``kind``: ``ratio`` (error or good events over total events,
as PromQL with ``$window`` where the range goes), ``latency`` (the fraction of a histogram's
observations at or under a threshold, from its ``le`` buckets) or ``threshold`` (the fraction of
time a gauge such as ``up`` or ``probe_success`` meets a bound). Objectives are decimal
percentages (``99.9``), kept exact.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from buttress.config._base import NAME_PATTERN, Section, Variant
from buttress.config._types import PositiveDuration

__all__ = [
    "DEFAULT_BURN_TIERS",
    "AnySLIConfig",
    "BurnTierConfig",
    "LatencySLIConfig",
    "RatioSLIConfig",
    "SLOConfig",
    "ThresholdSLIConfig",
]

WINDOW_PLACEHOLDER = "$window"
"""Where a ratio SLI's queries take their range (``rate(x[$window])``)."""


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
        default_factory=dict, description="e.g. runbook: URL, dashboard: URL (annotations)."
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
