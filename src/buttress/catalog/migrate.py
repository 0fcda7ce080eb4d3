"""Running the catalog's Alembic migrations from code (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from buttress.errors import CatalogError

if TYPE_CHECKING:
    from buttress.catalog.engine import Catalog

__all__ = ["current", "downgrade", "head", "upgrade"]

SCRIPTS = Path(__file__).with_name("migrations")


def _config(catalog: Catalog) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["engine"] = catalog.engine
    return config


def upgrade(catalog: Catalog, revision: str = "head") -> None:
    """Migrate the catalog schema up to ``revision``."""
    command.upgrade(_config(catalog), revision)


def downgrade(catalog: Catalog, revision: str) -> None:
    """Migrate the catalog schema down to ``revision`` (``base`` removes every table)."""
    command.downgrade(_config(catalog), revision)


def current(catalog: Catalog) -> str | None:
    """The revision the catalog is at, or ``None`` for an empty database."""
    with catalog.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    """The newest revision this version of buttress knows."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    revision = ScriptDirectory.from_config(config).get_current_head()
    if revision is None:
        raise CatalogError(f"no catalog migration in {SCRIPTS}: the installation is incomplete")
    return revision
