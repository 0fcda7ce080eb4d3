"""The component list: every domain the CLI and the control plane are made of, one line each
(see :mod:`buttress.platform.component` and docs/architecture.md). Adding a domain is adding
its package and one line here.

Order matters where one component uses what another provides (degradation reads the health
monitor): a provider comes first. The control plane starts the components in this order and
stops them in reverse.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from buttress.platform.component import Component, Listed

if TYPE_CHECKING:
    from sqlalchemy import MetaData

__all__ = ["COMPONENTS", "components", "metadata"]

COMPONENTS: tuple[Listed, ...] = (
    # first: later components register their jobs with it
    Listed("buttress.jobs.component", commands=("jobs",)),
    Listed("buttress.resilience.component"),
    Listed("buttress.state.component", commands=("state",)),
    Listed("buttress.health.component", commands=("health",)),
    Listed("buttress.degradation.component", commands=("level", "flags")),
    Listed("buttress.backup.component", commands=("backup", "wal", "binlog")),
    Listed("buttress.alerting.component", commands=("alerts", "slo")),
    Listed("buttress.incidents.component", commands=("incident", "oncall")),
    Listed("buttress.runbooks.component", commands=("runbook",)),
)


@cache
def components() -> tuple[Component, ...]:
    """Every component, imported, in list order."""
    return tuple(listed.load() for listed in COMPONENTS)


def metadata() -> MetaData:
    """The catalog's SQLAlchemy ``MetaData`` with every domain's tables declared on it (what
    the migrations must build; Alembic autogenerate compares against this)."""
    import importlib

    from buttress.catalog.tables import Base

    for component in components():
        if component.tables:
            importlib.import_module(component.tables)
    return Base.metadata
