"""The catalog database (SQLAlchemy 2 + Alembic): SQLite by default, PostgreSQL by DSN.

Importing this package needs the ``server`` extra (SQLAlchemy, Alembic, psycopg).
"""

from buttress.catalog.engine import Catalog, catalog_url

__all__ = ["Catalog", "catalog_url"]
