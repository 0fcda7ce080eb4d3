"""A restore never destroys data before it knows the backup is good, a failed restore removes
what it created, and a target holding anything at all counts as not empty: through the CLI,
against the real PostgreSQL and MariaDB servers."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from fastapi.testclient import TestClient

from buttress.backup.keys import generate_identity
from buttress.cli import main
from tests.backup.conftest import config_file as _config
from tests.backup.conftest import recipient as _recipient
from tests.backup.conftest import run_json as _json
from tests.backup.test_api import _h, _verify, _wait_done, client  # noqa: F401  # client: a fixture

PG_DATA = """
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers (id), note text);
INSERT INTO customers SELECT i, 'customer ' || i FROM generate_series(1, 3000) i;
INSERT INTO orders SELECT i, 1 + i % 3000, md5(i::text) || md5((i * 7)::text)
  FROM generate_series(1, 6000) i;
"""
PG_COUNTS = {"customers": 3000, "orders": 6000}

MY_DATA = [
    "CREATE TABLE audit (id INT PRIMARY KEY, what TEXT) ENGINE=InnoDB",
    "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100)) ENGINE=InnoDB",
    "CREATE TABLE orders (id INT PRIMARY KEY, customer INT, note TEXT, "
    "FOREIGN KEY (customer) REFERENCES customers (id)) ENGINE=InnoDB",
]
MY_COUNTS = {"audit": 500, "customers": 2000, "orders": 4000}


# -- helpers -------------------------------------------------------------------------------------


def _pg_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone() for t in PG_COUNTS}  # noqa: S608  # fixed names
    return {t: row[0] if row else -1 for t, row in counts.items()}


def _pg_databases(server: str, like: str) -> list[str]:
    with psycopg.connect(server, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [like])
        return [str(name) for (name,) in rows.fetchall()]


def _pg_dsn(server: str, name: str) -> str:
    return re.sub(r"/[^/]*$", f"/{name}", server)


def _my(dsn: str | None = None) -> Any:
    database = dsn.rsplit("/", 1)[1] if dsn else None
    return pymysql.connect(
        host="127.0.0.1", user="root", password="", database=database, autocommit=True
    )


def _my_counts(dsn: str) -> dict[str, int]:
    conn = _my(dsn)
    with conn.cursor() as cur:
        out = {}
        for table in MY_COUNTS:
            cur.execute(f"SELECT count(*) FROM {table}")  # noqa: S608  # fixed names
            out[table] = int(cur.fetchone()[0])
    conn.close()
    return out


def _my_schemata(like: str) -> list[str]:
    conn = _my()
    with conn.cursor() as cur:
        cur.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s", [like]
        )
        names = [str(r[0]) for r in cur.fetchall()]
    conn.close()
    return names


def _damage(project: Path, target: str, backup_id: str) -> Path:
    """Flip one bit near the end of the backup's last object (its first bytes stay readable,
    so the key check passes and only the object check can catch it)."""
    obj = sorted((project / "repo" / target / backup_id).glob("dump.*"))[-1]
    data = bytearray(obj.read_bytes())
    data[-40] ^= 0x01
    obj.write_bytes(bytes(data))
    return obj


def _configure(project: Path, extra: str) -> None:
    _config(project, _recipient(project), extra)


def _run(capsys: pytest.CaptureFixture[str], target: str) -> str:
    run = _json(capsys, ["backup", "run", target, "--json"])
    assert run["status"] == "succeeded", run
    return str(run["id"])


def _cli(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.fixture
def pg_shop(pg_database: str, project: Path) -> str:
    """A populated PostgreSQL database configured as target `shop`."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(PG_DATA)
    _configure(
        project, f"    - {{name: shop, source: postgresql, dsn: '{pg_database}', globals: false}}\n"
    )
    return pg_database


@pytest.fixture
def my_shop(mariadb_database: str, project: Path) -> str:
    """A populated MariaDB database configured as target `shop`."""
    conn = _my(mariadb_database)
    with conn.cursor() as cur:
        for statement in MY_DATA:
            cur.execute(statement)
        cur.executemany("INSERT INTO audit VALUES (%s, %s)", [(i, "x" * 40) for i in range(500)])
        cur.executemany(
            "INSERT INTO customers VALUES (%s, %s)", [(i, f"customer {i}") for i in range(2000)]
        )
        cur.executemany(
            "INSERT INTO orders VALUES (%s, %s, %s)",
            [(i, i % 2000, secrets.token_hex(24)) for i in range(4000)],
        )
    conn.close()
    _configure(project, f"    - {{name: shop, source: mariadb, dsn: '{mariadb_database}'}}\n")
    return mariadb_database


@pytest.fixture
def pg_other(pg_server: str) -> Iterator[str]:
    """The name of a PostgreSQL database a test may create; dropped afterwards."""
    name = f"buttress_safety_{secrets.token_hex(5)}"
    yield name
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def my_other(mariadb_server: dict[str, Any]) -> Iterator[str]:
    """The name of a MariaDB database a test may create; dropped afterwards."""
    name = f"buttress_safety_{secrets.token_hex(5)}"
    yield name
    conn = _my()
    conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


# -- item 3: --force never destroys data before the backup is known good ---------------------------


def test_force_over_postgres_from_a_damaged_backup_leaves_the_target_untouched(
    project: Path, pg_shop: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--force onto a populated database from a backup with a damaged object fails naming the
    object, before anything is dropped: every row is still there."""
    backup_id = _run(capsys, "shop")
    obj = _damage(project, "shop", backup_id)
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", pg_shop, "--force"])
    assert code == 1, err
    assert obj.name in err
    assert "target untouched" in err
    assert _pg_counts(pg_shop) == PG_COUNTS


def test_force_over_mariadb_from_a_damaged_backup_leaves_the_target_untouched(
    project: Path, my_shop: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same for MariaDB: the dump's DROP TABLEs never run."""
    backup_id = _run(capsys, "shop")
    obj = _damage(project, "shop", backup_id)
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", my_shop, "--force"])
    assert code == 1, err
    assert obj.name in err
    assert "target untouched" in err
    assert _my_counts(my_shop) == MY_COUNTS


def test_force_with_a_wrong_key_leaves_the_target_untouched(
    project: Path, pg_shop: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key that does not open the backup is found out before the target is touched."""
    backup_id = _run(capsys, "shop")
    generate_identity(project / "other-key.txt")
    code, err = _cli(
        capsys,
        ["backup", "restore", backup_id, "--to", pg_shop, "--force", "-i", "other-key.txt"],
    )
    assert code == 1, err
    assert "cannot decrypt" in err
    assert "target untouched" in err
    assert _pg_counts(pg_shop) == PG_COUNTS


def test_force_from_a_backup_whose_verify_failed_needs_force_damaged(
    project: Path, pg_shop: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a failed verify, --force over a non-empty target is refused (exit 2, with the
    reason); --force-damaged goes ahead, still checking every object first."""
    backup_id = _run(capsys, "shop")
    obj = _damage(project, "shop", backup_id)
    assert _cli(capsys, ["backup", "verify", backup_id])[0] == 1
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", pg_shop, "--force"])
    assert code == 2, err
    assert "last verify failed" in err
    assert "--force-damaged" in err
    assert _pg_counts(pg_shop) == PG_COUNTS
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", pg_shop, "--force-damaged"])
    assert code == 1, err  # the object is still damaged: found before the target is touched
    assert obj.name in err
    assert _pg_counts(pg_shop) == PG_COUNTS
    # repaired, the backup restores over the target, but only with --force-damaged
    data = bytearray(obj.read_bytes())
    data[-40] ^= 0x01
    obj.write_bytes(bytes(data))
    with psycopg.connect(pg_shop, autocommit=True) as conn:
        conn.execute("DELETE FROM orders WHERE id > 10")
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", pg_shop, "--force"])
    assert code == 2, err  # the catalog still says the last verify failed
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", pg_shop, "--force-damaged"])
    assert code == 0, err
    assert _pg_counts(pg_shop) == PG_COUNTS


def test_a_force_restore_over_mariadb_swaps_its_tables_in(
    project: Path, my_shop: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--force over a MariaDB database of tables loads the dump beside it and swaps the tables
    in: the result is exactly the backup, foreign keys hold, table grants still apply, and
    nothing is left beside it."""
    name = my_shop.rsplit("/", 1)[1]
    user = f"bt_{secrets.token_hex(3)}"
    backup_id = _run(capsys, "shop")
    conn = _my(my_shop)
    try:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM orders WHERE id > 100")
            cur.execute("CREATE TABLE junk (id INT)")
            cur.execute(f"CREATE USER '{user}'@'localhost'")
            cur.execute(f"GRANT SELECT ON `{name}`.customers TO '{user}'@'localhost'")
        code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", my_shop, "--force"])
        assert code == 0, err
        assert _my_counts(my_shop) == MY_COUNTS
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            assert sorted(str(r[0]) for r in cur.fetchall()) == sorted(MY_COUNTS)
            with pytest.raises(pymysql.err.IntegrityError):
                cur.execute("INSERT INTO orders VALUES (999999, 999999, 'no such customer')")
            cur.execute(f"SHOW GRANTS FOR '{user}'@'localhost'")
            assert any("`customers`" in str(r[0]) for r in cur.fetchall())
        assert _my_schemata(f"{name[:40]}_bt_%") == []
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'localhost'")
        conn.close()


def test_a_force_restore_over_mariadb_failing_midway_leaves_the_target_untouched(
    project: Path, my_shop: str, my_other: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """When the dump fails to load (here: a view on a table of a database since dropped), the
    copy beside the target is dropped and the target keeps its rows."""
    name = my_shop.rsplit("/", 1)[1]
    conn = _my(my_shop)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{my_other}`")
        cur.execute(f"CREATE TABLE `{my_other}`.t (id INT)")
        cur.execute(f"CREATE VIEW elsewhere AS SELECT id FROM `{my_other}`.t")  # noqa: S608
    backup_id = _run(capsys, "shop")
    with conn.cursor() as cur:
        cur.execute("DROP VIEW elsewhere")
        cur.execute(f"DROP DATABASE `{my_other}`")
        cur.execute("DELETE FROM orders WHERE id > 100")
    conn.close()
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", my_shop, "--force"])
    assert code == 1, err
    assert "target untouched (the restore went into a new database beside it, now dropped)" in err
    assert _my_counts(my_shop) == {**MY_COUNTS, "orders": 101}  # ids 0..100
    assert _my_schemata(f"{name[:40]}_bt_%") == []


def test_a_force_restore_of_a_mariadb_backup_with_routines_goes_in_place(
    project: Path, my_shop: str, my_other: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A backup holding a procedure cannot be swapped in by renaming tables: once loaded beside
    the target and found so, it is dropped and the backup restored in place (read again)."""
    conn = _my(my_shop)
    with conn.cursor() as cur:
        cur.execute("CREATE PROCEDURE order_count(OUT n INT) SELECT count(*) INTO n FROM orders")
    conn.close()
    backup_id = _run(capsys, "shop")
    to = my_shop.rsplit("/", 1)[0] + "/" + my_other
    conn = _my()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{my_other}`")
        cur.execute(f"CREATE TABLE `{my_other}`.junk (id INT)")
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", to, "--force"])
    assert code == 0, err
    assert _my_counts(to) == MY_COUNTS
    with conn.cursor() as cur:
        cur.execute(f"CALL `{my_other}`.order_count(@n)")
        cur.execute("SELECT @n")
        assert cur.fetchone()[0] == MY_COUNTS["orders"]
        cur.execute(f"SHOW TABLES FROM `{my_other}`")
        assert "junk" in [str(r[0]) for r in cur.fetchall()]  # in place: the rest stays
    conn.close()
    assert _my_schemata(f"{my_other[:40]}_bt_%") == []


def test_a_mariadb_restore_failing_midway_names_what_it_left(
    project: Path, my_shop: str, my_other: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --force restore over MariaDB that fails midway (here: the target has a view where the
    backup has table `orders`) says which tables were loaded and which were not."""
    backup_id = _run(capsys, "shop")
    conn = _my()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{my_other}`")
        cur.execute(f"CREATE VIEW `{my_other}`.orders AS SELECT 1 AS id")
    conn.close()
    to = my_shop.rsplit("/", 1)[0] + "/" + my_other
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", to, "--force"])
    assert code == 1, err
    assert "restored over in place and is left partly restored" in err
    assert "tables loaded: audit, customers; not restored (missing, or row count differs " in err
    assert "from the backup): orders" in err


def test_a_force_restore_over_postgres_failing_midway_leaves_the_target_untouched(
    project: Path, pg_shop: str, pg_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--force over a populated database restores into a new one beside it: when pg_restore
    fails halfway (a table's owner no longer exists), the target keeps every row and the
    half-restored copy is dropped."""
    role = f"buttress_gone_{secrets.token_hex(4)}"
    with psycopg.connect(pg_shop, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role}")
        conn.execute(f"CREATE TABLE zzz_owned (id int); ALTER TABLE zzz_owned OWNER TO {role}")
    backup_id = _run(capsys, "shop")
    with psycopg.connect(pg_shop, autocommit=True) as conn:
        conn.execute(f"REASSIGN OWNED BY {role} TO postgres; DROP ROLE {role}")
        conn.execute("DELETE FROM orders WHERE id > 100")
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", pg_shop, "--force"])
    assert code == 1, err
    assert role in err
    assert "target untouched (the restore went into a new database beside it, now dropped)" in err
    assert _pg_counts(pg_shop) == {**PG_COUNTS, "orders": 100}
    assert _pg_databases(pg_server, "%_bt_new_%") == []


def test_a_force_restore_over_postgres_waits_for_no_session(
    project: Path, pg_shop: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The swap needs the target to itself: with a session connected, --force is refused,
    saying so, and the target is untouched."""
    backup_id = _run(capsys, "shop")
    with psycopg.connect(pg_shop, autocommit=True) as conn:
        conn.execute("DELETE FROM orders WHERE id > 100")
        code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", pg_shop, "--force"])
    assert code == 1, err
    assert "1 other session is connected to database" in err
    assert "target untouched" in err
    assert _pg_counts(pg_shop) == {**PG_COUNTS, "orders": 100}


_DB_PROPS = """
SELECT pg_get_userbyid(d.datdba), d.datconnlimit, d.datacl::text,
       shobj_description(d.oid, 'pg_database'),
       (SELECT array_agg(coalesce(pg_get_userbyid(nullif(s.setrole, 0)), '') || ':'
                         || array_to_string(s.setconfig, ';') ORDER BY s.setrole)
        FROM pg_db_role_setting s WHERE s.setdatabase = d.oid)
FROM pg_database d WHERE d.datname = %s
"""


def test_a_force_restore_over_postgres_keeps_what_makes_the_database(
    project: Path, pg_shop: str, pg_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The swapped-in copy has the target's owner, connection limit, grants, comment and
    settings (a list setting with a quoted element among them); the data is the backup's."""
    name = pg_shop.rsplit("/", 1)[1]
    owner, reader = (f"buttress_{what}_{secrets.token_hex(3)}" for what in ("own", "read"))
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {owner}; CREATE ROLE {reader}")
        try:
            for statement in (
                f'ALTER DATABASE "{name}" OWNER TO {owner}',
                f'ALTER DATABASE "{name}" CONNECTION LIMIT 50',
                f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC',
                f'GRANT CONNECT ON DATABASE "{name}" TO {reader}',
                f"COMMENT ON DATABASE \"{name}\" IS 'the shop''s data'",
                f"ALTER DATABASE \"{name}\" SET work_mem TO '7MB'",
                f'ALTER DATABASE "{name}" SET search_path TO "$user", public, \'odd, name\'',
                f"ALTER ROLE {reader} IN DATABASE \"{name}\" SET statement_timeout TO '3s'",
            ):
                admin.execute(statement)
            before = admin.execute(_DB_PROPS, [name]).fetchone()
            assert before is not None
            assert before[:2] == (owner, 50)
            assert f"{reader}=c/" in before[2]
            assert before[3] == "the shop's data"
            assert sorted(before[4]) == [
                ':work_mem=7MB;search_path="$user", public, "odd, name"',
                f"{reader}:statement_timeout=3s",
            ]
            backup_id = _run(capsys, "shop")
            with psycopg.connect(pg_shop, autocommit=True) as conn:
                conn.execute("DELETE FROM orders WHERE id > 100")
            code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", pg_shop, "--force"])
            assert code == 0, err
            assert _pg_counts(pg_shop) == PG_COUNTS
            assert admin.execute(_DB_PROPS, [name]).fetchone() == before
            assert _pg_databases(pg_server, "%_bt_old_%") == []
            assert _pg_databases(pg_server, "%_bt_new_%") == []
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f"DROP ROLE {owner}; DROP ROLE {reader}")


def test_a_force_restore_by_a_user_who_may_not_create_databases_goes_in_place(
    project: Path, pg_server: str, pg_other: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without CREATEDB there is no database to restore beside the target: the restore goes
    in place (pg_restore --clean), after the same checks, and succeeds."""
    role = f"buttress_plain_{secrets.token_hex(3)}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN NOCREATEDB")
        admin.execute(f'CREATE DATABASE "{pg_other}" OWNER {role}')
        try:
            dsn = _pg_dsn(pg_server, pg_other).replace("postgres@", f"{role}@")
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(PG_DATA)
            _configure(
                project, f"    - {{name: shop, source: postgresql, dsn: '{dsn}', globals: false}}\n"
            )
            backup_id = _run(capsys, "shop")
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("DELETE FROM orders WHERE id > 100")
            oid = "SELECT oid FROM pg_database WHERE datname = %s"
            before = admin.execute(oid, [pg_other]).fetchone()
            code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", dsn, "--force"])
            assert code == 0, err
            assert _pg_counts(dsn) == PG_COUNTS
            assert admin.execute(oid, [pg_other]).fetchone() == before  # the same database
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{pg_other}" WITH (FORCE)')
            admin.execute(f"DROP ROLE {role}")


def test_the_api_asks_for_force_damaged_too(
    client: tuple[TestClient, dict[str, str]],  # noqa: F811  # the fixture imported above
    project: Path,
) -> None:
    """Through the API: after a failed verify, force is refused (422, naming force_damaged);
    force_damaged goes ahead, and a damaged object still stops it before the target is touched."""
    c, t = client
    backup_id = c.post("/api/v1/backups/targets/site/run", headers=_h(t["operator"])).json()["id"]
    assert _wait_done(c, t["viewer"], backup_id)["status"] == "succeeded"
    obj = next((project / "repo" / "site" / backup_id).glob("tar.*"))
    obj.write_bytes(obj.read_bytes()[:-1] + bytes([obj.read_bytes()[-1] ^ 1]))
    url = f"/api/v1/backups/runs/{backup_id}"
    assert _verify(c, t["operator"], backup_id, {})["problems"]
    live = project / ".buttress" / "restored" / "live"  # inside the API's restore root
    live.mkdir(parents=True)
    (live / "keep.txt").write_text("live data")
    body = {"to": "live", "force": True}  # force through the API needs an admin
    refused = c.post(f"{url}/restore", json=body, headers=_h(t["admin"]))
    assert refused.status_code == 422, refused.text
    assert "last verify failed" in refused.json()["message"]
    assert "force_damaged" in refused.json()["message"]
    body = {"to": "live", "force_damaged": True}
    assert c.post(f"{url}/restore", json=body, headers=_h(t["operator"])).status_code == 403
    stopped = c.post(f"{url}/restore", json=body, headers=_h(t["admin"]))
    assert stopped.status_code == 422, stopped.text
    assert obj.name in stopped.json()["message"]
    assert "target untouched" in stopped.json()["message"]
    assert [p.name for p in live.iterdir()] == ["keep.txt"]


# -- item 12: a failed restore leaves nothing behind ---------------------------------------------


@pytest.mark.parametrize("fault", ["wrong key", "missing identity file", "damaged object"])
def test_a_failed_postgres_restore_leaves_no_database_behind(
    project: Path,
    pg_shop: str,
    pg_server: str,
    pg_other: str,
    capsys: pytest.CaptureFixture[str],
    fault: str,
) -> None:
    """Keys and objects are checked before the database is created: none is left over."""
    backup_id = _run(capsys, "shop")
    argv = ["backup", "restore", backup_id, "--database", pg_other]
    if fault == "wrong key":
        generate_identity(project / "other-key.txt")
        argv += ["-i", "other-key.txt"]
    elif fault == "missing identity file":
        argv += ["-i", "no-such-key.txt"]
    else:
        _damage(project, "shop", backup_id)
    code, err = _cli(capsys, argv)
    assert code == 1, err
    assert _pg_databases(pg_server, pg_other) == []
    # the default place (a new database named after the backup) is not left behind either
    assert _cli(capsys, argv[:3] + argv[5:])[0] == code
    assert _pg_databases(pg_server, f"%_restore_{backup_id.lower().replace('-', '_')}") == []


@pytest.mark.parametrize("fault", ["wrong key", "missing identity file", "damaged object"])
@pytest.mark.parametrize("how", ["--database", "--to"])
def test_a_failed_mariadb_restore_leaves_no_database_behind(
    project: Path,
    my_shop: str,
    my_other: str,
    capsys: pytest.CaptureFixture[str],
    fault: str,
    how: str,
) -> None:
    """The same for MariaDB, whether the database is named (--database) or in a DSN (--to)."""
    backup_id = _run(capsys, "shop")
    where = my_other if how == "--database" else my_shop.rsplit("/", 1)[0] + "/" + my_other
    argv = ["backup", "restore", backup_id, how, where]
    if fault == "wrong key":
        generate_identity(project / "other-key.txt")
        argv += ["-i", "other-key.txt"]
    elif fault == "missing identity file":
        argv += ["-i", "no-such-key.txt"]
    else:
        _damage(project, "shop", backup_id)
    code, err = _cli(capsys, argv)
    assert code == 1, err
    assert _my_schemata(my_other) == []


def test_a_postgres_restore_failing_midway_drops_the_database_it_created(
    project: Path,
    pg_shop: str,
    pg_server: str,
    pg_other: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """pg_restore fails halfway (a table's owner no longer exists): the database the restore
    created is dropped, and the error says so."""
    role = f"buttress_gone_{secrets.token_hex(4)}"
    with psycopg.connect(pg_shop, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role}")
        conn.execute(f"CREATE TABLE zzz_owned (id int); ALTER TABLE zzz_owned OWNER TO {role}")
    backup_id = _run(capsys, "shop")
    with psycopg.connect(pg_shop, autocommit=True) as conn:
        conn.execute(f"REASSIGN OWNED BY {role} TO postgres; DROP ROLE {role}")
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--database", pg_other])
    assert code == 1, err
    assert role in err
    assert "created for this restore, was removed: nothing left behind" in err
    assert _pg_databases(pg_server, pg_other) == []


# -- item 13: anything at all makes a database non-empty ------------------------------------------

PG_KINDS = {
    "view": ("CREATE VIEW v AS SELECT 1 AS one", "1 view"),
    "sequence": ("CREATE SEQUENCE s", "1 sequence"),
    "function": ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", "1 function"),
    "procedure": ("CREATE PROCEDURE p() LANGUAGE sql AS 'SELECT 1'", "1 procedure"),
    "enum type": ("CREATE TYPE mood AS ENUM ('ok', 'not ok')", "1 type"),
    "composite type": ("CREATE TYPE pair AS (a int, b int)", "1 type"),
    "domain": ("CREATE DOMAIN positive AS int CHECK (VALUE > 0)", "1 type"),
    "materialized view": ("CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one", "1 materialized view"),
    "schema": ("CREATE SCHEMA reports", "1 schema"),
}


@pytest.mark.parametrize("kind", sorted(PG_KINDS))
def test_a_postgres_database_holding_only_a_non_table_is_not_empty(
    project: Path,
    pg_shop: str,
    pg_server: str,
    pg_other: str,
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    """restore --to a database holding only a view, a sequence, a function... is refused
    without --force, naming what it holds; nothing is written into it."""
    statement, shown = PG_KINDS[kind]
    backup_id = _run(capsys, "shop")
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{pg_other}"')
    to = _pg_dsn(pg_server, pg_other)
    with psycopg.connect(to, autocommit=True) as conn:
        conn.execute(statement)
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", to])
    assert code == 1, err
    assert f"is not empty ({shown})" in err
    assert "--force" in err
    with psycopg.connect(to) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchone() == (0,)


def test_a_new_postgres_database_counts_as_empty(
    project: Path, pg_shop: str, pg_server: str, pg_other: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database just created (only what its template holds) takes a restore without --force."""
    backup_id = _run(capsys, "shop")
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{pg_other}"')
    to = _pg_dsn(pg_server, pg_other)
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", to])
    assert code == 0, err
    assert _pg_counts(to) == PG_COUNTS


MY_KINDS = {
    "view": ("CREATE VIEW v AS SELECT 1 AS one", "1 view"),
    "sequence": ("CREATE SEQUENCE s", "1 sequence"),
    "procedure": ("CREATE PROCEDURE p() SELECT 1", "1 procedure"),
    "function": ("CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1", "1 function"),
    "event": ("CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1", "1 event"),
}


@pytest.mark.parametrize("kind", sorted(MY_KINDS))
def test_a_mariadb_database_holding_only_a_non_table_is_not_empty(
    project: Path,
    my_shop: str,
    my_other: str,
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    """The same for MariaDB: views, sequences, procedures, functions and events count."""
    statement, shown = MY_KINDS[kind]
    backup_id = _run(capsys, "shop")
    to = my_shop.rsplit("/", 1)[0] + "/" + my_other
    conn = _my()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{my_other}`")
        cur.execute(f"USE `{my_other}`")
        cur.execute(statement)
    conn.close()
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", to])
    assert code == 1, err
    assert f"is not empty ({shown})" in err
    conn = _my()
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s "
            "AND table_type = 'BASE TABLE'",
            [my_other],
        )
        assert cur.fetchone()[0] == 0
    conn.close()


@pytest.mark.parametrize(
    ("holds", "force", "force_damaged", "last_check", "refused"),
    [
        (None, False, False, "verify failed", None),  # a new place: nothing to protect
        ([], False, False, "verify failed", None),  # an empty one: the same
        (["1 view"], False, False, "", "RestoreError"),
        (["1 view"], True, False, "", None),
        (["1 view"], True, False, "restore test failed", "UsageError"),
        (["1 view"], False, True, "verify failed", None),  # told twice
    ],
)
def test_the_refusal_rule(
    holds: list[str] | None, force: bool, force_damaged: bool, last_check: str, refused: str | None
) -> None:
    """Only a non-empty target is protected: by --force, and after a failed check by
    --force-damaged."""
    from buttress.backup.restoring import refusal  # here: the rest of the file runs on old code

    got = refusal(holds=holds, force=force, force_damaged=force_damaged, last_check=last_check)
    assert (got[0].__name__ if got else None) == refused


# -- refused before anything is created: unknown tables, a --to of the wrong kind, a missing --to
# database (issue 16 item 11) ------------------------------------------------------------------


def test_unknown_tables_are_refused_naming_the_tables_the_backup_has(
    project: Path,
    pg_shop: str,
    pg_server: str,
    pg_other: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--tables with a typo exits 2 naming the unknown name and the backup's tables; nothing
    is created."""
    backup_id = _run(capsys, "shop")
    argv = ["backup", "restore", backup_id, "--database", pg_other, "--tables", "orderz,customers"]
    code, err = _cli(capsys, argv)
    assert code == 2, err
    assert "has no table orderz; it has: public.customers, public.orders" in err
    assert _pg_databases(pg_server, pg_other) == []


def test_known_tables_by_short_or_qualified_name_are_restored(
    project: Path,
    pg_shop: str,
    pg_server: str,
    pg_other: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Tables named as `table` or `schema.table` pass the check and are restored."""
    backup_id = _run(capsys, "shop")
    argv = ["backup", "restore", backup_id, "--database", pg_other]
    code, err = _cli(capsys, [*argv, "--tables", "orders,public.customers"])
    assert code == 0, err
    assert _pg_databases(pg_server, pg_other) == [pg_other]


def test_a_directory_backup_refuses_a_dsn_as_to(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory backup restored --to a DSN exits 2 and creates no directory named after it."""
    _configure(project, "")
    backup_id = _run(capsys, "site")
    before = sorted(p.name for p in project.iterdir())
    dsn = "postgresql://u:pw-secret-3@h/db"
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", dsn])
    assert code == 2, err
    assert "pw-secret-3" not in err
    assert "a directory backup restores into a directory: give a path, not a DSN" in err
    assert sorted(p.name for p in project.iterdir()) == before
    assert not Path("postgresql:").exists()


def test_a_postgres_backup_refuses_a_path_as_to(
    project: Path, pg_shop: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PostgreSQL backup restored --to a path exits 2 asking for a DSN (not a libpq error)."""
    backup_id = _run(capsys, "shop")
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", str(project / "out")])
    assert code == 2, err
    assert "a postgresql backup restores into a database: give a DSN" in err
    assert not (project / "out").exists()


def test_to_a_missing_postgres_database_says_that_database_creates_one(
    project: Path,
    pg_shop: str,
    pg_server: str,
    pg_other: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--to a DSN whose database does not exist exits 1 naming --database as the way to have it
    created, and creates nothing."""
    backup_id = _run(capsys, "shop")
    code, err = _cli(capsys, ["backup", "restore", backup_id, "--to", _pg_dsn(pg_server, pg_other)])
    assert code == 1, err
    assert "the database does not exist; --to restores into an existing database" in err
    assert "--database NAME" in err
    assert "nothing was created" in err
    assert _pg_databases(pg_server, pg_other) == []
