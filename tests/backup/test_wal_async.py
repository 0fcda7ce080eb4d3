"""Asynchronous WAL archiving end to end: a private cluster whose ``archive_command`` is an
async ``wal push`` (the postgres OS user, a PostgreSQL catalog), the pusher (the serve threads,
``wal pusher --once``, a killed ``wal pusher`` process), a full spool, a destination down, and
fetch's prefetch serving a restore."""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from buttress.backup.destinations import LocalDestination
from buttress.backup.keys import generate_identity
from buttress.backup.wal.asynchronous import (
    PusherThreads,
    async_targets,
    build_pusher,
    target_spool,
)
from buttress.backup.wal.layout import parse_key, prefix
from buttress.backup.wal.names import parse_name
from buttress.backup.wal.prefetch import prefetch_lock
from buttress.backup.wal.pusher import pusher_lock
from buttress.backup.wal.recovery import fetch_command
from buttress.backup.wal.service import Wal
from buttress.backup.wal.spool import Spool, queue_depth, sha256_file
from buttress.backup.wal.status import status_of
from buttress.catalog import Catalog, catalog_url
from buttress.cli import main
from buttress.config import load
from buttress.config._backup import PostgresqlTargetConfig
from buttress.server.app import create_app
from tests.backup.pg_cluster import (
    AS_PG,
    Cluster,
    buttress_command,
    chown_tree,
    make_cluster,
    owned_dir,
    pg_env,
)
from tests.conftest import free_port

TARGET = "pg"


@dataclass
class Setup:
    root: Path
    config: Path
    catalog: str  # the catalog's DSN
    cluster: Cluster

    @property
    def spool(self) -> Spool:
        return Spool(self.root / "spool", TARGET, 1 << 40)

    @property
    def repo(self) -> LocalDestination:
        return LocalDestination("local", self.root / "repo")

    def cli(self, *args: str) -> int:
        return main(["--config", str(self.config), *args])

    def write_config(self, **wal: object) -> None:
        settings = {
            "mode": "async",
            "spool_dir": str(self.root / "spool"),
            "spool_max_mb": 1024,
            "push_workers": 2,
            "batch": 4,
            "prefetch": 3,
            **wal,
        }
        inline = ", ".join(f"{k}: {v}" for k, v in settings.items())
        self.config.write_text(
            f"data_dir: {self.root / 'data'}\n"
            f"catalog: {{url: '{self.catalog}'}}\n"
            "backup:\n"
            f"  recipients: [{(self.root / 'pub.txt').read_text().strip()}]\n"
            f"  identity_files: [{self.root / 'key.txt'}]\n"
            f"  manifest_key_file: {self.root / 'manifest.key'}\n"
            "  destinations:\n"
            f"    - {{name: local, path: {self.root / 'repo'}}}\n"
            "  targets:\n"
            f"    - name: {TARGET}\n"
            "      source: postgresql\n"
            "      kind: physical\n"
            f"      dsn: '{self.cluster.dsn()}'\n"
            f"      wal: {{{inline}}}\n"
        )
        chown_tree(self.root)

    def segments(self) -> list[tuple[str, str, str]]:
        """(name, mode, sha256) of the catalog's rows of the target, by name."""
        with psycopg.connect(self.catalog) as conn:
            rows = conn.execute(
                "SELECT name, mode, sha256 FROM wal_segments WHERE target = %s ORDER BY name",
                (TARGET,),
            ).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def stored(self) -> list[str]:
        """The names of the archived files in the repository (one entry per object)."""
        found = []
        for key in self.repo.keys(prefix(TARGET)):
            parsed = parse_key(TARGET, key)
            if parsed is not None:
                found.append(parsed[0].name)
        return sorted(found)


@pytest.fixture
def setup(pg_clusters: list[Cluster], pg_database: str) -> Iterator[Setup]:
    root = owned_dir("wal-async-")
    (root / "pub.txt").write_text(generate_identity(root / "key.txt"))
    cluster = make_cluster(owned_dir("wal-async-pg-"), start=False)
    pg_clusters.append(cluster)
    s = Setup(root, root / "buttress.yaml", pg_database, cluster)
    s.write_config()
    assert s.cli("db", "upgrade") == 0
    command = f"{buttress_command()} --config {s.config} wal push {TARGET} %p"
    cluster.configure(archive_mode="on", archive_command=command)
    cluster.start()
    yield s
    shutil.rmtree(root, ignore_errors=True)


def _write_segments(cluster: Cluster, count: int) -> list[str]:
    """Write a little and switch segments ``count`` times; the finished segments' names."""
    cluster.sql("CREATE TABLE IF NOT EXISTS t (i int, pad text)")
    names = []
    for i in range(count):
        cluster.sql("INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 500) g")
        names.append(cluster.switch_wal())
        assert names[-1] > (names[-2] if i else "")
    cluster.wait_archived(names[-1])
    return names


def _wait(what: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


def _contiguous(names: list[str]) -> bool:
    parsed = sorted(parse_name(n) for n in names if parse_name(n).is_segment)
    return all(b.segno == a.segno + 1 for a, b in itertools.pairwise(parsed))


def test_async_archiving_under_pgbench_is_pushed_without_gaps(setup: Setup) -> None:
    cluster = setup.cluster
    cluster.pgbench("-i", "-s", "4", "-q")
    cluster.pgbench("-c", "2", "-t", "400", "-n")
    last = cluster.switch_wal()
    cluster.wait_archived(last)
    # acknowledged = spooled: nothing is stored yet, all of it waits in the spool
    files, size = queue_depth(setup.root / "spool", TARGET)
    assert files >= 4
    assert size >= files * (16 << 20) - (16 << 20)
    assert setup.stored() == []

    config = load(setup.config)
    catalog = Catalog(catalog_url(setup.catalog, Path()))
    try:
        app = create_app(catalog, config)
        with TestClient(app):  # serve runs the target's pusher
            _wait("the pusher empties the spool", lambda: setup.spool.depth() == (0, 0))
            pushers = app.state.wal_pushers
            assert isinstance(pushers, PusherThreads)
            assert pushers.status()[TARGET].files == 0
        target = Wal(config.backup, catalog).target(TARGET)
        status = status_of(target, catalog)
    finally:
        catalog.dispose()
    rows = setup.segments()
    newest = status.newest.name if status.newest else None
    assert (status.mode, newest, status.segments + status.history_files) == (
        "async",
        last,
        len(rows),
    )
    names = [name for name, _, _ in rows]
    assert names[-1] == last
    assert {mode for _, mode, _ in rows} == {"async"}
    assert _contiguous(names)
    assert setup.stored() == names  # each once
    assert list(setup.spool.out_dir.iterdir()) == []


def test_serve_runs_no_pusher_where_the_spool_is_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "buttress.yaml").write_text(
        "backup:\n"
        "  destinations: [{name: local, path: repo}]\n"
        "  targets:\n"
        "    - name: pg\n"
        "      source: postgresql\n"
        "      kind: physical\n"
        "      dsn: 'postgresql://nobody@127.0.0.1:1/x'\n"
        f"      wal: {{mode: async, spool_dir: {tmp_path / 'elsewhere'}}}\n"
    )
    config = load(tmp_path / "buttress.yaml").backup
    with caplog.at_level(logging.INFO, "buttress.backup.wal"):
        threads = PusherThreads(Wal(config, None), async_targets(config))
    assert threads.pushers == {}
    assert "does not exist on this host (the pusher runs on the database host" in caplog.text


def test_a_full_spool_refuses_the_push_and_postgresql_keeps_the_segment(setup: Setup) -> None:
    cluster = setup.cluster
    setup.write_config(spool_max_mb=1)  # a segment is 16 MiB: every push is refused
    first = cluster.switch_wal()

    def failed() -> bool:
        return bool(cluster.value("SELECT failed_count FROM pg_stat_archiver"))

    _wait("PostgreSQL sees the push fail", failed)
    assert cluster.value("SELECT last_archived_wal FROM pg_stat_archiver") is None
    assert "would pass spool_max_mb" in cluster.log.read_text()
    assert list(setup.spool.out_dir.iterdir()) == []
    assert (cluster.data / "pg_wal" / first).is_file()  # kept, to be retried
    assert (cluster.data / "pg_wal" / "archive_status" / f"{first}.ready").is_file()

    setup.write_config()  # room again: the retries succeed, nothing is missing
    last = cluster.switch_wal()
    cluster.wait_archived(last)
    spooled = sorted(p.name for p in setup.spool.pending())
    assert spooled[0] == first
    assert last in spooled
    assert _contiguous(spooled)


def test_the_spool_disk_full_refuses_the_push_from_the_command_line(
    tmp_path: Path, full_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "buttress.yaml").write_text(
        "backup:\n"
        "  destinations: [{name: local, path: repo}]\n"
        "  targets:\n"
        "    - name: pg\n"
        "      source: postgresql\n"
        "      kind: physical\n"
        "      dsn: 'postgresql://nobody@127.0.0.1:1/x'\n"
        f"      wal: {{mode: async, spool_dir: {full_disk}}}\n"
    )
    segment = tmp_path / "000000010000000000000001"
    segment.write_bytes(os.urandom(2 << 20))  # more than the 1 MiB tmpfs
    argv = ["--config", str(tmp_path / "buttress.yaml"), "wal", "push", "pg", str(segment)]
    assert main(argv) == 1
    assert "the disk is full while spooling 000000010000000000000001" in capsys.readouterr().err
    assert list((full_disk / "pg" / "out").iterdir()) == []


def test_a_pusher_killed_mid_batch_loses_and_duplicates_nothing(setup: Setup) -> None:
    setup.write_config(push_workers=1, batch=64)
    names = _write_segments(setup.cluster, 6)
    spool = setup.spool
    pending = [p.name for p in spool.pending()]
    assert set(names) <= set(pending)
    # the fourth spooled file is held back by a FIFO in its place: the pusher blocks reading it,
    # in the middle of its batch, after the first three are pushed
    first_copy = setup.root / "first"
    shutil.copyfile(spool.out_dir / pending[0], first_copy)
    held = spool.out_dir / pending[3]
    kept = setup.root / "held"
    held.replace(kept)
    os.mkfifo(held)
    pusher = subprocess.Popen(
        [sys.executable, "-m", "buttress", "--config", str(setup.config), "wal", "pusher", TARGET],
        env=pg_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait(
            "the first three are pushed",
            lambda: [n for n, _, _ in setup.segments()] == pending[:3],
        )
    finally:
        pusher.send_signal(signal.SIGKILL)
        _, err = pusher.communicate()
    assert pusher.returncode == -signal.SIGKILL, err
    held.unlink()
    kept.replace(held)
    # as if a kill had come after the first file was recorded, before it left the spool
    spool.put(first_copy, pending[0])
    first_row = setup.segments()[0]

    assert setup.cli("wal", "pusher", TARGET, "--once") == 0
    rows = setup.segments()
    assert [n for n, _, _ in rows] == pending
    assert setup.stored() == pending
    assert rows[0] == first_row
    assert spool.depth() == (0, 0)

    # a pusher stopped as a service manager stops it ends cleanly, its lock released
    service = subprocess.Popen(
        [sys.executable, "-m", "buttress", "--config", str(setup.config), "wal", "pusher", TARGET],
        env=pg_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait("the pusher runs", lambda: spool.lock_path.read_text().strip() == str(service.pid))
    finally:
        service.send_signal(signal.SIGTERM)
        _, log = service.communicate(timeout=120)
    assert service.returncode == 0, log
    assert f"WAL pusher of {TARGET}: running" in log
    with pusher_lock(spool, wait=False):
        pass


def test_a_destination_down_keeps_the_segments_spooled_and_retries(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    names = _write_segments(setup.cluster, 3)
    repo = setup.root / "repo"
    shutil.rmtree(repo, ignore_errors=True)
    repo.write_text("not a folder: the destination is down\n")
    config = load(setup.config).backup
    target = config.targets[0]
    assert isinstance(target, PostgresqlTargetConfig)
    catalog = Catalog(catalog_url(setup.catalog, Path()))
    try:
        pusher = build_pusher(Wal(config, catalog), target)
        with caplog.at_level(logging.WARNING, "buttress.backup.wal"):
            batch = pusher.push_batch()
            wait = pusher.pause(batch)
            assert batch.failed
            assert not batch.pushed
            assert wait > 0
            assert pusher.pause(pusher.push_batch()) == 2 * wait  # backing off
        assert "stay spooled" in caplog.text
        assert "retrying in" in caplog.text
        spool = target_spool(target)
        assert spool is not None
        assert set(names) <= {p.name for p in spool.pending()}
        assert setup.segments() == []

        repo.unlink()  # back
        total = pusher.drain()
        assert not total.failed
        assert pusher.pause(total) == 0.0  # more may wait: no pause, and no backoff now
        assert pusher.failures == 0
    finally:
        catalog.dispose()
    assert set(names) <= {n for n, _, _ in setup.segments()}
    assert spool.depth() == (0, 0)


def test_prefetch_serves_the_next_segment_from_the_spool(setup: Setup) -> None:
    names = _write_segments(setup.cluster, 6)
    assert setup.cli("wal", "pusher", TARGET, "--once") == 0
    spool = setup.spool
    out = owned_dir("wal-fetch-")
    try:
        first = names[0]
        assert setup.cli("wal", "fetch", TARGET, first, str(out / first)) == 0
        following = names[1:4]  # prefetch: 3
        assert len(names) == 6

        def prefetched() -> list[str]:
            return sorted(p.name.rpartition("-")[0] for p in spool.in_dir.glob("0*"))

        _wait("the prefetch downloads the next 3", lambda: prefetched() == following)
        shas = {name: sha for name, _, sha in setup.segments()}
        # the archive loses its copy of the next one: only the prefetched file can serve it
        for key in setup.repo.keys(prefix(TARGET)):
            parsed = parse_key(TARGET, key)
            if parsed is not None and parsed[0].name == following[0]:
                setup.repo.delete(key)
        assert setup.cli("wal", "fetch", TARGET, following[0], str(out / following[0])) == 0
        assert sha256_file(out / following[0]) == shas[following[0]]
        assert following[0] not in prefetched()
        # the prefetch it started tops the window up (names[2..4]; names[4] is new)
        _wait("the next prefetch", lambda: names[4] in prefetched())
        # recovery jumps past a prefetched segment: it is removed as stale
        assert setup.cli("wal", "fetch", TARGET, following[2], str(out / following[2])) == 0
        assert following[1] not in prefetched()
        assert sha256_file(out / following[2]) == shas[following[2]]
        _wait("the last prefetch", lambda: names[5] in prefetched())
        _wait("the last prefetch ends", lambda: _prefetch_free(spool))
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _prefetch_free(spool: Spool) -> bool:
    with prefetch_lock(spool) as free:
        return free


@pytest.mark.parametrize("form", ["cli", "fast"])
def test_a_restore_takes_its_next_segments_from_the_prefetch(
    setup: Setup, pg_clusters: list[Cluster], form: str
) -> None:
    """``fast``: the restore_command a restore writes for a target with prefetch names the
    spool, so a prefetched segment is served before the CLI loads (buttress.backup.wal.fast)."""
    cluster = setup.cluster
    _write_segments(cluster, 1)
    base = owned_dir("wal-async-base-")
    subprocess.run(
        [
            *AS_PG,
            str(cluster.bin / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(cluster.port),
            "-U",
            "postgres",
            "-D",
            str(base / "data"),
            "-X",
            "none",
            "-c",
            "fast",
        ],
        check=True,
        capture_output=True,
        env=pg_env(),
    )
    cluster.sql("CREATE TABLE after_base AS SELECT 42 AS answer")
    names = _write_segments(cluster, 6)
    assert setup.cli("wal", "pusher", TARGET, "--once") == 0
    assert setup.spool.depth() == (0, 0)

    restored = Cluster(base, base / "data", free_port(), cluster.bin)
    pg_clusters.append(restored)
    restored.socket_dir.mkdir(exist_ok=True)
    chown_tree(base)
    command = f"{buttress_command()} --config {setup.config} wal fetch {TARGET} %f %p"
    if form == "fast":
        command = fetch_command(sys.executable, setup.config, TARGET, spool=setup.root / "spool")
        assert command.endswith(f"%f %p --spool {setup.root / 'spool'}")
    restored.configure(archive_mode="off", restore_command=command)
    (restored.data / "recovery.signal").touch()
    chown_tree(base)
    chown_tree(setup.root)  # what the root pusher made (the manifest key...)
    restored.start()
    _wait("recovery ends", lambda: restored.value("SELECT pg_is_in_recovery()") is False)
    assert restored.value("SELECT answer FROM after_base") == 42
    log = restored.log.read_text()
    served = [n for n in names if f"wal fetch: {n} from the prefetched copy" in log]
    assert served, log[-3000:]
    fast = [
        n
        for n in names
        if f"wal fetch: {n} from the prefetched copy in the spool (fast path)" in log
    ]
    assert bool(fast) == (form == "fast"), log[-3000:]


def test_the_archive_command_postgres_setup_writes_spools_without_the_configuration(
    setup: Setup,
) -> None:
    """For an async target, `backup postgres-setup` puts the spool on the command line: the
    push reads no configuration (buttress._entry's fast path), so it works even with the
    configuration unreadable, and the pusher then stores every segment."""
    from buttress.backup.wal.setup import wanted

    config = load(setup.config)
    target = config.backup.targets[0]
    assert isinstance(target, PostgresqlTargetConfig)
    (command,) = [s.value for s in wanted(target, setup.config) if s.name == "archive_command"]
    spool_dir = setup.root / "spool"
    assert f"--spool {spool_dir} --spool-max-mb 1024" in command
    hidden = setup.config.with_suffix(".hidden")
    setup.config.replace(hidden)  # the push must not need it
    try:
        setup.cluster.configure(archive_command=command)
        setup.cluster.sql("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 30
        while setup.cluster.value("SHOW archive_command") != command:
            assert time.monotonic() < deadline, "the new archive_command never applied"
            time.sleep(0.1)
        setup.cluster.sql("SELECT pg_reload_conf()")
        names = _write_segments(setup.cluster, 3)
    finally:
        hidden.replace(setup.config)
    assert {p.name for p in setup.spool.pending()} >= set(names)
    assert setup.cli("wal", "pusher", TARGET, "--once") == 0
    stored = setup.stored()
    assert set(names) <= set(stored)
    assert _contiguous(stored)
