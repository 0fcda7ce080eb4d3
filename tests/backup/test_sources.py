"""PostgreSQL, SQLite and directory sources against the real things: backed up, restored
(in full, by table, into a scratch target for a restore test), compared, and their failures."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from buttress.backup.destinations import LocalDestination
from buttress.backup.engine import restore, restore_globals, restore_test, take_backup
from buttress.backup.errors import BackupError, RestoreError
from buttress.backup.pipeline import Settings
from buttress.backup.sources.directory import DirectorySource
from buttress.backup.sources.postgresql import PostgresSource
from buttress.backup.sources.sqlite import SqliteSource
from tests.backup.conftest import Keys
from tests.conftest import free_port, wait_until

# -- PostgreSQL ---------------------------------------------------------------------------------

MIXED = """
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, balance numeric(12, 2),
                        profile jsonb, avatar bytea, created timestamptz DEFAULT now());
CREATE INDEX customers_name ON customers (name);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer int REFERENCES customers (id),
                     total numeric, note text);
INSERT INTO customers (name, balance, profile, avatar)
  SELECT 'customer ' || i, i * 1.25, jsonb_build_object('tier', i % 3, 'tags', array['a', 'b']),
         decode(md5(i::text), 'hex')
  FROM generate_series(1, 2000) i;
INSERT INTO orders (customer, total, note)
  SELECT 1 + i % 2000, i * 0.5, repeat('x', i % 50) FROM generate_series(1, 5000) i;
"""


@pytest.fixture
def shop(pg_database: str) -> str:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(MIXED)
    return pg_database


def test_postgres_backup_restore_test_and_restore_into_a_new_database(
    shop: str, keys: Keys, settings: Settings, repo: LocalDestination, pg_server: str
) -> None:
    source = PostgresSource(shop)
    result = take_backup(source, "shop", [repo], settings)
    manifest = result.manifest
    assert [a.name for a in manifest.artifacts] == ["dump", "globals"]
    assert manifest.metadata["row_counts"] == {"public.customers": 2000, "public.orders": 5000}
    assert manifest.metadata["sequences"]["public.orders_id_seq"] == 5000
    assert manifest.source["server_version"].startswith("15")
    test = restore_test(manifest, PostgresSource(shop), repo, keys.identities)
    assert test.ok, test.problems
    # into a new database on the same server
    target = PostgresSource(shop).create_database(f"restored_{manifest.backup_id[-6:]}")
    try:
        restore(manifest, PostgresSource(shop), repo, keys.identities, target)
        restored = PostgresSource(shop).inspect(target)
        assert restored == manifest.metadata
        # a second restore into it is refused: not empty
        with pytest.raises(RestoreError, match="is not empty"):
            restore(manifest, PostgresSource(shop), repo, keys.identities, target)
        restore(manifest, PostgresSource(shop), repo, keys.identities, target, force=True)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            name = target.rsplit("dbname=", 1)[-1].split()[0]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgres_table_level_restore(
    shop: str, keys: Keys, settings: Settings, repo: LocalDestination
) -> None:
    manifest = take_backup(PostgresSource(shop, globals=False), "shop", [repo], settings).manifest
    source = PostgresSource(shop)
    with source.scratch() as scratch:
        restore(manifest, source, repo, keys.identities, scratch, tables=["customers"])
        facts = source.inspect(scratch)
    assert facts["row_counts"] == {"public.customers": 2000}


def test_row_counts_come_from_the_dump_snapshot_while_writes_go_on(
    shop: str, keys: Keys, settings: Settings, repo: LocalDestination
) -> None:
    stop = threading.Event()
    written = [0]

    def write() -> None:
        with psycopg.connect(shop, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("INSERT INTO orders (customer, total) VALUES (1, 1)")
                written[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_until(lambda: written[0] > 0, "the first write")
        manifest = take_backup(
            PostgresSource(shop, globals=False), "shop", [repo], settings
        ).manifest
    finally:
        stop.set()
        writer.join()
    test = restore_test(manifest, PostgresSource(shop), repo, keys.identities)
    assert test.ok, test.problems  # the restored counts equal the recorded ones exactly


def test_postgres_unreachable_is_clear(settings: Settings, repo: LocalDestination) -> None:
    dsn = "postgresql://nobody:pw-x@127.0.0.1:1/x"
    with pytest.raises(
        BackupError, match=r"postgresql postgresql://nobody:\*\*\*@127\.0\.0\.1:1/x"
    ):
        take_backup(PostgresSource(dsn, connect_timeout=2), "s", [repo], settings)
    assert repo.keys("") == []


def test_postgres_errors_are_one_line(
    settings: Settings, repo: LocalDestination, pg_server: str
) -> None:
    """libpq's hint stays on the line; a refusal says what the server answered."""
    dsn = "postgresql://nobody:pw-x@127.0.0.1:1/x"
    with pytest.raises(BackupError) as down:
        take_backup(PostgresSource(dsn, connect_timeout=2), "s", [repo], settings)
    assert "\n" not in str(down.value)
    assert str(down.value).endswith(
        "Connection refused (Is the server running on that host and accepting TCP/IP connections?)"
    )
    role = f"nobody_{uuid.uuid4().hex[:8]}"
    with pytest.raises(BackupError) as refused:
        take_backup(PostgresSource(make_conninfo(pg_server, user=role)), "s", [repo], settings)
    assert "\n" not in str(refused.value)
    assert str(refused.value).endswith(f'FATAL: role "{role}" does not exist')
    assert repo.keys("") == []


@pytest.fixture(scope="module")
def pg_with_passwords() -> Iterator[str]:
    """A private PostgreSQL cluster that checks passwords (the machine's trusts 127.0.0.1)."""
    bin_dir = Path("/usr/lib/postgresql/15/bin")
    if not (bin_dir / "initdb").exists():
        pytest.fail("PostgreSQL 15 server binaries are missing; run scripts/check.sh")
    root = Path(tempfile.mkdtemp(prefix="buttress-pgpw-"))  # pytest's tmp is root-only
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    (root / "pw").write_text("right-pw\n")
    shutil.chown(root, "postgres")
    shutil.chown(sock, "postgres")
    shutil.chown(root / "pw", "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *as_pg,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "scram-sha-256",
            f"--pwfile={root / 'pw'}",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    subprocess.run(
        [
            *as_pg,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(root / "log"),
            "-o",
            f"-p {port} -k {sock} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    yield f"postgresql://postgres:right-pw@127.0.0.1:{port}/postgres"
    subprocess.run(
        [*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
        check=False,
        capture_output=True,
    )
    shutil.rmtree(root, ignore_errors=True)


def test_postgres_wrong_password_is_named_without_the_password(
    pg_with_passwords: str, settings: Settings, repo: LocalDestination
) -> None:
    good = take_backup(PostgresSource(pg_with_passwords), "pw", [repo], settings)
    assert good.manifest.metadata["row_counts"] == {}
    wrong = pg_with_passwords.replace("right-pw", "wrong-pw-42")
    with pytest.raises(BackupError) as caught:
        take_backup(PostgresSource(wrong), "pw", [repo], settings, backup_id="bad")
    message = str(caught.value)
    assert "password authentication failed" in message
    assert "wrong-pw-42" not in message
    assert "postgres:***@127.0.0.1" in message
    assert not any("/bad/" in key for key in repo.keys(""))


def test_stock_tools_restore_a_postgres_backup(
    shop: str, keys: Keys, settings: Settings, repo: LocalDestination, pg_server: str
) -> None:
    """`cat dump.* | age -d -i key | zstd -d | pg_restore -d db`: no buttress needed."""
    manifest = take_backup(PostgresSource(shop, globals=False), "shop", [repo], settings).manifest
    folder = repo.root / "shop" / manifest.backup_id
    source = PostgresSource(shop)
    with source.scratch() as scratch:
        script = (
            f"cat {folder}/dump.* | age -d -i {keys.path} | zstd -d -q "
            f"| pg_restore --exit-on-error -d '{scratch}'"
        )
        subprocess.run(["bash", "-o", "pipefail", "-c", script], check=True, capture_output=True)
        assert source.inspect(scratch) == manifest.metadata


def test_the_documented_postgres_recipe_runs_as_written(
    shop: str, keys: Keys, settings: Settings, repo: LocalDestination, pg_server: str
) -> None:
    """docs/backup.md's "Restore without buttress" PostgreSQL recipe, run as it is written
    (paths and the database name substituted): it creates the database it restores into."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "backup.md").read_text()
    section = doc.split("## Restore without buttress", 1)[1]
    recipe = section.split("```bash\n", 1)[1].split("```", 1)[0]
    manifest = take_backup(PostgresSource(shop, globals=False), "shop", [repo], settings).manifest
    name = f"shop_restored_{uuid.uuid4().hex[:8]}"
    script = (
        recipe.replace(
            "/var/backups/buttress/shop/ID", str(repo.root / "shop" / manifest.backup_id)
        )
        .replace("/etc/buttress/backup-key.txt", str(keys.path))
        .replace("shop_restored", name)
    )
    server = psycopg.conninfo.conninfo_to_dict(pg_server)
    env = {**os.environ, "PGHOST": str(server["host"]), "PGUSER": str(server["user"])}
    try:
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, done.stderr
        restored = make_conninfo(pg_server, dbname=name)
        assert PostgresSource(restored).inspect(restored) == manifest.metadata
    finally:
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- SQLite -------------------------------------------------------------------------------------


def test_sqlite_backup_while_it_is_written(
    tmp_path: Path, keys: Keys, settings: Settings, repo: LocalDestination
) -> None:
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany(
        "INSERT INTO events (body) VALUES (?)", [(f"e{i}" * 20,) for i in range(20000)]
    )
    conn.commit()
    stop = threading.Event()

    def write() -> None:
        c = sqlite3.connect(db, timeout=30)
        while not stop.is_set():
            c.execute("INSERT INTO events (body) VALUES ('late')")
            c.commit()
        c.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        manifest = take_backup(SqliteSource(db), "app", [repo], settings).manifest
    finally:
        stop.set()
        writer.join()
    assert manifest.metadata["row_counts"]["events"] >= 20000
    test = restore_test(manifest, SqliteSource(db), repo, keys.identities)
    assert test.ok, test.problems
    out = tmp_path / "restored.db"
    restore(manifest, SqliteSource(db), repo, keys.identities, str(out))
    with pytest.raises(RestoreError, match="exists"):
        restore(manifest, SqliteSource(db), repo, keys.identities, str(out))
    count = sqlite3.connect(out).execute("SELECT count(*) FROM events").fetchone()[0]
    assert count == manifest.metadata["row_counts"]["events"]


def test_a_wal_mode_database_is_backed_up_without_leaving_files_beside_it(
    tmp_path: Path, keys: Keys, settings: Settings, repo: LocalDestination
) -> None:
    """A WAL-mode source (the catalog itself is one) leaves nothing beside it: the snapshot
    copy and its -wal and -shm files are all removed, and the restored file opens as usual."""
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "catalog.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (i INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])
    conn.commit()
    before = sorted(p.name for p in folder.iterdir())
    manifest = take_backup(SqliteSource(db), "cat", [repo], settings).manifest
    assert sorted(p.name for p in folder.iterdir()) == before
    conn.close()
    out = tmp_path / "restored.db"
    restore(manifest, SqliteSource(db), repo, keys.identities, str(out))
    assert sqlite3.connect(out).execute("SELECT count(*) FROM t").fetchone() == (100,)


def test_sqlite_missing_file(tmp_path: Path, settings: Settings, repo: LocalDestination) -> None:
    with pytest.raises(BackupError, match="no such file"):
        take_backup(SqliteSource(tmp_path / "nope.db"), "app", [repo], settings)


# -- directories --------------------------------------------------------------------------------


def _tree(root: Path) -> None:
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "app.yaml").write_text("a: 1\n")
    (root / "data").mkdir()
    (root / "data" / "big.bin").write_bytes(os.urandom(300_000))
    (root / "data" / "cache.tmp").write_text("skip me")
    (root / "secret.key").write_text("k")
    (root / "secret.key").chmod(0o600)
    os.utime(root / "conf" / "app.yaml", (1_600_000_000, 1_600_000_000))
    (root / "link").symlink_to("conf/app.yaml")


def test_directory_round_trip_keeps_modes_mtimes_symlinks_and_honours_excludes(
    tmp_path: Path, keys: Keys, settings: Settings, repo: LocalDestination
) -> None:
    src = tmp_path / "site"
    _tree(src)
    source = DirectorySource(src, exclude=["*.tmp"])
    manifest = take_backup(source, "site", [repo], settings).manifest
    assert manifest.metadata["file_count"] == 3
    assert "data/cache.tmp" not in manifest.metadata["files"]
    out = tmp_path / "restored"
    restore(manifest, source, repo, keys.identities, str(out))
    assert (out / "secret.key").stat().st_mode & 0o777 == 0o600
    assert (out / "conf" / "app.yaml").stat().st_mtime == 1_600_000_000
    assert (out / "link").readlink() == Path("conf/app.yaml")
    assert not (out / "data" / "cache.tmp").exists()
    assert (out / "data" / "big.bin").read_bytes() == (src / "data" / "big.bin").read_bytes()
    test = restore_test(manifest, source, repo, keys.identities)
    assert test.ok, test.problems
    with pytest.raises(RestoreError, match="not empty"):
        restore(manifest, source, repo, keys.identities, str(out))


def test_directory_restore_test_notices_a_difference(
    tmp_path: Path, keys: Keys, settings: Settings, repo: LocalDestination
) -> None:
    src = tmp_path / "site"
    _tree(src)
    manifest = take_backup(DirectorySource(src), "site", [repo], settings).manifest
    manifest.metadata["files"]["conf/app.yaml"] = "0" * 64  # what a silent corruption looks like
    test = restore_test(manifest, DirectorySource(src), repo, keys.identities)
    assert not test.ok
    assert any("conf/app.yaml" in p for p in test.problems)


def test_postgres_directory_format_with_parallel_jobs(
    shop: str, keys: Keys, settings: Settings, repo: LocalDestination, tmp_path: Path
) -> None:
    """jobs=2: a parallel directory-format dump, streamed as a tar; it restores (in parallel),
    restore-tests, restores table by table, and whatever `jobs` says at restore time, the
    stream's own format decides; stock tools restore it too."""
    work = tmp_path / "work"
    work.mkdir()
    manifest = take_backup(
        PostgresSource(shop, globals=False, jobs=2, tmp_dir=work), "shop", [repo], settings
    ).manifest
    assert manifest.metadata["row_counts"] == {"public.customers": 2000, "public.orders": 5000}
    assert list(work.iterdir()) == []  # the temporary dump folder is gone
    test = restore_test(manifest, PostgresSource(shop, jobs=2), repo, keys.identities)
    assert test.ok, test.problems
    source = PostgresSource(shop)  # jobs=1 now: the tar is still recognised
    with source.scratch() as scratch:
        restore(manifest, source, repo, keys.identities, scratch)
        assert source.inspect(scratch) == manifest.metadata
    with source.scratch() as scratch:
        restore(manifest, source, repo, keys.identities, scratch, tables=["orders"])
        assert source.inspect(scratch)["row_counts"] == {"public.orders": 5000}
    custom = take_backup(PostgresSource(shop, globals=False), "shop", [repo], settings).manifest
    test = restore_test(custom, PostgresSource(shop, jobs=4), repo, keys.identities)
    assert test.ok, test.problems
    folder = repo.root / "shop" / manifest.backup_id
    with source.scratch() as scratch:
        script = (
            f"mkdir {tmp_path}/d && cat {folder}/dump.* | age -d -i {keys.path} | zstd -d -q "
            f"| tar -x -C {tmp_path}/d && pg_restore -j 2 --no-owner -d '{scratch}' {tmp_path}/d"
        )
        subprocess.run(["bash", "-o", "pipefail", "-c", script], check=True)
        assert source.inspect(scratch) == manifest.metadata


def test_postgres_restore_into_a_non_empty_database_with_directory_format(
    shop: str, keys: Keys, settings: Settings, repo: LocalDestination
) -> None:
    manifest = take_backup(
        PostgresSource(shop, globals=False, jobs=2), "shop", [repo], settings
    ).manifest
    with pytest.raises(RestoreError, match="is not empty"):
        restore(manifest, PostgresSource(shop), repo, keys.identities, shop)
    restore(manifest, PostgresSource(shop), repo, keys.identities, shop, force=True)
    assert PostgresSource(shop).inspect(shop)["row_counts"]["public.orders"] == 5000


def test_postgres_globals_restore_brings_a_dropped_role_back(
    shop: str, keys: Keys, settings: Settings, repo: LocalDestination, pg_server: str
) -> None:
    """Roles come back from the globals artifact; the ones that exist are counted, not fatal."""
    role = f"bt_role_{os.getpid()}_{int(time.time() * 1000) % 100000}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 7")
    try:
        manifest = take_backup(PostgresSource(shop), "shop", [repo], settings).manifest
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {role}")
        where = restore_globals(manifest, PostgresSource(shop), repo, keys.identities, shop)
        assert "already existed" in where  # postgres itself, at least
        with psycopg.connect(pg_server, autocommit=True) as conn:
            row = conn.execute(
                "SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = %s", [role]
            ).fetchone()
        assert row == (True, 7)
        no_globals = take_backup(
            PostgresSource(shop, globals=False), "shop", [repo], settings
        ).manifest
        with pytest.raises(RestoreError, match="holds no globals"):
            restore_globals(no_globals, PostgresSource(shop), repo, keys.identities, shop)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f"DROP ROLE IF EXISTS {role}")
