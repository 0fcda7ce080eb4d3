"""Opening the configured catalog, for the server and for every command that needs it."""

from __future__ import annotations

from pathlib import Path

from buttress.catalog import Catalog, catalog_url
from buttress.config import ButtressConfig
from buttress.errors import CatalogError

__all__ = ["open_catalog", "ready_catalog"]


def open_catalog(config: ButtressConfig, data_dir: Path) -> Catalog:
    """Open the configured catalog and check that it answers.

    Raises:
        CatalogError: the database does not answer (the host is named, never the password).
    """
    catalog = Catalog(
        catalog_url(config.catalog.url, data_dir), connect_timeout=config.catalog.connect_timeout
    )
    catalog.ping()
    return catalog


def ready_catalog(config: ButtressConfig, data_dir: Path) -> Catalog:
    """Open the catalog and bring its schema to this version (``catalog.auto_migrate``), or
    refuse clearly when it is behind and migrations are manual.

    Raises:
        CatalogError: the database does not answer, or its schema is behind.
    """
    catalog = open_catalog(config, data_dir)
    try:
        if config.catalog.auto_migrate:
            catalog.upgrade()
        else:
            from buttress.catalog import migrate  # Alembic: only when it is needed

            current, head = migrate.current(catalog), migrate.head()
            if current != head:
                raise CatalogError(
                    f"the catalog at {catalog.location} is at revision {current or 'none'}, "
                    f"this version needs {head}: run 'buttress db upgrade' "
                    "(or set catalog.auto_migrate)"
                )
    except BaseException:
        catalog.dispose()
        raise
    return catalog
