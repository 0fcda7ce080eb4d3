"""Point-in-time recovery of PostgreSQL: buttress's WAL archive and PITR restore next to
pgBackRest's, in one run, on private clusters (issue 21).

    apt-get install -y pgbackrest   # the peer (Debian); scripts/check.sh installs PostgreSQL
    .venv/bin/python bench/pitr.py               # everything (~20 minutes on 2 cores)
    .venv/bin/python bench/pitr.py --quick       # everything, small (a smoke test, ~3 minutes)
    .venv/bin/python bench/pitr.py --only archive,rpo

Run as root (the clusters run as the ``postgres`` OS user, as in the tests: each is made by
``tests/backup/pg_cluster.py``'s ``make_cluster(owned_dir(...))``, ``fsync = off``, for
both sides alike). buttress's catalog is a throw-away database on the machine's server
(127.0.0.1:5432), as the archive command runs as ``postgres``.

Cases (each bounded in time; in ``archive`` and ``rpo`` each row has a cluster of its own, in
``restore`` one cluster archives to both tools, its archive_command running both pushes):

- ``archive``: pgbench at full speed for ``--seconds`` (a script whose transactions insert
  2,000 rows each: TPC-B writes ~1 MB/s of WAL here, too little to load any archiver); the
  segments per second each archiver stores, sampled every half second: the server's view
  (``pg_stat_archiver`` against ``pg_current_wal_lsn()``) and what is in the repository
  (its folder listed: an async archiver's spool is not an archive). Then the drain: how
  long after pgbench stops until the last segment is stored. Then the capacity: 30
  segments written with archiving paused, archived with the server idle. The floor is
  ``cp %p DIR/%f`` (no compression, no checksum, not durable); a line gives the start of
  one process of each (a synchronous push pays it per segment).
- ``rpo``: ``archive_timeout = 10s``, ``pgbench -R`` (a steady rate) for ``--rpo-seconds``;
  a probe commits a row every 0.25 s and notes the WAL insert position after it; every half
  second the age of the newest probe row that the repository holds (its segment stored) is
  sampled. Goal <= 15 s. The same runs give the stored size of the WAL, extrapolated to a
  week of the same load (linear: the same rate all week).
- ``restore``: a cluster of ``--scale`` pgbench (60: ~0.9 GB), a base backup by each tool,
  ``--replay-seconds`` of pgbench at full speed (the WAL to replay), a marker row, the target
  time, another marker row; then each tool restores to that time into a new directory and
  the server is started until it is promoted (fetch, decrypt, write, WAL replay, promote:
  end to end), and to the base backup's end (``immediate``). The markers check that the
  time reached is right. The floor is ``cp -a`` of the source's data directory.

pgBackRest 2.45 (Debian): ``compress-type=zst compress-level=3`` (buttress's zstd level),
``process-max=2`` (the cores), encryption stated per row (``aes-256-cbc`` or none);
buttress always encrypts (age) and checksums (SHA-256); its config is the tests'
(``tests/backup/wal_setup.write_config``, target ``pg``). A buttress command that this
checkout lacks (``wal push``, ``wal pusher``, ``kind: physical``, ``restore --target-time``)
prints "not yet": no number is made up. With ``PYTHONPATH`` at another tree's ``src``, that
tree's buttress is measured (the archive command and the pusher run it too).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the private clusters of tests/backup/pg_cluster.py

from tests.backup.pg_cluster import (  # noqa: E402
    AS_PG,
    Cluster,
    bin_dir,
    buttress_command,
    chown_tree,
    make_cluster,
    owned_dir,
    pg_env,
    postgres_can_run_buttress,
)
from tests.backup.wal_setup import write_config  # noqa: E402
from tests.conftest import free_port  # noqa: E402

from buttress.backup.wal.names import parse_lsn, parse_name  # noqa: E402

PG_ADMIN = os.environ.get("BUTTRESS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BUTTRESS = [sys.executable, "-m", "buttress"]
STANZA = "bench"
SAMPLE = 0.5  # seconds between samples
DRAIN_LIMIT = 180.0  # seconds an archiver may take to catch up after the load stops
WEEK = 7 * 86400

# A stored WAL segment, in either repository: pgBackRest's ``<name>-<sha1>[.zst]``,
# buttress's ``<name>-<sha256>`` (unfinished writes end otherwise and are not counted).
_STORED = re.compile(r"^([0-9A-F]{24})-[0-9a-f]{40,64}(\.zst|\.gz|\.lz4|\.bz2)?$")


# --- what buttress has on main ------------------------------------------------------------


def _help(*args: str) -> str:
    run = subprocess.run([*BUTTRESS, *args, "--help"], capture_output=True, text=True)
    return run.stdout if run.returncode == 0 else ""


@dataclass
class Have:
    """Which buttress commands this checkout has (a missing one's rows say "not yet")."""

    push: bool
    pusher: bool
    physical: bool
    pitr_restore: bool

    @classmethod
    def probe(cls) -> Have:
        import importlib.util

        wal = _help("wal")
        restore = _help("backup", "restore")
        return cls(
            push=" push " in wal or "\n  push" in wal,
            pusher="pusher" in wal,
            physical=importlib.util.find_spec("buttress.backup.sources.pg_physical") is not None,
            pitr_restore="--target-time" in restore,
        )


# --- helpers ------------------------------------------------------------------------------


def _pg_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    shutil.chown(path, "postgres", "postgres")
    return path


def _as_pg(argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [*AS_PG, *argv], capture_output=True, text=True, env=pg_env(), timeout=timeout
    )
    if run.returncode != 0:
        raise SystemExit(f"failed ({run.returncode}): {' '.join(argv)}\n{run.stderr[-3000:]}")
    return run


def _stored(repo: Path) -> dict[str, int]:
    """Every WAL segment stored under ``repo``: name -> stored bytes."""
    found: dict[str, int] = {}
    for folder, _, files in os.walk(repo):
        for file in files:
            m = _STORED.match(file)
            if m:
                with contextlib.suppress(FileNotFoundError):
                    found[m.group(1)] = (Path(folder) / file).stat().st_size
    return found


def _segment_end(name: str, segment_size: int) -> int:
    """The LSN just past the segment ``name``."""
    return parse_name(name, segment_size).start_lsn(segment_size) + segment_size


def _literal(text: str) -> str:
    """``text`` as an SQL string literal (ALTER SYSTEM takes no parameters), its ``%``
    doubled (``Cluster.sql`` passes parameters, so psycopg reads placeholders)."""
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def _max(values: Iterable[float]) -> float:
    """The largest of ``values`` that is a number (NaN: none is)."""
    numbers = [v for v in values if not math.isnan(v)]
    return max(numbers) if numbers else float("nan")


def _ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}" if reference > 0 else "-"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f}"


@contextlib.contextmanager
def _catalog_database() -> Iterator[str]:
    """A throw-away catalog database on the machine's server (postgres writes the catalog)."""
    name = f"buttress_bench_pitr_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield re.sub(r"/[^/]*$", f"/{name}", PG_ADMIN)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the archivers --------------------------------------------------------------------------


@dataclass
class Archiver:
    """One way of archiving a cluster's WAL: the row's label, its ``archive_command`` once
    ``setup`` ran (after the cluster started), the folder its stored segments are in."""

    label: str
    repo: Path
    setup: Callable[[Cluster], str]
    stop: Callable[[], None] = lambda: None
    base_backup: Callable[[Cluster], None] | None = None
    restore: Callable[[Path, str | None], list[str]] | None = None  # (datadir, time) -> argv
    command: str = ""  # the archive_command, once set up


def floor_archiver(root: Path) -> Archiver:
    repo = _pg_dir(root / "cp-archive")
    return Archiver("floor: cp %p DIR/%f", repo, lambda _c: f"cp %p {repo}/%f-{'0' * 40}")


def pgbackrest_archiver(root: Path, encrypted: bool, async_: bool) -> Archiver:
    repo = _pg_dir(root / "pgbr-repo")
    conf = root / "pgbackrest.conf"
    mode = "async" if async_ else "sync"
    cipher = "aes-256-cbc" if encrypted else "none"

    def setup(cluster: Cluster) -> str:
        lines = [
            "[global]",
            f"repo1-path={repo}",
            "repo1-retention-full=9",
            "compress-type=zst",
            "compress-level=3",
            "process-max=2",
            f"log-path={_pg_dir(root / 'pgbr-log')}",
            f"lock-path={_pg_dir(root / 'pgbr-lock')}",
            f"spool-path={_pg_dir(root / 'pgbr-spool')}",
            "log-level-console=warn",
            "log-level-stderr=warn",
            "log-level-file=off",
            "start-fast=y",
            f"archive-async={'y' if async_ else 'n'}",
        ]
        if encrypted:
            lines += ["repo1-cipher-type=aes-256-cbc", f"repo1-cipher-pass={secrets.token_hex(16)}"]
        lines += [
            f"[{STANZA}]",
            f"pg1-path={cluster.data}",
            f"pg1-port={cluster.port}",
            f"pg1-socket-path={cluster.socket_dir}",
            "pg1-user=postgres",
        ]
        conf.write_text("\n".join(lines) + "\n")
        conf.chmod(0o600)
        shutil.chown(conf, "postgres", "postgres")
        _as_pg(["pgbackrest", f"--config={conf}", f"--stanza={STANZA}", "stanza-create"])
        return f"pgbackrest --config={conf} --stanza={STANZA} archive-push %p"

    def backup(_cluster: Cluster) -> None:
        _as_pg(["pgbackrest", f"--config={conf}", f"--stanza={STANZA}", "--type=full", "backup"])

    def restore(datadir: Path, target_time: str | None) -> list[str]:
        how = ["--type=time", f"--target={target_time}"] if target_time else ["--type=immediate"]
        return [
            *AS_PG,
            "pgbackrest",
            f"--config={conf}",
            f"--stanza={STANZA}",
            f"--pg1-path={datadir}",
            *how,
            "--target-action=promote",
            "--archive-mode=off",
            "restore",
        ]

    return Archiver(
        f"pgbackrest archive-push ({mode}, zst 3, cipher {cipher})",
        repo,
        setup,
        base_backup=backup,
        restore=restore,
    )


def _buttress_as_pg() -> list[str]:
    """The buttress the postgres user runs: the one this bench imported (``PYTHONPATH``
    given, so a server started from another tree's tests still runs it)."""
    import buttress

    src = Path(buttress.__file__).resolve().parents[1]
    return ["env", f"PYTHONPATH={src}", *buttress_command().split()]


def _archive_command(config: Path) -> str:
    """The archive_command ``backup postgres-setup`` sets for target ``pg`` (async: the
    configuration-free ``--spool`` push), run as :func:`_buttress_as_pg` says."""
    from buttress.backup.wal.setup import buttress_command as setup_command
    from buttress.backup.wal.setup import wanted
    from buttress.config import PostgresqlTargetConfig, load

    target = next(t for t in load(config).backup.targets if t.name == "pg")
    assert isinstance(target, PostgresqlTargetConfig)
    command = next(s.value for s in wanted(target, config) if s.name == "archive_command")
    head = setup_command()
    assert command.startswith(head), command
    return " ".join(_buttress_as_pg()) + command[len(head) :]


def buttress_archiver(root: Path, async_: bool, have: Have) -> Archiver:
    """buttress's ``wal push`` into a local destination (target ``pg``), sync or async (the
    spool, and a ``wal pusher`` this bench runs as postgres); the config is the tests'
    (``tests/backup/wal_setup.write_config``), its catalog a throw-away database on the
    machine's server."""
    home = _pg_dir(root / "buttress")
    config = home / "buttress.yaml"
    mode = "async" if async_ else "sync"
    pusher: list[subprocess.Popen[bytes]] = []
    stack = contextlib.ExitStack()
    cli = [*BUTTRESS, "--config", str(config)]

    def setup(cluster: Cluster) -> str:
        catalog = stack.enter_context(_catalog_database())
        # a spool in both modes: async pushes into it, a restore's fetch prefetches into it
        wal = {"mode": mode, "archive_timeout": "10s", "spool_dir": str(home / "spool")}
        write_config(home, catalog, cluster.dsn(), **wal)
        subprocess.run([*cli, "db", "upgrade"], check=True, capture_output=True)
        _pg_dir(home / "data-dir")
        _pg_dir(home / "spool")
        chown_tree(home)
        if async_:
            with (home / "pusher.log").open("wb") as log:
                pusher.append(
                    subprocess.Popen(
                        [*AS_PG, *_buttress_as_pg(), "--config", str(config), "wal",
                         "pusher", "pg"],
                        stdout=log, stderr=subprocess.STDOUT, env=pg_env(),
                    )
                )  # fmt: skip
        return _archive_command(config)

    def stop() -> None:
        for proc in pusher:
            proc.terminate()  # the pusher this bench started
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        pusher.clear()
        stack.close()

    def backup(_cluster: Cluster) -> None:
        run = subprocess.run([*cli, "backup", "run", "pg"], capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"buttress backup run failed: {run.stderr[-3000:]}")

    def restore(datadir: Path, target_time: str | None) -> list[str]:
        how = ["--target-time", target_time] if target_time else ["--immediate"]
        return [*cli, "backup", "restore", "pg", "--to", str(datadir), *how,
                "--target-action", "promote", "--port", str(free_port())]  # fmt: skip

    return Archiver(
        f"buttress wal push ({mode}, zstd 3, age)",
        home / "repo",
        setup,
        stop=stop,
        base_backup=backup if have.physical else None,
        restore=restore if have.pitr_restore else None,
    )


# --- sampling -------------------------------------------------------------------------------


@dataclass
class Point:
    at: float
    lsn: int  # pg_current_wal_lsn()
    archived: str | None  # pg_stat_archiver.last_archived_wal
    stored: str | None  # the newest segment in the repository
    stored_count: int
    stored_bytes: int


@dataclass
class Sampler:
    """Samples a cluster and its archive's repository every SAMPLE seconds, in a thread."""

    cluster: Cluster
    repo: Path
    segment_size: int
    points: list[Point] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self, conn: psycopg.Connection[tuple[object, ...]]) -> Point:
        lsn, archived = conn.execute(
            "SELECT pg_current_wal_lsn()::text, last_archived_wal FROM pg_stat_archiver"
        ).fetchone() or ("0/0", None)
        stored = _stored(self.repo)
        return Point(
            time.time(),
            parse_lsn(str(lsn)),
            str(archived) if archived else None,
            max(stored) if stored else None,
            len(stored),
            sum(stored.values()),
        )

    def start(self) -> None:
        def loop() -> None:
            with psycopg.connect(self.cluster.dsn(), autocommit=True) as conn:
                while not self._stop.is_set():
                    self.points.append(self.sample(conn))
                    self._stop.wait(SAMPLE)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def lag(self, p: Point, which: str) -> float:
        """Segments between the server's write position and the newest archived/stored one."""
        name = p.archived if which == "archived" else p.stored
        if name is None or not re.fullmatch(r"[0-9A-F]{24}", name):
            return float("nan")
        return max(0, p.lsn - _segment_end(name, self.segment_size)) / self.segment_size


@dataclass
class Probe:
    """Commits a row every 0.25 s and notes (time committed, WAL insert position after it)."""

    cluster: Cluster
    marks: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.cluster.sql("CREATE TABLE IF NOT EXISTS bench_probe (at timestamptz)")

        def loop() -> None:
            with psycopg.connect(self.cluster.dsn(), autocommit=True) as conn:
                while not self._stop.is_set():
                    conn.execute("INSERT INTO bench_probe VALUES (clock_timestamp())")
                    done = time.time()
                    row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
                    self.marks.append((done, parse_lsn(str(row[0]) if row else "0/0")))
                    self._stop.wait(0.25)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def newest_before(self, lsn: int) -> float | None:
        """The time of the newest probe row whose commit is wholly before ``lsn``."""
        best = None
        for at, mark in self.marks:
            if mark <= lsn:
                best = at
        return best


# --- the sides ------------------------------------------------------------------------------


@dataclass
class Side:
    """One row: its label and how to make its archiver (None: not on main yet)."""

    label: str
    make: Callable[[Path], Archiver] | None


def sides(have: Have, floor: bool, plain: bool) -> list[Side]:
    made = [Side("floor: cp %p DIR/%f", floor_archiver)] if floor else []
    made.append(Side("pgbackrest sync, aes-256-cbc", lambda r: pgbackrest_archiver(r, True, False)))
    if plain:
        made.append(
            Side("pgbackrest sync, no cipher", lambda r: pgbackrest_archiver(r, False, False))
        )
    made.append(Side("pgbackrest async, aes-256-cbc", lambda r: pgbackrest_archiver(r, True, True)))
    made.append(
        Side(
            "buttress wal push sync, age",
            (lambda r: buttress_archiver(r, False, have)) if have.push else None,
        )
    )
    made.append(
        Side(
            "buttress wal push async, age",
            (lambda r: buttress_archiver(r, True, have)) if have.push and have.pusher else None,
        )
    )
    return made


def _not_yet(side: Side, columns: int) -> None:
    print(f"| {side.label} | not yet |" + " |" * (columns - 2))


@contextlib.contextmanager
def _archiving_cluster(
    make: Callable[[Path], Archiver], archive_timeout: int, scale: int
) -> Iterator[tuple[Cluster, Archiver, int]]:
    """A new cluster archiving through ``make``'s archiver (set once pgbench -i and the
    archiver's setup are done, and every segment so far stored): (cluster, archiver,
    segment size)."""
    root = owned_dir("buttress-bench-pitr-")
    cluster = make_cluster(
        _pg_dir(root / "pg"),
        archive_mode="on",
        archive_command="true",  # the WAL of initdb and pgbench -i: nobody's business
        archive_timeout=archive_timeout,
        max_wal_size="2GB",
    )
    archiver = make(root)
    try:
        if scale:
            cluster.pgbench("-i", "-q", "-s", str(scale))
        cluster.wait_archived(cluster.switch_wal(), DRAIN_LIMIT)
        archiver.command = archiver.setup(cluster)
        _set_archive_command(cluster, archiver.command)
        if _drain(cluster, archiver.repo, DRAIN_LIMIT) is None:
            tail = cluster.log.read_text(errors="replace")[-2000:]
            raise SystemExit(f"{archiver.label}: nothing archived in {DRAIN_LIMIT} s\n{tail}")
        size = int(cluster.value("SELECT setting FROM pg_settings WHERE name='wal_segment_size'"))
        yield cluster, archiver, size
    finally:
        archiver.stop()
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def _set_archive_command(cluster: Cluster, command: str) -> None:
    cluster.sql(f"ALTER SYSTEM SET archive_command = {_literal(command)}")
    cluster.sql("SELECT pg_reload_conf()")


def _backlog(
    cluster: Cluster, arch: Archiver, size: int, script: Path, segments: int
) -> tuple[int, float | None]:
    """Archiving paused, write ``segments`` segments of WAL; then archive them, the server
    idle: (segments, seconds until all are stored; None: not within DRAIN_LIMIT)."""
    _set_archive_command(cluster, "")
    time.sleep(1)  # the archiver's command under way finishes
    before = _stored(arch.repo)
    start = parse_lsn(str(cluster.value("SELECT pg_current_wal_lsn()::text")))
    load = _pgbench(cluster, 600, None, script)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        lsn = parse_lsn(str(cluster.value("SELECT pg_current_wal_lsn()::text")))
        if lsn - start >= segments * size:
            break
        time.sleep(0.2)
    load.terminate()  # the pgbench this bench started
    load.wait()
    last = cluster.switch_wal()
    newest = max(before) if before else last
    pending = parse_name(last, size).segno - parse_name(newest, size).segno
    began = time.monotonic()
    _set_archive_command(cluster, arch.command)
    while time.monotonic() - began < DRAIN_LIMIT:
        stored = _stored(arch.repo)
        if len(stored) - len(before) >= pending and max(stored) >= last:
            return pending, time.monotonic() - began
        time.sleep(0.1)
    return pending, None


def _drain(cluster: Cluster, repo: Path, limit: float) -> float | None:
    """Switch WAL and wait until the repository holds the segment just finished: the seconds
    taken (None: not within ``limit``)."""
    started = time.monotonic()
    cluster.sql("SELECT pg_logical_emit_message(false, 'bench', 'drain')")  # a segment to switch
    last = cluster.switch_wal()
    while time.monotonic() - started < limit:
        stored = _stored(repo)
        if stored and max(stored) >= last:
            return time.monotonic() - started
        time.sleep(0.1)
    return None


BULK = (
    "INSERT INTO bench_bulk SELECT g, md5(random()::text) || md5(g::text) "
    "FROM generate_series(1, 2000) g;\n"
)


def _pgbench(
    cluster: Cluster, seconds: float, rate: int | None, script: Path | None = None
) -> subprocess.Popen[bytes]:
    """pgbench against ``cluster``'s postgres database for ``seconds``: TPC-B (4 clients), or
    ``script`` (2 clients), at ``rate`` transactions/s (None: full speed)."""
    clients = "2" if script else "4"
    argv = ["pgbench", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-n",
            "-c", clients, "-j", "2", "-T", str(max(1, round(seconds)))]  # fmt: skip
    if script:
        argv += ["-f", str(script)]
    if rate:
        argv += ["-R", str(rate)]
    return subprocess.Popen(
        [*argv, "postgres"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


# --- a: archive throughput ------------------------------------------------------------------


def bench_archive(rows: list[Side], seconds: float, scale: int, backlog: int) -> None:
    print(
        f"\n## a. archive throughput: pgbench -c 2 -j 2 at full speed for {seconds:.0f} s, "
        "each transaction inserting 2,000 rows of 64 random hex characters (~50 MB/s of WAL "
        f"here with no archiver; after pgbench -i -s {scale}), sampled every {SAMPLE} s; "
        f"then a backlog of {backlog} segments written with archiving paused, archived with "
        "the server idle (the archiver's capacity)\n"
    )
    header = (
        "| archiver | WAL written seg/s | stored seg/s | x floor | lag max, server "
        "(pg_stat_archiver) segs | lag max, stored segs | lag at end segs | drain s "
        "| backlog seg/s | x floor |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    floor: float | None = None
    floor_capacity: float | None = None
    for side in rows:
        if side.make is None:
            _not_yet(side, header.count("|") - 1)
            continue
        with _archiving_cluster(side.make, 0, scale) as (cluster, arch, size):
            cluster.sql("CREATE TABLE bench_bulk (id int, payload text)")
            script = cluster.root.parent / "bulk.sql"
            script.write_text(BULK)
            sampler = Sampler(cluster, arch.repo, size)
            sampler.start()
            time.sleep(SAMPLE * 2)
            _pgbench(cluster, seconds, None, script).wait()
            ended = time.time()
            drain = _drain(cluster, arch.repo, DRAIN_LIMIT)
            sampler.stop()
            pending, took = _backlog(cluster, arch, size, script, backlog)
        during = [p for p in sampler.points if p.at <= ended]
        first, last = during[0], during[-1]
        span = last.at - first.at
        written = (last.lsn - first.lsn) / size / span
        stored = (last.stored_count - first.stored_count) / span
        floor = stored if floor is None else floor
        capacity = pending / took if took else 0.0
        floor_capacity = capacity if floor_capacity is None else floor_capacity
        lag_server = _max(sampler.lag(p, "archived") for p in during)
        lag_stored = _max(sampler.lag(p, "stored") for p in during)
        drained = f"> {DRAIN_LIMIT:.0f}" if drain is None else f"{drain:.1f}"
        print(
            f"| {side.label} | {written:.2f} | {stored:.2f} | {_ratio(stored, floor)} | "
            f"{lag_server:.0f} | {lag_stored:.0f} | {sampler.lag(last, 'stored'):.0f} | "
            f"{drained} | {f'{capacity:.2f}' if took else f'> {DRAIN_LIMIT:.0f} s'} | "
            f"{_ratio(capacity, floor_capacity)} |",
            flush=True,
        )
    print(
        "\n(seg/s: 16 MiB segments per second over the pgbench window; stored: what the "
        "repository folder holds, so an async archiver's spool does not count; drain: from "
        "the end of the load to the last segment stored; backlog seg/s: segments stored per "
        "second from the moment archiving resumes)"
    )
    print(f"\none process start, nothing archived: {_startup()}")


def _startup() -> str:
    """The floor of a synchronous push's cost per segment: one process of each, doing nothing
    (buttress: the interpreter, the CLI's imports)."""
    found = []
    for label, argv in (("buttress --version", [*BUTTRESS, "--version"]),
                        ("pgbackrest version", ["pgbackrest", "version"])):  # fmt: skip
        times = []
        for _ in range(3):
            began = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=True)
            times.append(time.perf_counter() - began)
        found.append(f"`{label}` {sorted(times)[1]:.2f} s")
    return ", ".join(found) + " (median of 3)"


# --- b + d: RPO under a steady load, stored size of its WAL ---------------------------------


def bench_rpo(rows: list[Side], seconds: float, rate: int, scale: int) -> None:
    timeout = 10
    warmup = min(timeout + 2.0, seconds / 3)
    print(
        f"\n## b. RPO under load: archive_timeout = {timeout}s, pgbench -R {rate} for "
        f"{seconds:.0f} s (scale {scale}); first {warmup:.0f} s not counted\n"
    )
    header = (
        "| archiver | age of newest stored data p50 s | p95 s | max s | goal <= 15 s "
        "| segments per week | stored per week GiB | x pgbackrest sync |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    reference: float | None = None
    for side in rows:
        if side.make is None:
            _not_yet(side, header.count("|") - 1)
            continue
        with _archiving_cluster(side.make, timeout, scale) as (cluster, arch, size):
            probe = Probe(cluster)
            probe.start()
            sampler = Sampler(cluster, arch.repo, size)
            sampler.start()
            _pgbench(cluster, seconds, rate).wait()
            sampler.stop()
            probe.stop()
        start = sampler.points[0].at + warmup
        ages = []
        for p in sampler.points:
            if p.at < start or p.stored is None:
                continue
            newest = probe.newest_before(_segment_end(p.stored, size))
            if newest is not None:
                ages.append(p.at - newest)
        counted = [p for p in sampler.points if p.at >= start]
        first, last = counted[0], counted[-1]
        span = last.at - first.at
        wal_week = (last.lsn - first.lsn) / span * WEEK
        stored_week = (last.stored_bytes - first.stored_bytes) / span * WEEK
        reference = stored_week if reference is None else reference
        worst = max(ages) if ages else float("nan")
        print(
            f"| {side.label} | {_pct(ages, 0.5):.1f} | {_pct(ages, 0.95):.1f} | {worst:.1f} | "
            f"{'yes' if worst <= 15 else 'NO'} | {wal_week / size:.0f} | "
            f"{stored_week / 2**30:.2f} | {_ratio(stored_week, reference)} |",
            flush=True,
        )
    print(
        "\n(age: now minus the commit time of the newest probe row whose WAL the repository "
        "holds, sampled every 0.5 s; per week: the measured window's growth extrapolated "
        "linearly to 7 days of the same load)"
    )


# --- c: PITR restore ------------------------------------------------------------------------


def _start_until_promoted(root: Path, data: Path, port: int, limit: float) -> None:
    """Start the restored server (unless the restore did) and wait until it is promoted."""
    cluster = Cluster(root, data, port, bin_dir())
    deadline = time.monotonic() + limit
    if not cluster.running():
        _pg_dir(cluster.socket_dir)
        options = f"-p {port} -k {cluster.socket_dir} -c listen_addresses=127.0.0.1"
        cluster.pg_ctl("-W", "-l", str(cluster.log), "-o", options, "start")
    while time.monotonic() < deadline:
        try:
            if cluster.value("SELECT pg_is_in_recovery()") is False:
                return
        except psycopg.OperationalError:
            pass
        time.sleep(0.05)
    tail = cluster.log.read_text(errors="replace")[-3000:] if cluster.log.exists() else ""
    raise SystemExit(f"restored server at {data} not promoted within {limit} s\n{tail}")


def bench_restore(have: Have, scale: int, replay_seconds: float) -> None:
    print(
        f"\n## c. PITR restore: pgbench scale {scale}, {replay_seconds:.0f} s of pgbench at "
        "full speed after the base backups, restored to a time near its end\n"
    )
    root = owned_dir("buttress-bench-pitr-restore-")
    cluster = make_cluster(
        _pg_dir(root / "pg"), archive_mode="on", archive_command="true", max_wal_size="4GB"
    )
    arch_root = {"pgbackrest": _pg_dir(root / "pgbr"), "buttress": _pg_dir(root / "butt")}
    pgbr = pgbackrest_archiver(arch_root["pgbackrest"], True, False)
    butt = buttress_archiver(arch_root["buttress"], False, have) if have.push else None
    try:
        started = time.monotonic()
        cluster.pgbench("-i", "-q", "-s", str(scale))
        cluster.sql("CREATE TABLE bench_marker (tag text, at timestamptz DEFAULT now())")
        cluster.sql("CHECKPOINT")
        db_size = int(cluster.value("SELECT sum(pg_database_size(oid)) FROM pg_database"))
        print(f"cluster: {_mb(db_size)} MiB, built in {time.monotonic() - started:.0f} s")
        cluster.wait_archived(cluster.switch_wal(), DRAIN_LIMIT)  # by `true`: before the bases
        commands = [pgbr.setup(cluster)] + ([butt.setup(cluster)] if butt else [])
        cluster.sql(f"ALTER SYSTEM SET archive_command = {_literal(' && '.join(commands))}")
        cluster.sql("SELECT pg_reload_conf()")
        cluster.wait_archived(cluster.switch_wal(), DRAIN_LIMIT)

        backups: dict[str, float] = {}
        for name, arch in (("pgbackrest", pgbr), ("buttress", butt)):
            if arch is None or arch.base_backup is None:
                continue
            began = time.perf_counter()
            arch.base_backup(cluster)
            backups[name] = time.perf_counter() - began
        _pgbench(cluster, replay_seconds, None).wait()
        cluster.sql("INSERT INTO bench_marker (tag) VALUES ('before')")
        target = str(cluster.value("SELECT clock_timestamp()::text"))
        time.sleep(0.5)
        cluster.sql("INSERT INTO bench_marker (tag) VALUES ('after')")
        _pgbench(cluster, 2, None).wait()
        lsn = str(cluster.value("SELECT pg_current_wal_lsn()::text"))
        cluster.wait_archived(cluster.switch_wal(), DRAIN_LIMIT)
        wal = _stored(pgbr.repo)
        print(
            "base backups: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in backups.items())
            + ("" if "buttress" in backups else ", buttress (kind: physical) not yet")
        )
        print(f"target time {target}; WAL to {lsn}, {len(wal)} segments archived in all\n")

        header = (
            "| restore | restore s | start + replay + promote s | total s | x pgbackrest "
            "| reached |"
        )
        print(header)
        print("|---" * (header.count("|") - 1) + "|")
        cases: list[tuple[str, Archiver | None, str | None]] = [
            ("pgbackrest restore --type=immediate", pgbr, None),
            ("pgbackrest restore --type=time", pgbr, target),
            ("buttress backup restore --immediate", butt, None),
            ("buttress backup restore --target-time", butt, target),
        ]
        floor_root = owned_dir("buttress-bench-pitr-floor-")
        began = time.perf_counter()
        subprocess.run(["cp", "-a", str(cluster.data), str(floor_root / "data")], check=True)
        floor = time.perf_counter() - began
        shutil.rmtree(floor_root, ignore_errors=True)
        print(f"| floor: cp -a of the data directory | {floor:.2f} | - | {floor:.2f} | - | - |")
        reference: dict[str | None, float] = {}
        for label, arch, when in cases:
            if arch is None or arch.restore is None:
                print(f"| {label} | not yet | | | | |")
                continue
            into = owned_dir("buttress-bench-pitr-into-")
            data = _pg_dir(into / "data")
            data.chmod(0o700)
            try:
                argv = arch.restore(data, when)
                port = int(argv[argv.index("--port") + 1]) if "--port" in argv else free_port()
                os.sync()
                began = time.perf_counter()
                run = subprocess.run(
                    argv,
                    capture_output=True,
                    text=True,
                    env=pg_env() if argv[0] == AS_PG[0] else None,
                )
                if run.returncode != 0:
                    raise SystemExit(f"{label} failed: {run.stderr[-3000:]}")
                restored = time.perf_counter() - began
                _start_until_promoted(into, data, port, 900)
                total = time.perf_counter() - began
                check = Cluster(into, data, port, bin_dir())
                tags = check.value(
                    "SELECT coalesce(string_agg(tag, ',' ORDER BY tag), '') FROM bench_marker"
                )
                want = "before" if when else ""
                reached = f"markers '{tags}' ({'right' if tags == want else 'WRONG'})"
                check.stop("immediate")
            finally:
                shutil.rmtree(into, ignore_errors=True)
            ref = reference.setdefault(when, total)
            print(
                f"| {label} | {restored:.2f} | {total - restored:.2f} | {total:.2f} | "
                f"{total / ref:.2f} | {reached} |",
                flush=True,
            )
        print(
            "\n(goal: buttress <= 1.5x pgbackrest for the same target; pgbackrest "
            "process-max=2, zst 3, aes-256-cbc; markers: rows committed before/after the "
            "target time; restore s: the restore command, total: until pg_is_in_recovery() "
            "is false)"
        )
    finally:
        pgbr.stop()
        if butt:
            butt.stop()
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="everything small (a smoke test)")
    parser.add_argument(
        "--only",
        default="archive,rpo,restore",
        help="comma-separated: archive, rpo (with the stored size), restore",
    )
    parser.add_argument("--seconds", type=float, default=30, help="archive: pgbench seconds")
    parser.add_argument("--rpo-seconds", type=float, default=100, help="rpo: pgbench seconds")
    parser.add_argument("--rate", type=int, default=200, help="rpo: pgbench -R transactions/s")
    parser.add_argument("--scale", type=int, default=60, help="restore: pgbench scale")
    parser.add_argument(
        "--replay-seconds",
        type=float,
        default=20,
        help="restore: pgbench seconds after the base backups",
    )
    args = parser.parse_args()
    # a SIGTERM unwinds like Ctrl-C: the clusters, pushers and catalogs made are removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    unknown = only - {"archive", "rpo", "restore"}
    if unknown:
        parser.error(f"--only: unknown case(s) {', '.join(sorted(unknown))}")
    if args.quick:
        args.seconds, args.rpo_seconds, args.rate = 4, 16, 50
        args.scale, args.replay_seconds = 2, 2
    if os.geteuid() != 0:
        raise SystemExit("run as root: the clusters run as the postgres OS user (runuser)")
    if shutil.which("pgbackrest") is None:
        raise SystemExit("pgbackrest is not installed: apt-get install -y pgbackrest")
    reason = postgres_can_run_buttress()
    if reason:
        raise SystemExit(
            f"the postgres OS user cannot run buttress here ({reason}): run scripts/check.sh once"
        )
    have = Have.probe()
    version = subprocess.run(["pgbackrest", "version"], capture_output=True, text=True).stdout
    print(f"machine: {os.cpu_count()} cores; {version.strip()}; PostgreSQL {bin_dir().parent.name}")
    print(
        f"buttress here: wal push {'yes' if have.push else 'not yet'}, async pusher "
        f"{'yes' if have.pusher else 'not yet'}, kind: physical "
        f"{'yes' if have.physical else 'not yet'}, restore --target-time "
        f"{'yes' if have.pitr_restore else 'not yet'}"
    )
    if "archive" in only:
        rows = sides(have, floor=True, plain=True)
        bench_archive(rows, args.seconds, 1 if args.quick else 10, 3 if args.quick else 30)
    if "rpo" in only:
        bench_rpo(
            sides(have, floor=False, plain=False),
            args.rpo_seconds,
            args.rate,
            1 if args.quick else 5,
        )
    if "restore" in only:
        bench_restore(have, args.scale, args.replay_seconds)


if __name__ == "__main__":
    main()
