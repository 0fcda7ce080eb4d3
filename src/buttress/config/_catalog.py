"""``catalog:``: where buttress keeps its catalog."""

from __future__ import annotations

from pydantic import Field

from buttress.config._base import Section
from buttress.config._types import Duration, SecretDsn

__all__ = ["CatalogConfig"]


class CatalogConfig(Section):
    """Where buttress keeps its catalog (tokens, audit log, backup runs, incidents)."""

    url: SecretDsn | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the catalog database, e.g. postgresql://user:pass@host/db. "
            "Empty: SQLite file catalog.db in the data directory (WAL mode)."
        ),
    )
    connect_timeout: Duration = Field(
        default=5.0, description="How long to wait for the catalog database to answer."
    )
    auto_migrate: bool = Field(
        default=True,
        description="Apply pending schema migrations when `buttress serve` or a command opens it.",
    )
