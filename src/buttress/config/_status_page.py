"""``incidents.status_page:``: the public status page (``GET /status``, ``/status.json``,
``/status/feed.atom``): its title, the components it shows and what decides their state.

A component's state comes from the health checks it names (``health.checks``: a name that is
not there is an error at load, placed at its line) and from the open incidents whose
``services`` share one of its services.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated

from pydantic import Field, model_validator

from buttress.config._base import NAME_PATTERN, Section, raise_at

__all__ = ["StatusComponent", "StatusPageConfig", "unknown_checks"]


class StatusComponent(Section):
    """One part of the service as the public sees it (``API``, ``Checkout``)."""

    name: str = Field(min_length=1, max_length=200, description="Shown on the page.")
    description: str = Field(default="", max_length=1000, description="Shown under the name.")
    services: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list,
        description="Incidents affecting one of these services (their `services`) affect it.",
    )
    checks: list[Annotated[str, Field(pattern=NAME_PATTERN, max_length=200)]] = Field(
        default_factory=list,
        description="Names of `health.checks` whose results decide its state too.",
    )


class StatusPageConfig(Section):
    """The public status page: no token is needed to read it, and it shows only the
    components, each incident's title, public impact, times and public updates."""

    enabled: bool = Field(default=True, description="Serve /status, /status.json and the feed.")
    title: str = Field(
        default="Service status", min_length=1, max_length=200, description="The page's title."
    )
    components: list[StatusComponent] = Field(
        default_factory=list, description="The components shown, in this order."
    )
    history_days: int = Field(
        default=30, ge=1, le=366, description="Incidents resolved this many days back are listed."
    )
    cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=300,
        description="The page's data is read from the catalog at most once per this long.",
    )

    @model_validator(mode="after")
    def _unique(self) -> StatusPageConfig:
        seen: set[str] = set()
        twice: list[tuple[tuple[str | int, ...], str]] = []
        for i, component in enumerate(self.components):
            if component.name in seen:
                twice.append(
                    (("components", i, "name"), f"component {component.name!r} is listed twice")
                )
            seen.add(component.name)
        raise_at("StatusPageConfig", twice)
        return self


def unknown_checks(
    page: StatusPageConfig, known: Collection[str]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Every check a component names that is not among ``known`` (the names of
    ``health.checks``), at its path from the top of the file. A reference to another section,
    so a check of the validation step (registered in :mod:`buttress.config_checks`) rather
    than a validator of this section, which sees only itself."""
    listed = ", ".join(known) or "none is declared"
    return [
        (
            ("incidents", "status_page", "components", i, "checks", j),
            f"unknown health check {name!r} (health.checks: {listed})",
        )
        for i, component in enumerate(page.components)
        for j, name in enumerate(component.checks)
        if name not in known
    ]
