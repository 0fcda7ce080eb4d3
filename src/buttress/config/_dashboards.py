"""Grafana dashboards (`alerting.dashboards`) and the Prometheus the SLO report reads
(`alerting.prometheus`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from buttress.config._base import Section, raise_at
from buttress.config._types import PositiveDuration

__all__ = ["BOARDS", "Board", "DashboardsConfig", "PrometheusConfig"]

Board = Literal["slo-overview", "slo-detail", "backups", "resilience", "executive"]
BOARDS: tuple[Board, ...] = ("slo-overview", "slo-detail", "backups", "resilience", "executive")
"""Every dashboard buttress generates, in the order they are written."""

UID_PREFIX_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$"
"""A Grafana uid is at most 40 characters of letters, digits, - and _: the prefix takes 20."""


class DashboardsConfig(Section):
    """Which Grafana dashboards ``buttress alerts generate`` writes (``dashboards/<uid>.json``),
    and how they are named. Every dashboard reads Prometheus through a ``${datasource}``
    variable, so it imports into any Grafana whatever its data source is called."""

    enabled: list[Board] = Field(
        default=list(BOARDS),
        description=(
            "The dashboards to generate: slo-overview, slo-detail, backups, resilience, "
            "executive (default: all)."
        ),
    )
    uid_prefix: str = Field(
        default="buttress",
        pattern=UID_PREFIX_PATTERN,
        description=(
            "Each dashboard's uid is <uid_prefix>-<board> (e.g. buttress-slo-overview): "
            "stable, so a re-import replaces the dashboard instead of adding a copy."
        ),
    )
    folder: str = Field(
        default="buttress",
        min_length=1,
        description=(
            "The Grafana folder the dashboards belong in: written as a tag on each, and the "
            "folder name to give Grafana's file provisioning (docs/alerting.md)."
        ),
    )
    datasource: str = Field(
        default="Prometheus",
        min_length=1,
        description=(
            "The Prometheus data source the ${datasource} variable selects when a dashboard "
            "is opened (any other can be picked in Grafana)."
        ),
    )
    sla: dict[str, Decimal] = Field(
        default_factory=dict,
        description=(
            "The executive summary's SLA per service, in percent (e.g. api: 99.5); a service "
            "not named here is held to its strictest SLO objective."
        ),
    )

    @field_validator("enabled")
    @classmethod
    def _unique_boards(cls, value: list[Board]) -> list[Board]:
        twice = sorted({board for board in value if value.count(board) > 1})
        if twice:
            raise ValueError(f"a dashboard is listed twice: {', '.join(twice)}")
        return value

    @model_validator(mode="after")
    def _sla_percent(self) -> DashboardsConfig:
        raise_at(
            "DashboardsConfig",
            [
                (
                    ("sla", service),
                    f"the SLA of {service!r} is {percent}: give a percentage above 0 and at "
                    "most 100 (e.g. 99.5)",
                )
                for service, percent in self.sla.items()
                if not percent.is_finite() or not Decimal(0) < percent <= Decimal(100)
            ],
        )
        return self


class PrometheusConfig(Section):
    """The Prometheus server ``buttress slo report`` reads the SLOs' recording rules from (its
    HTTP API)."""

    url: str | None = Field(
        default=None,
        description=(
            "Prometheus's base URL, e.g. http://prometheus:9090 (none: `buttress slo report` "
            "needs --prometheus)."
        ),
    )
    timeout: PositiveDuration = Field(
        default=30.0, description="How long one query may take before the report gives up."
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_prometheus_url(value)


def check_prometheus_url(value: str) -> str:
    """``value`` when it is an http(s) URL with a host, else :class:`ValueError` saying so
    (without echoing a password it may carry)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "expected an http:// or https:// URL with a host, e.g. http://prometheus:9090"
        )
    return value.strip().rstrip("/")
