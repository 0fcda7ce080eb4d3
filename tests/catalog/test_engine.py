"""Opening the catalog: URLs, and clear errors when the database does not answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from buttress.catalog import Catalog, catalog_url
from buttress.errors import CatalogError, ConfigError
from tests.conftest import free_port


def test_default_url_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    """No URL means the SQLite file catalog.db in the data directory."""
    assert catalog_url(None, tmp_path) == f"sqlite:///{tmp_path}/catalog.db"


@pytest.mark.parametrize("scheme", ["postgresql://", "postgres://"])
def test_postgres_urls_use_psycopg3(scheme: str) -> None:
    """PostgreSQL DSNs are driven by psycopg 3."""
    assert catalog_url(f"{scheme}u@h/db", Path()) == "postgresql+psycopg://u@h/db"


def test_unreachable_postgres_names_host_and_masks_password() -> None:
    """A DSN that does not answer gives a CatalogError naming the host, never the password."""
    port = free_port()
    cat = Catalog(
        catalog_url(f"postgresql://app:hunter2@127.0.0.1:{port}/db", Path()), connect_timeout=2
    )
    with pytest.raises(CatalogError) as info:
        cat.ping()
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message
    assert "did not answer" in message
    assert "hunter2" not in message


def test_unsupported_backend_is_a_config_error() -> None:
    """Only SQLite and PostgreSQL are catalog backends."""
    with pytest.raises(ConfigError, match="unsupported database 'mysql'"):
        Catalog("mysql://root@127.0.0.1/x")


def test_malformed_url_is_a_config_error() -> None:
    """A URL SQLAlchemy cannot parse is a ConfigError that hides the password."""
    with pytest.raises(ConfigError, match="not a valid database URL") as info:
        Catalog("::not a url:secretpw@")
    assert "secretpw" not in str(info.value)
