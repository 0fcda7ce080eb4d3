"""MariaDB against the real server: mixed data, routines, triggers and events backed up and
restored (new database, table level, over a non-empty one with --force), exact counts while
writes go on, the stock-tools recipe, and its failures (unreachable, wrong password)."""

from __future__ import annotations

import secrets
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest

from buttress.backup.destinations import LocalDestination
from buttress.backup.engine import restore, restore_test, take_backup
from buttress.backup.errors import BackupError, RestoreError
from buttress.backup.pipeline import Settings
from buttress.backup.sources.mariadb import MariadbSource, parse_dsn
from tests.backup.conftest import Keys
from tests.conftest import wait_until

SHOP = [
    """CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL,
       balance DECIMAL(12, 2), profile JSON, avatar BLOB, note TEXT,
       KEY customers_name (name)) ENGINE=InnoDB""",
    """CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer INT,
       total DECIMAL(12, 2), FOREIGN KEY (customer) REFERENCES customers (id)) ENGINE=InnoDB""",
    """CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what TEXT) ENGINE=InnoDB""",
    """CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW
       INSERT INTO audit (what) VALUES (CONCAT('order ', NEW.id))""",
    """CREATE PROCEDURE order_count(OUT n INT) SELECT count(*) INTO n FROM orders""",
    """CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit""",
]


def _connect(dsn: str) -> Any:
    p = parse_dsn(dsn)
    return pymysql.connect(
        host=p["host"],
        port=p["port"],
        user=p["user"],
        password=p["password"],
        database=p["database"],
        autocommit=True,
        charset="utf8mb4",
    )


@pytest.fixture
def shop(mariadb_database: str) -> str:
    conn = _connect(mariadb_database)
    with conn.cursor() as cur:
        for statement in SHOP:
            cur.execute(statement)
        cur.executemany(
            "INSERT INTO customers (name, balance, profile, avatar, note) "
            "VALUES (%s, %s, %s, %s, %s)",
            [
                (
                    f"customer {i} \u2018quoted\u2019 'o''brien' \u00e9",
                    i * 1.25,
                    f'{{"tier": {i % 3}, "tags": ["a", "b"]}}',
                    bytes(range(256)) * (i % 3),
                    "line one\nline two\\ with \t tab;",
                )
                for i in range(1, 801)
            ],
        )
        cur.executemany(
            "INSERT INTO orders (customer, total) VALUES (%s, %s)",
            [(1 + i % 800, i * 0.5) for i in range(2000)],
        )
    conn.close()
    return mariadb_database


def _checksums(dsn: str) -> dict[str, int]:
    conn = _connect(dsn)
    with conn.cursor() as cur:
        cur.execute("CHECKSUM TABLE customers, orders, audit")
        out = {str(name).split(".")[-1]: int(value) for name, value in cur.fetchall()}
    conn.close()
    return out


@pytest.fixture
def new_database(mariadb_server: dict[str, Any]) -> Iterator[str]:
    name = f"buttress_restored_{secrets.token_hex(4)}"
    yield name
    conn = pymysql.connect(**mariadb_server, autocommit=True)
    conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def test_mariadb_backup_restore_test_and_restore_into_a_new_database(
    shop: str, keys: Keys, settings: Settings, repo: LocalDestination, new_database: str
) -> None:
    """Everything comes back: data byte for byte (CHECKSUM TABLE), routines, triggers, events."""
    manifest = take_backup(MariadbSource(shop), "shop", [repo], settings).manifest
    assert manifest.metadata["row_counts"] == {"audit": 2000, "customers": 800, "orders": 2000}
    assert "MariaDB" in manifest.source["server_version"]
    test = restore_test(manifest, MariadbSource(shop), repo, keys.identities)
    assert test.ok, test.problems
    target = MariadbSource(shop).create_database(new_database)
    restore(manifest, MariadbSource(shop), repo, keys.identities, target)
    assert MariadbSource(shop).inspect(target) == manifest.metadata  # incl. schema fingerprint
    assert _checksums(target) == _checksums(shop)
    conn = _connect(target)
    with conn.cursor() as cur:
        cur.execute("CALL order_count(@n)")
        cur.execute("SELECT @n")
        assert cur.fetchone()[0] == 2000
        cur.execute("SHOW EVENTS")
        assert [row[1] for row in cur.fetchall()] == ["nightly"]
    conn.close()
    with pytest.raises(RestoreError, match="is not empty"):
        restore(manifest, MariadbSource(shop), repo, keys.identities, target)
    restore(manifest, MariadbSource(shop), repo, keys.identities, target, force=True)
    assert _checksums(target) == _checksums(shop)


def test_mariadb_table_level_restore(
    shop: str, keys: Keys, settings: Settings, repo: LocalDestination, new_database: str
) -> None:
    """--tables: only those tables land in the target; a clash needs --force."""
    manifest = take_backup(MariadbSource(shop), "shop", [repo], settings).manifest
    source = MariadbSource(shop)
    target = source.create_database(new_database)
    restore(manifest, source, repo, keys.identities, target, tables=["customers"])
    assert source.inspect(target)["row_counts"] == {"customers": 800}
    with pytest.raises(RestoreError, match="already has customers"):
        restore(manifest, source, repo, keys.identities, target, tables=["customers"])
    restore(manifest, source, repo, keys.identities, target, tables=["customers"], force=True)
    with pytest.raises(RestoreError, match="no table nope"):
        restore(manifest, source, repo, keys.identities, target, tables=["nope"])
    conn = pymysql.connect(host="127.0.0.1", user="root")
    with conn.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE 'buttress\\_restore\\_%'")
        assert cur.fetchall() == ()  # no scratch database left behind
    conn.close()


def test_mariadb_counts_are_exact_while_writes_go_on(
    shop: str, keys: Keys, settings: Settings, repo: LocalDestination
) -> None:
    """The recorded counts and the dump come from one moment: a restore test matches exactly."""
    stop = threading.Event()
    written = [0]

    def write() -> None:
        conn = _connect(shop)
        with conn.cursor() as cur:
            while not stop.is_set():
                cur.execute("INSERT INTO orders (customer, total) VALUES (1, 1)")
                written[0] += 1
        conn.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_until(lambda: written[0] > 0, "the first write")
        manifest = take_backup(MariadbSource(shop), "shop", [repo], settings).manifest
        after = written[0]
        wait_until(lambda: written[0] > after, "a write after the backup")
    finally:
        stop.set()
        writer.join()
    assert written[0] > 0
    counts = manifest.metadata["row_counts"]
    assert 2000 < counts["orders"] < 2000 + written[0]  # mid-stream, not before nor after
    test = restore_test(manifest, MariadbSource(shop), repo, keys.identities)
    assert test.ok, test.problems


def test_stock_tools_restore_a_mariadb_backup(
    shop: str, keys: Keys, settings: Settings, repo: LocalDestination, new_database: str
) -> None:
    """`cat dump.* | age -d | zstd -d | mariadb DB` restores it without buttress."""
    manifest = take_backup(MariadbSource(shop), "shop", [repo], settings).manifest
    target = MariadbSource(shop).create_database(new_database)
    folder = repo.root / "shop" / manifest.backup_id
    script = (
        f"cat {folder}/dump.* | age -d -i {keys.path} | zstd -d -q "
        f"| mariadb -h 127.0.0.1 -u root {new_database}"
    )
    subprocess.run(["bash", "-o", "pipefail", "-c", script], check=True)
    assert _checksums(target) == _checksums(shop)


def test_mariadb_unreachable_and_wrong_password(
    shop: str, settings: Settings, repo: LocalDestination, mariadb_server: dict[str, Any]
) -> None:
    """Each names the server, never the password; nothing is stored."""
    with pytest.raises(BackupError, match=r"mariadb nobody@127\.0\.0\.1:1: .*Can't connect"):
        take_backup(MariadbSource("mariadb://nobody:pw-1@127.0.0.1:1/x"), "x", [repo], settings)
    user = f"bt_{secrets.token_hex(4)}"
    conn = pymysql.connect(**mariadb_server, autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'right-pw-7'")
    try:
        dsn = shop.replace("root@", f"{user}:wrong-pw-8@")
        with pytest.raises(BackupError) as caught:
            take_backup(MariadbSource(dsn), "x", [repo], settings)
        assert "Access denied" in str(caught.value)
        assert "wrong-pw-8" not in str(caught.value)
        assert not repo.keys("")
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP USER '{user}'@'%'")
        conn.close()


@pytest.mark.parametrize("dsn", ["postgresql://u@h/db", "mariadb://u@h", "mariadb://u@h/"])
def test_bad_mariadb_dsns_are_named(dsn: str) -> None:
    with pytest.raises(BackupError, match="expected mariadb://user:password@host:port/database"):
        MariadbSource(dsn)
