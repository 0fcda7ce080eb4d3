"""Alembic environment: migrations run on the engine handed over by buttress.catalog.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from buttress.catalog.tables import Base
from buttress.errors import CatalogError

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise CatalogError(
        "the catalog's migrations run through buttress (`buttress catalog upgrade`, or "
        "buttress.catalog.migrate), which hands them its engine; not through alembic alone"
    )

MIGRATION_LOCK = 0x62757474  # "butt": the advisory lock key replicas migrate under

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        # replicas starting together on one catalog: one migrates, the others wait here (the
        # lock ends with this transaction), then find the schema current and do nothing
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        # the foundation's tables, plus the domains' tables already imported; for autogenerate
        # (`alembic revision --autogenerate`) import buttress.components and call metadata()
        # first, so that every domain's tables are compared (the catalog imports no domain)
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite can only ALTER by copy
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
