"""Catalog migrations on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from buttress.catalog import Catalog, migrate
from buttress.components import metadata


def test_upgrade_creates_every_table(catalog: Catalog) -> None:
    """After upgrade the catalog is at head and has the foundation's tables."""
    assert migrate.current(catalog) == migrate.head()
    tables = set(inspect(catalog.engine).get_table_names())
    assert {"api_tokens", "audit_log", "alembic_version"} <= tables


def test_upgrade_is_idempotent(catalog: Catalog) -> None:
    """Upgrading an up-to-date catalog changes nothing."""
    catalog.upgrade()
    assert migrate.current(catalog) == migrate.head()


def test_downgrade_to_base_and_back(catalog: Catalog) -> None:
    """Every migration can be undone and redone."""
    migrate.downgrade(catalog, "base")
    assert migrate.current(catalog) is None
    assert "api_tokens" not in inspect(catalog.engine).get_table_names()
    catalog.upgrade()
    assert migrate.current(catalog) == migrate.head()


def test_models_match_migrations(catalog: Catalog) -> None:
    """The tables the migrations build are exactly those the models of every domain declare
    (each in its own tables.py, on the catalog's one metadata)."""
    tables = metadata()
    assert {"api_tokens", "backup_runs", "level_overrides"} <= set(tables.tables)
    with catalog.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), tables
        )
    assert diff == []


def test_sqlite_uses_wal(tmp_path: object) -> None:
    """The embedded SQLite catalog runs in WAL mode."""
    from pathlib import Path

    from buttress.catalog import catalog_url

    assert isinstance(tmp_path, Path)
    cat = Catalog(catalog_url(None, tmp_path / "d"))
    cat.upgrade()
    with cat.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    cat.dispose()
    assert (tmp_path / "d" / "catalog.db").exists()


def test_head_revision_constant_is_alembics_head() -> None:
    """The fast "already current" check compares with the newest migration script."""
    from buttress.catalog.engine import HEAD_REVISION

    assert migrate.head() == HEAD_REVISION
