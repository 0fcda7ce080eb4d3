"""What the status page adds to the control plane (called by the incidents component): the
public routes when ``incidents.status_page.enabled``, the public-update route always, and
the :class:`~buttress.incidents.status_api.StatusSource` reading the health monitor's
latest results when the health component provides one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from buttress.incidents.status_page import CheckFacts

if TYPE_CHECKING:
    from fastapi import APIRouter

    from buttress.platform.component import ServerContext

__all__ = ["status_page"]


def status_page(ctx: ServerContext) -> tuple[Sequence[APIRouter], Mapping[str, object]]:
    """The routers and ``app.state`` entries (``status_page``) of the status page."""
    from buttress.health.component import MONITOR
    from buttress.health.monitor import HealthMonitor
    from buttress.incidents.status_api import StatusSource, public, updates

    config = ctx.config.incidents.status_page
    if not config.enabled:
        return [updates], {}
    try:
        monitor: HealthMonitor | None = ctx.require(MONITOR, HealthMonitor)
    except LookupError:  # an app built without the health component
        monitor = None

    def checks() -> Mapping[str, CheckFacts]:
        if monitor is None:
            return {}
        return {
            c.name: CheckFacts(status=c.status, critical=c.critical)
            for c in monitor.snapshot().checks
        }

    source = StatusSource(catalog=ctx.catalog, config=config, checks=checks)
    return [updates, public], {"status_page": source}
