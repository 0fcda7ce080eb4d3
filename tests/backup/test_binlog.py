"""MariaDB point-in-time recovery against a real private server with binary logging: each dump
records the binlog position it was taken at; the pusher streams the binlogs (a real
mariadb-binlog) and stores every finished file, encrypted, in each destination; a restore to
a time gives exactly the rows of that time (the dump, then the binlogs replayed, only the
target's database); a time outside the recoverable window is refused with the window shown
and nothing created; the password is never on a command line."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from buttress.backup.binlog.layout import parse_key, prefix
from buttress.backup.binlog.pusher import BinlogPusher, run_exclusively
from buttress.backup.binlog.restore import recoverable_window, restore_to_time
from buttress.backup.destinations import LocalDestination
from buttress.backup.errors import CorruptBackupError, RestoreError
from buttress.backup.service import Backups
from buttress.catalog import Catalog, catalog_url
from buttress.cli import main
from buttress.config import load, load_text
from buttress.errors import ConfigError
from tests.backup.conftest import recipient
from tests.backup.mariadb_binlog_server import BinlogServer, binlog_server
from tests.conftest import start_server, wait_until

__all__ = ["binlog_server"]

SRC = Path(__file__).resolve().parents[2] / "src"


def _config(project: Path, server: BinlogServer, database: str, binlog: str = "") -> Path:
    (project / "buttress.yaml").write_text(
        "backup:\n"
        f"  recipients: [{recipient(project)}]\n"
        "  identity_files: [key.txt]\n"
        "  destinations:\n"
        "    - {name: local, path: repo}\n"
        "    - {name: offsite, path: offsite}\n"
        "  targets:\n"
        f"    - name: shop\n"
        f"      source: mariadb\n"
        f"      dsn: '{server.dsn(database)}'\n"
        "      binlog: {spool_dir: spool, interval: 200ms, server_id: 777"
        f"{binlog}}}\n"
    )
    return project / "buttress.yaml"


@pytest.fixture
def shop(binlog_server: BinlogServer) -> Iterator[str]:
    name = f"shop_{os.getpid()}_{time.monotonic_ns() % 10**8}"
    binlog_server.query(f"CREATE DATABASE {name}")
    binlog_server.query(f"CREATE DATABASE {name}_other")
    binlog_server.query(
        "CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(40), qty INT) ENGINE=InnoDB", name
    )
    binlog_server.query("CREATE TABLE notes (id INT PRIMARY KEY) ENGINE=InnoDB", f"{name}_other")
    yield name
    for db in binlog_server.query("SHOW DATABASES"):
        if str(db[0]).startswith(name):
            binlog_server.query(f"DROP DATABASE `{db[0]}`")


@pytest.fixture
def backups(project: Path, binlog_server: BinlogServer, shop: str) -> Iterator[Backups]:
    _config(project, binlog_server, shop)
    catalog = Catalog(catalog_url(None, project / ".buttress"))
    catalog.upgrade()
    yield Backups(load(project / "buttress.yaml").backup, catalog)
    catalog.dispose()


def _insert(server: BinlogServer, db: str, ids: range) -> None:
    conn = server.connect(db)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO items VALUES (%s, %s, %s)", [(i, f"item {i}", i * 10) for i in ids]
        )
    conn.close()


def _rows(server: BinlogServer, db: str) -> list[tuple[Any, ...]]:
    return server.query("SELECT id, label, qty FROM items ORDER BY id", db)


def _next_second(server: BinlogServer) -> dt.datetime:
    """The next whole second of the server's clock, once the server's clock has passed it:
    everything logged before the call is stamped earlier, everything after it not."""
    at = math.floor(server.now()) + 1
    while server.now() < at:
        time.sleep(0.05)
    return dt.datetime.fromtimestamp(at, dt.UTC)


def _current_binlog(server: BinlogServer) -> str:
    return str(server.query("SHOW MASTER STATUS")[0][0])


def _stored_names(dest: LocalDestination) -> set[str]:
    found = set()
    for key in dest.keys(prefix("shop")):
        if ".partial-" in key:  # a write under way
            continue
        parsed = parse_key("shop", key)
        assert parsed is not None, key
        found.add(parsed[0].name)
    return found


def test_dump_records_the_binlog_position(backups: Backups, binlog_server: BinlogServer) -> None:
    before = binlog_server.query("SHOW MASTER STATUS")[0]
    run = backups.run("shop")
    assert run.status == "succeeded", run.error
    manifest, _ = backups.manifest(run)
    recorded = manifest.metadata["binlog"]
    # nothing was written meanwhile: the position is the server's, then and now
    assert (recorded["file"], recorded["position"]) == (str(before[0]), int(before[1]))
    assert recorded["gtid"] == str(binlog_server.query("SELECT @@gtid_binlog_pos")[0][0])
    assert abs(recorded["time"] - binlog_server.now()) < 3600  # the server's clock, in seconds


@pytest.fixture(params=["MIXED", "ROW"])
def binlog_format(request: pytest.FixtureRequest, binlog_server: BinlogServer) -> Iterator[str]:
    """Statements (MIXED, MariaDB's default) and row images (ROW, MySQL's) in the binlog."""
    was = str(binlog_server.query("SELECT @@GLOBAL.binlog_format")[0][0])
    binlog_server.query(f"SET GLOBAL binlog_format = '{request.param}'")
    yield str(request.param)
    binlog_server.query(f"SET GLOBAL binlog_format = '{was}'")


def test_restore_to_a_time_gives_exactly_the_rows_of_that_time(
    backups: Backups, binlog_server: BinlogServer, shop: str, project: Path, binlog_format: str
) -> None:
    _insert(binlog_server, shop, range(1, 11))
    run = backups.run("shop")
    assert run.status == "succeeded", run.error
    pusher = BinlogPusher(backups, "shop")
    pusher.start()
    try:
        _insert(binlog_server, shop, range(11, 21))
        binlog_server.query(f"INSERT INTO `{shop}_other`.notes VALUES (1)")  # noqa: S608
        t1 = _next_second(binlog_server)
        at_t1 = _rows(binlog_server, shop)
        _insert(binlog_server, shop, range(21, 31))
        binlog_server.query("UPDATE items SET qty = -1 WHERE id = 1", shop)
        binlog_server.query("DELETE FROM items WHERE id = 2", shop)
        t2 = _next_second(binlog_server)
        at_t2 = _rows(binlog_server, shop)
        written = _current_binlog(binlog_server)
        binlog_server.query("FLUSH BINARY LOGS")
        # the file written until now is finished: the pusher stores it and clears it off
        wait_until(
            lambda: written in pusher.push().removed or written not in _spooled(pusher),
            f"the pusher to store {written}",
        )
    finally:
        pusher.stop()
    for name in ("repo", "offsite"):
        dest = LocalDestination(name, project / name)
        assert written in _stored_names(dest)
        key = next(k for k in dest.keys(prefix("shop")) if k.startswith(f"shop/binlog/{written}-"))
        assert dest.get(key).startswith(b"age-encryption.org/v1\n")  # never in clear

    done = restore_to_time(backups, "shop", t1, database=f"{shop}_at_t1")
    assert f"{shop}_at_t1" in done
    assert run.id in done
    assert _rows(binlog_server, f"{shop}_at_t1") == at_t1
    assert [r[0] for r in at_t1] == list(range(1, 21))
    # only the target's database was replayed: nothing of the other one went anywhere new
    assert binlog_server.query(f"SHOW TABLES FROM `{shop}_at_t1`") == [("items",)]

    restore_to_time(backups, "shop", t2, database=f"{shop}_at_t2")
    assert _rows(binlog_server, f"{shop}_at_t2") == at_t2
    assert (1, "item 1", -1) in at_t2
    assert all(r[0] != 2 for r in at_t2)

    window = recoverable_window(backups, "shop")
    assert window.oldest is not None
    assert window.newest is not None
    assert window.oldest <= t1 <= t2 <= window.newest


def _spooled(pusher: BinlogPusher) -> list[str]:
    return [n.name for n in pusher.spooled()]


def test_a_time_outside_the_window_is_refused_and_nothing_is_created(
    backups: Backups, binlog_server: BinlogServer, shop: str
) -> None:
    _insert(binlog_server, shop, range(1, 4))
    assert backups.run("shop").status == "succeeded"
    pusher = BinlogPusher(backups, "shop")
    pusher.start()
    try:
        _insert(binlog_server, shop, range(4, 6))
        binlog_server.query("FLUSH BINARY LOGS")
        wait_until(lambda: bool(pusher.push().removed), "a finished binlog stored")
    finally:
        pusher.stop()
    window = recoverable_window(backups, "shop")
    assert window.oldest is not None
    assert window.newest is not None
    for when in (
        window.oldest - dt.timedelta(minutes=5),
        window.newest + dt.timedelta(hours=1),
    ):
        with pytest.raises(RestoreError) as caught:
            restore_to_time(backups, "shop", when, database=f"{shop}_refused")
        message = str(caught.value)
        assert "outside the recoverable window" in message
        assert window.describe() in message
        assert "nothing was restored" in message
    assert not binlog_server.query(f"SHOW DATABASES LIKE '{shop}_refused'")


def test_no_binlog_position_without_log_bin(mariadb_database: str, project: Path) -> None:
    """The machine's server runs without binary logging: the dump is taken as always and
    records no position (no error); a restore to a time then has no window."""
    (project / "buttress.yaml").write_text(
        "backup:\n"
        f"  recipients: [{recipient(project)}]\n"
        "  identity_files: [key.txt]\n"
        "  destinations: [{name: local, path: repo}]\n"
        f"  targets: [{{name: plain, source: mariadb, dsn: '{mariadb_database}'}}]\n"
    )
    catalog = Catalog(catalog_url(None, project / ".buttress"))
    catalog.upgrade()
    try:
        backups = Backups(load(project / "buttress.yaml").backup, catalog)
        run = backups.run("plain")
        assert run.status == "succeeded", run.error
        assert "binlog" not in backups.manifest(run)[0].metadata
        with pytest.raises(RestoreError, match="no dump with a recorded binlog position"):
            restore_to_time(backups, "plain", dt.datetime.now(dt.UTC), database="never_made")
    finally:
        catalog.dispose()


def _streams(pid: int) -> list[list[bytes]]:
    """The command lines of the mariadb-binlog processes ``pid`` started."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    found = []
    for child in path.read_text().split() if path.exists() else ():
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith((b"mariadb-binlog", b"mysqlbinlog")):
            found.append(argv)
    return found


def test_the_pusher_command_stores_the_current_file_at_stop_and_hides_the_password(
    backups: Backups,
    binlog_server: BinlogServer,
    shop: str,
    project: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert backups.run("shop").status == "succeeded"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "buttress", "binlog", "pusher", "shop"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: bool(_streams(proc.pid)), "mariadb-binlog to start", timeout=30)
        (argv,) = _streams(proc.pid)
        assert b"--stop-never" in argv
        assert b"--raw" in argv
        assert not any(binlog_server.password.encode() in a for a in argv)
        # the option file it reads is the caller's alone
        cnf = next(a for a in argv if a.startswith(b"--defaults-extra-file="))
        assert Path(os.fsdecode(cnf.split(b"=", 1)[1])).stat().st_mode & 0o077 == 0
        _insert(binlog_server, shop, range(1, 3))
        current = _current_binlog(binlog_server)
        wait_until(lambda: (project / "spool" / current).exists(), "the stream to reach the spool")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert binlog_server.password not in (out + err).decode()
    assert f"stored {current}" in err.decode()
    assert current in _stored_names(LocalDestination("repo", project / "repo"))

    capsys.readouterr()
    assert main(["binlog", "status", "shop", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert current in status["archived"]
    assert status["oldest"] is not None
    assert status["newest"] is not None
    assert main(["binlog", "restore", "shop", "--target-time", "2001-01-01 00:00:00+00"]) == 1
    said = capsys.readouterr().err
    assert "2001-01-01 00:00:00+00 is outside the recoverable window" in said
    assert "nothing was restored" in said
    assert binlog_server.password not in said
    # the same through `backup restore TARGET --target-time`
    assert main(["backup", "restore", "shop", "--target-time", "2001-01-01 00:00:00+00"]) == 1
    assert "is outside the recoverable window" in capsys.readouterr().err
    refused = ["backup", "restore", "shop", "--target-time", "2001-01-01 00:00:00+00", "--force"]
    assert main(refused) == 2
    assert "give --database NAME, nothing else" in capsys.readouterr().err


def test_binlog_archiving_needs_the_dump_lock() -> None:
    with pytest.raises(ConfigError, match="consistent_counts"):
        load_text(
            "backup:\n"
            "  targets:\n"
            "    - {name: m, source: mariadb, dsn: 'mariadb://u:p@127.0.0.1:1/d',"
            " consistent_counts: false, binlog: {spool_dir: /tmp/spool}}\n"
        )


def test_a_target_time_without_a_time_zone_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "buttress.yaml").write_text(
        "backup:\n"
        f"  recipients: [{recipient(project)}]\n"
        "  destinations: [{name: local, path: repo}]\n"
        "  targets:\n"
        "    - {name: m, source: mariadb, dsn: 'mariadb://u:p@127.0.0.1:1/d',"
        " binlog: {spool_dir: spool}}\n"
        "    - {name: plain, source: mariadb, dsn: 'mariadb://u:p@127.0.0.1:1/d'}\n"
        "    - {name: files, source: directory, path: .}\n"
    )
    capsys.readouterr()
    assert main(["binlog", "pusher", "plain"]) == 2
    assert "target 'plain' has no `binlog:` section" in capsys.readouterr().err
    assert main(["binlog", "pusher", "files"]) == 2
    assert "is a directory target" in capsys.readouterr().err
    assert main(["binlog", "status", "nosuch"]) == 2
    assert "unknown backup target 'nosuch'" in capsys.readouterr().err
    assert main(["binlog", "restore", "m", "--target-time", "2026-12-02 14:35:00"]) == 2
    assert "give its time zone" in capsys.readouterr().err
    assert main(["binlog", "restore", "m", "--target-time", "yesterday"]) == 2
    assert "not a time" in capsys.readouterr().err


def test_a_destination_down_keeps_the_file_in_the_spool_until_it_is_stored(
    backups: Backups, binlog_server: BinlogServer, shop: str, project: Path
) -> None:
    """Both destinations are required: while one cannot be written the finished file stays in
    the spool (nothing counted as stored); once it is back, the next pass stores it."""
    (project / "offsite").write_text("not a folder")  # the destination cannot be written
    pusher = BinlogPusher(backups, "shop")
    pusher.start()
    try:
        _insert(binlog_server, shop, range(1, 3))
        written = _current_binlog(binlog_server)
        binlog_server.query("FLUSH BINARY LOGS")
        failed: list[str] = []

        def refused() -> bool:
            report = pusher.push()
            failed.extend(report.errors)
            return any(written in e for e in report.errors)

        wait_until(refused, f"the pusher to try {written}")
        assert "1 required" not in failed[-1]
        assert "offsite" in failed[-1]
        assert written in _spooled(pusher)
        assert written not in _stored_names(LocalDestination("repo", project / "repo"))
        (project / "offsite").unlink()
        assert written in pusher.push().removed
    finally:
        pusher.stop()
    assert written in _stored_names(LocalDestination("offsite", project / "offsite"))
    assert written in _stored_names(LocalDestination("repo", project / "repo"))


def test_the_pusher_rotates_and_stores_without_a_manual_flush(
    backups: Backups, binlog_server: BinlogServer, shop: str, project: Path
) -> None:
    """With rotate_every the pusher finishes the file being written itself (FLUSH BINARY
    LOGS), so a write is archived while the server writes nothing more; run() stores the
    current file when it stops."""
    config = load(_config(project, binlog_server, shop, ", rotate_every: 300ms")).backup
    pusher = BinlogPusher(Backups(config, backups.catalog), "shop")
    written = _current_binlog(binlog_server)
    _insert(binlog_server, shop, range(1, 3))
    stop = threading.Event()
    runner = threading.Thread(target=pusher.run, args=(stop,))
    runner.start()
    try:
        repo = LocalDestination("repo", project / "repo")
        wait_until(lambda: written in _stored_names(repo), f"{written} rotated and stored")
        assert _current_binlog(binlog_server) != written
    finally:
        stop.set()
        runner.join(timeout=60)
    assert not runner.is_alive()
    assert _current_binlog(binlog_server) in _stored_names(repo)


def test_one_pusher_per_target_streams_the_other_waits_then_takes_over(
    backups: Backups, binlog_server: BinlogServer, shop: str
) -> None:
    """Two pushers of one target (two replicas, or serve and the CLI): the claim lets one
    stream; the other says who streams and waits, and takes over when the first stops."""
    first, second = BinlogPusher(backups, "shop"), BinlogPusher(backups, "shop")
    said: list[str] = []
    second.say = said.append
    stop_first, stop_second = threading.Event(), threading.Event()
    one = threading.Thread(target=run_exclusively, args=(first, backups.catalog, stop_first))
    two = threading.Thread(
        target=run_exclusively,
        args=(second, backups.catalog, stop_second),
        kwargs={"retry": 0.2},
    )
    one.start()
    try:
        wait_until(first.alive, "the first pusher to stream")
        two.start()
        wait_until(lambda: any("another pusher streams" in m for m in said), "the second to wait")
        assert not second.alive()
        stop_first.set()
        one.join(timeout=60)
        wait_until(second.alive, "the second pusher to take over", timeout=30)
    finally:
        stop_first.set()
        stop_second.set()
        one.join(timeout=60)
        if two.ident is not None:  # started
            two.join(timeout=60)
    assert not one.is_alive()
    assert not two.is_alive()


def test_serve_runs_the_pusher_of_each_binlog_target(
    backups: Backups, binlog_server: BinlogServer, shop: str, project: Path
) -> None:
    server = start_server(
        project / "data",
        env={"BUTTRESS_CONFIG": str(project / "buttress.yaml"), "PYTHONPATH": str(SRC)},
    )
    try:
        _insert(binlog_server, shop, range(1, 3))
        written = _current_binlog(binlog_server)
        wait_until(lambda: (project / "spool" / written).exists(), "serve's stream", timeout=30)
        binlog_server.query("FLUSH BINARY LOGS")
        repo = LocalDestination("repo", project / "repo")
        wait_until(lambda: written in _stored_names(repo), f"serve to store {written}", timeout=30)
    finally:
        code = server.stop()
    assert code == 0, server.stderr_path.read_text()
    assert _current_binlog(binlog_server) in _stored_names(repo)  # the current one, at stop


def test_a_damaged_binlog_copy_is_passed_over_and_none_good_is_refused(
    backups: Backups, binlog_server: BinlogServer, shop: str, project: Path
) -> None:
    """One destination's copy altered: the other's is used; both altered: the restore is
    refused naming the file and each copy, before anything is created."""
    _insert(binlog_server, shop, range(1, 4))
    assert backups.run("shop").status == "succeeded"
    pusher = BinlogPusher(backups, "shop")
    pusher.start()
    try:
        _insert(binlog_server, shop, range(4, 7))
        when = _next_second(binlog_server)
        written = _current_binlog(binlog_server)
        binlog_server.query("FLUSH BINARY LOGS")
        wait_until(lambda: written in pusher.push().removed, f"{written} stored")
    finally:
        pusher.stop()

    def damage(folder: str) -> None:
        dest = LocalDestination(folder, project / folder)
        key = next(k for k in dest.keys(prefix("shop")) if k.startswith(f"shop/binlog/{written}-"))
        data = bytearray(dest.get(key))
        data[len(data) // 2] ^= 0xFF
        dest.path_of(key).write_bytes(bytes(data))

    damage("repo")
    restore_to_time(backups, "shop", when, database=f"{shop}_from_offsite")
    assert [r[0] for r in _rows(binlog_server, f"{shop}_from_offsite")] == list(range(1, 7))
    damage("offsite")
    with pytest.raises(CorruptBackupError) as caught:
        restore_to_time(backups, "shop", when, database=f"{shop}_never")
    assert f"archived binlog {written}: no good copy" in str(caught.value)
    assert "destination local" in str(caught.value)
    assert "destination offsite" in str(caught.value)
    assert not binlog_server.query(f"SHOW DATABASES LIKE '{shop}_never'")


def test_the_newest_dump_before_the_time_is_the_base_and_a_gap_is_refused(
    backups: Backups, binlog_server: BinlogServer, shop: str, project: Path
) -> None:
    _insert(binlog_server, shop, range(1, 3))
    first = backups.run("shop")
    pusher = BinlogPusher(backups, "shop")
    pusher.start()
    try:
        _insert(binlog_server, shop, range(3, 5))
        t1 = _next_second(binlog_server)
        at_t1 = _rows(binlog_server, shop)
        middle = _current_binlog(binlog_server)
        binlog_server.query("FLUSH BINARY LOGS")
        second = backups.run("shop")  # taken in the file after `middle`
        _insert(binlog_server, shop, range(5, 7))
        t2 = _next_second(binlog_server)
        at_t2 = _rows(binlog_server, shop)
        last = _current_binlog(binlog_server)
        binlog_server.query("FLUSH BINARY LOGS")
        wait_until(lambda: last in pusher.push().removed or last not in _spooled(pusher), last)
    finally:
        pusher.stop()
    assert first.status == second.status == "succeeded"

    done = restore_to_time(backups, "shop", t1, database=f"{shop}_t1")
    assert f"backup {first.id}" in done
    assert _rows(binlog_server, f"{shop}_t1") == at_t1
    done = restore_to_time(backups, "shop", t2, database=f"{shop}_t2")
    assert f"backup {second.id}" in done
    assert _rows(binlog_server, f"{shop}_t2") == at_t2

    # the file of the second dump lost from every destination: the first dump's file and the
    # one after the lost one remain, with a gap between them that a restore cannot cross
    for folder in ("repo", "offsite"):
        dest = LocalDestination(folder, project / folder)
        lost = [k for k in dest.keys(prefix("shop")) if k.startswith(f"shop/binlog/{last}-")]
        assert lost
        for key in lost:
            dest.delete(key)
    current = _current_binlog(binlog_server)  # stored at the pusher's stop
    with pytest.raises(RestoreError) as caught:
        restore_to_time(backups, "shop", t1, database=f"{shop}_gap")
    assert f"has a gap between {middle} and {current}" in str(caught.value)
    assert "nothing was restored" in str(caught.value)
    assert not binlog_server.query(f"SHOW DATABASES LIKE '{shop}_gap'")
