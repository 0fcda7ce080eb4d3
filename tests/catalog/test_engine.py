"""Opening the catalog: URLs, and clear errors when the database does not answer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

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
    assert "\n" not in message  # one line, libpq's hint on it
    assert message.endswith(
        "Connection refused (Is the server running on that host and accepting TCP/IP connections?)"
    )


def test_a_server_that_refuses_says_what_it_answered(pg_server: str) -> None:
    """A role that does not exist is what the server answered, not "did not answer"."""
    role = f"nobody_{uuid.uuid4().hex[:8]}"
    dsn = make_conninfo(pg_server, user=role, password="pw-secret-7")
    cat = Catalog(catalog_url(conninfo_to_url(dsn), Path()), connect_timeout=5)
    with pytest.raises(CatalogError) as info:
        cat.ping()
    message = str(info.value)
    assert message.startswith("catalog database at ")
    assert message.endswith(f'refused the connection: role "{role}" does not exist')
    assert "did not answer" not in message
    assert "\n" not in message
    assert "pw-secret-7" not in message


def test_unsupported_backend_is_a_config_error() -> None:
    """Only SQLite and PostgreSQL are catalog backends."""
    with pytest.raises(ConfigError, match="unsupported database 'mysql'"):
        Catalog("mysql://root@127.0.0.1/x")


def test_malformed_url_is_a_config_error() -> None:
    """A URL SQLAlchemy cannot parse is a ConfigError that hides the password."""
    with pytest.raises(ConfigError, match="not a valid database URL") as info:
        Catalog("::not a url:secretpw@")
    assert "secretpw" not in str(info.value)


def conninfo_to_url(dsn: str) -> str:
    """A libpq DSN as the postgresql:// URL the catalog takes."""
    p = conninfo_to_dict(dsn)
    return f"postgresql://{p['user']}:{p['password']}@{p['host']}:{p['port']}/{p['dbname']}"


def test_the_documented_postgres_catalog_steps_work(pg_server: str, tmp_path: Path) -> None:
    """docs/getting-started.md's "PostgreSQL for the catalog" steps, run as written (the role
    and database names made unique) up to `db upgrade`: they create the role the DSN logs in as."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "getting-started.md").read_text()
    config = doc.split("## A configuration file", 1)[1].split("```yaml\n", 1)[1].split("```")[0]
    steps = doc.split("## PostgreSQL for the catalog", 1)[1].split("```bash\n", 1)[1]
    steps = steps.split("```", 1)[0].split("\nbuttress --config buttress.yaml serve", 1)[0]
    name = f"buttress_{uuid.uuid4().hex[:8]}"
    (tmp_path / "buttress.yaml").write_text(re.sub(r"\bbuttress\b", name, config))
    script = re.sub(r"(?<![-/.])\bbuttress\b(?!\.yaml| --config|\.schema)", name, steps)
    server = conninfo_to_dict(pg_server)
    env = {
        **os.environ,
        "PGHOST": str(server["host"]),
        "PGUSER": str(server["user"]),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    try:
        done = subprocess.run(
            ["bash", "-e", "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert done.returncode == 0, done.stdout + done.stderr
        with psycopg.connect(make_conninfo(pg_server, user=name, dbname=name)) as conn:
            owner = conn.execute(
                "SELECT tableowner FROM pg_tables WHERE tablename = 'alembic_version'"
            )
            assert owner.fetchall() == [(name,)]  # migrated, by the role the steps created
    finally:
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{name}"')
