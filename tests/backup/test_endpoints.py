"""The servers and database a DSN names, parsed as its client parses it (libpq for PostgreSQL:
URI and keyword forms, multi-host lists, hostaddr, sockets, the environment), the
``host:port`` entries of ``backup.restore_servers``, and the database-name rule."""

from __future__ import annotations

import pytest

from buttress.backup.endpoints import Endpoint, parse_dsn_endpoints, parse_server
from buttress.backup.restore_policy import check_database_name
from buttress.config import load_text
from buttress.errors import ConfigError, UsageError

E = Endpoint


@pytest.mark.parametrize(
    ("dsn", "env", "endpoints", "database"),
    [
        ("postgresql://u:pw@db.example:6000/app", {}, [E("db.example", 6000)], "app"),
        ("host=DB.example port=6000 dbname=app", {}, [E("db.example", 6000)], "app"),
        ("host = db  port = 7 dbname = app password = s", {}, [E("db", 7)], "app"),
        ("host=a,b port=1,2 dbname=x", {}, [E("a", 1), E("b", 2)], "x"),
        ("host=a,b port=9 dbname=x", {}, [E("a", 9), E("b", 9)], "x"),
        ("postgresql://h1:5,h2/db", {}, [E("h1", 5), E("h2", 5432)], "db"),
        ("host=db hostaddr=10.0.0.9 dbname=x", {}, [E("10.0.0.9", 5432)], "x"),
        ("host=a,b hostaddr=10.0.0.1, dbname=x", {}, [E("10.0.0.1", 5432), E("b", 5432)], "x"),
        ("postgresql://db:1/x?host=evil&port=2", {}, [E("evil", 2)], "x"),
        ("postgresql:///x?host=/run/pg", {}, [E("/run/pg", 5432)], "x"),
        ("postgresql://%2Frun%2Fpg:5433/x", {}, [E("/run/pg", 5433)], "x"),
        ("postgresql://[0:0::1]:5/d", {}, [E("::1", 5)], "d"),
        ("dbname=x", {}, [E("", 5432)], "x"),
        ("dbname=x", {"PGHOST": "envhost", "PGPORT": "6"}, [E("envhost", 6)], "x"),
        ("host=named dbname=x", {"PGHOSTADDR": "10.1.1.1"}, [E("10.1.1.1", 5432)], "x"),
        ("host=db", {}, [E("db", 5432)], None),
    ],
)
def test_postgresql_endpoints(
    dsn: str, env: dict[str, str], endpoints: list[Endpoint], database: str | None
) -> None:
    """Every server libpq would connect to (hostaddr over host), and the database."""
    parsed = parse_dsn_endpoints("postgresql", dsn, env=env)
    assert list(parsed.endpoints) == endpoints
    assert parsed.database == database


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        ("host=a,b,c port=1,2 dbname=x", "2 ports for 3 hosts"),
        ("host=a,b hostaddr=1.1.1.1 dbname=x", "different numbers"),
        ("host=a port=http dbname=x", "is not a number"),
        ("host=a password='sekrit dbname=x", "not a libpq connection string"),
        ("host=a\0 dbname=x", "NUL"),
    ],
)
def test_postgresql_dsns_that_are_refused(dsn: str, message: str) -> None:
    """An unusable DSN is a UsageError naming the field, and never repeats the DSN."""
    with pytest.raises(UsageError) as caught:
        parse_dsn_endpoints("postgresql", dsn, env={})
    assert str(caught.value).startswith("to: ")
    assert message in str(caught.value)
    assert "sekrit" not in str(caught.value)


@pytest.mark.parametrize(
    ("source", "dsn", "endpoints", "database"),
    [
        ("mariadb", "mariadb://root:pw@DB:3307/app", [E("db", 3307)], "app"),
        ("mariadb", "mysql://root@db/..%2Fetc", [E("db", 3306)], "../etc"),
        ("mongodb", "mongodb://u:p@a:1,b,[::1]:3/app?replicaSet=r", [E("a", 1), E("b", 27017),
                                                                    E("::1", 3)], "app"),
        ("mongodb", "mongodb+srv://u:p@Cluster.example/app", [E("cluster.example", None)], "app"),
        ("mongodb", "mongodb://%2Ftmp%2Fm.sock/app", [E("/tmp/m.sock", None)], "app"),
    ],
)  # fmt: skip
def test_url_endpoints(
    source: str, dsn: str, endpoints: list[Endpoint], database: str | None
) -> None:
    """MariaDB as buttress's parse_dsn reads it, MongoDB with its host lists and SRV names."""
    parsed = parse_dsn_endpoints(source, dsn)
    assert list(parsed.endpoints) == endpoints
    assert parsed.database == database


def test_a_mariadb_dsn_names_one_server() -> None:
    """A host list in a mariadb DSN is refused (parse_dsn would not read it as one)."""
    with pytest.raises(UsageError, match="one server"):
        parse_dsn_endpoints("mariadb", "mariadb://root@a,b:3306/x")


@pytest.mark.parametrize(
    ("text", "endpoint"),
    [
        ("DB.example:5432", E("db.example", 5432)),
        ("[::1]:3306", E("::1", 3306)),
        ("/run/postgresql:5432", E("/run/postgresql", 5432)),
    ],
)
def test_restore_servers_entries(text: str, endpoint: Endpoint) -> None:
    """host:port, [v6]:port and a PostgreSQL socket directory with its port."""
    assert parse_server(text) == endpoint


@pytest.mark.parametrize("text", ["db", "db:", ":5432", "::1:5432", "db:0", "db:99999", "a b:1"])
def test_restore_servers_entries_that_are_errors(text: str) -> None:
    """Anything else is a config error at load, naming the setting and the entry."""
    with pytest.raises(ConfigError) as caught:
        load_text(f"backup:\n  restore_servers: ['{text}']\n", filename="b.yaml")
    assert "b.yaml:2" in str(caught.value)
    assert f"backup.restore_servers: {text!r}" in str(caught.value)


def test_restore_roots_must_be_absolute() -> None:
    """A relative restore root would depend on the server's working directory: an error."""
    with pytest.raises(ConfigError, match="'restored' is not an absolute path"):
        load_text("backup:\n  restore_roots: [restored]\n")
    with pytest.raises(ConfigError, match="NUL byte"):
        load_text('backup:\n  restore_roots: ["/srv/a\\0b"]\n')
    config = load_text("backup:\n  restore_roots: [/srv/restores]\n")
    assert [str(p) for p in config.backup.restore_roots] == ["/srv/restores"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../../etc", "characters other than"),
        ("a" * 64, "64 bytes long"),
        ("é" * 32, "64 bytes long"),
        ("-x", "starts with '-'"),
        ("", "is empty"),
        ("a.b", "characters other than"),
        ("a\0b", "characters other than"),
    ],
)
def test_database_names_that_are_refused(name: str, why: str) -> None:
    """Only plain identifiers of at most 63 bytes; the message says why, with a short echo."""
    with pytest.raises(UsageError) as caught:
        check_database_name(name)
    assert why in str(caught.value)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("name", ["shop", "shop_copy-2", "_x", "1st", "a" * 63])
def test_database_names_that_are_allowed(name: str) -> None:
    """Letters, digits, _ and - (not first), up to 63 bytes."""
    check_database_name(name)
