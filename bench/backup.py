"""Backup and restore of a PostgreSQL database: buttress next to the usual scripts, restic and
borg, in one run.

    apt-get install restic borgbackup              # the peers (Debian packages)
    .venv/bin/python bench/backup.py --mixed-mb 400 --pgbench-scale 20 --rounds 3

Two datasets are built in the local PostgreSQL (127.0.0.1:5432, user postgres): a pgbench
database (compresses ~100x: it flatters every compressor) and a *mixed* one (text, numeric,
jsonb, bytea, indexes; compresses ~3-4x), sized on the command line. The goals are judged on the
mixed one.

Each case runs as a child process (a shell pipeline or the ``buttress`` command, interpreter
start, imports and catalog included) and is measured with ``wait4``: wall time, CPU time (user +
system, every process of the case) and peak RSS (of the largest single process of the case).
Stored size is what the case left on disk. Every case starts after a ``CHECKPOINT`` and a
``sync`` (outside its time), so none pays for the writes of the one before. Medians of
``--rounds``; ratios are to the floor,
``pg_dump -Fc -Z0 > /dev/null`` (nothing can back up faster than the database is read).
Restore: buttress's streamed restore into an empty database against ``pg_restore -j2`` from a
local ``-Fc`` file, and buttress's restore test (restore into a scratch database + compare).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG = os.environ.get("BUTTRESS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
BUTTRESS = [sys.executable, "-m", "buttress"]


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    stored: int = 0


def _settle() -> None:
    """Start every case from the same state: the server's dirty buffers (the previous case's
    restore, or a dropped database) written out, and the page cache's dirty pages too, so no
    case pays for its predecessor's writes."""
    _psql("CHECKPOINT")
    os.sync()


def _run(command: list[str] | str, env: dict[str, str] | None = None) -> Sample:
    """Run one case (after :func:`_settle`); its wall time, CPU time and peak RSS from wait4."""
    _settle()
    shell = isinstance(command, str)
    argv = ["bash", "-o", "pipefail", "-c", command] if shell else command
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"case failed ({proc.returncode}): {command}\n{err[-2000:]}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


# In-process: what `buttress serve`'s scheduler does, without interpreter start and imports.
_IN_PROCESS = """
import json, resource, sys, time
from pathlib import Path
from buttress.backup.service import Backups
from buttress.catalog import Catalog, catalog_url
from buttress.config import load
import buttress.backup.sources.postgresql, zstandard, pyrage, psycopg  # noqa: F401
config = load(Path(sys.argv[1]))
catalog = Catalog(catalog_url(None, config.data_dir)); catalog.upgrade()
usage = lambda: sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF,
    resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
cpu, wall = usage(), time.perf_counter()
Backups(config.backup, catalog).run("db")
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": usage() - cpu}))
"""


def _run_in_process(config: Path) -> Sample:
    """The run alone, timed inside a process that has already imported everything."""
    import json

    _settle()
    proc = subprocess.Popen(
        [sys.executable, "-c", _IN_PROCESS, str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read() if proc.stdout else b""
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"in-process run failed: {err[-2000:]}")
    inner = json.loads(out)
    return Sample(inner["wall"], inner["cpu"], usage.ru_maxrss / 1024)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(
        ["psql", f"{PG}/{db}", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _database_size(db: str) -> int:
    out = subprocess.run(
        ["psql", f"{PG}/{db}", "-Atc", "SELECT pg_database_size(current_database())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip())


MIXED_SQL = """
CREATE TABLE customers (id bigserial PRIMARY KEY, name text, email text, balance numeric(14,2),
  profile jsonb, avatar bytea, created timestamptz DEFAULT now());
CREATE TABLE orders (id bigserial PRIMARY KEY, customer bigint, total numeric(14,2),
  status text, note text, items jsonb);
INSERT INTO customers (name, email, balance, profile, avatar)
  SELECT 'customer ' || i || ' ' || md5(i::text), 'user' || i || '@example.com',
         (random() * 100000)::numeric(14,2),
         jsonb_build_object('tier', i % 5, 'score', random(), 'tags',
                            jsonb_build_array(md5((i * 7)::text), i % 13)),
         decode(md5(random()::text) || md5(random()::text) || md5(random()::text), 'hex')
  FROM generate_series(1, {customers}) i;
INSERT INTO orders (customer, total, status, note, items)
  SELECT 1 + (i % {customers}), (random() * 500)::numeric(14,2),
         (ARRAY['new','paid','shipped','returned'])[1 + i % 4],
         repeat(md5(i::text), 1 + i % 4),
         jsonb_build_array(jsonb_build_object('sku', i % 1000, 'qty', 1 + i % 3))
  FROM generate_series(1, {orders}) i;
CREATE INDEX orders_customer ON orders (customer);
CREATE INDEX customers_email ON customers (email);
"""


def _make_datasets(mixed_mb: int, scale: int, rebuild: bool) -> list[str]:
    made = []
    if mixed_mb:
        db = f"bench_mixed_{mixed_mb}"
        if rebuild or not _exists(db):
            print(f"building {db} (~{mixed_mb} MB)...", file=sys.stderr)
            _psql(f'DROP DATABASE IF EXISTS "{db}"')
            _psql(f'CREATE DATABASE "{db}"')
            customers = mixed_mb * 1100
            _psql(MIXED_SQL.format(customers=customers, orders=customers * 4), db)
            _psql("VACUUM ANALYZE", db)
        made.append(db)
    if scale:
        db = f"bench_pgbench_{scale}"
        if rebuild or not _exists(db):
            print(f"building {db} (pgbench scale {scale})...", file=sys.stderr)
            _psql(f'DROP DATABASE IF EXISTS "{db}"')
            _psql(f'CREATE DATABASE "{db}"')
            subprocess.run(
                ["pgbench", "-i", "-q", "-s", str(scale), f"{PG}/{db}"],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        made.append(db)
    return made


def _exists(db: str) -> bool:
    assert db.replace("_", "").isalnum()  # names this script makes up, safe to quote
    query = f"SELECT 1 FROM pg_database WHERE datname = '{db}'"  # noqa: S608
    out = subprocess.run(
        ["psql", f"{PG}/postgres", "-Atc", query],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip() == "1"


def _buttress_project(work: Path, db: str) -> tuple[Path, str]:
    """A buttress.yaml backing up ``db`` to a local directory; returns (config, recipient)."""
    key = work / "key.txt"
    if not key.exists():
        out = subprocess.run(
            [*BUTTRESS, "backup", "keygen", str(key)], check=True, capture_output=True, text=True
        )
        (work / "recipient").write_text(out.stdout.strip())
    recipient = (work / "recipient").read_text()
    config = work / "buttress.yaml"
    config.write_text(
        f"data_dir: {work / 'data'}\n"
        "backup:\n"
        f"  recipients: [{recipient}]\n"
        f"  identity_files: [{key}]\n"
        f"  destinations: [{{name: local, path: {work / 'repo'}}}]\n"
        "  targets:\n"
        f"    - {{name: db, source: postgresql, dsn: '{PG}/{db}', globals: false}}\n"
        f"    - {{name: dbj, source: postgresql, dsn: '{PG}/{db}', globals: false, jobs: 2}}\n"
    )
    return config, recipient


def _last_id(config: Path, target: str) -> str:
    import json

    out = subprocess.run(
        [*BUTTRESS, "-c", str(config), "backup", "list", "--json", "-t", target, "--limit", "1"],
        check=True,
        capture_output=True,
        text=True,
    )
    return str(json.loads(out.stdout)[0]["id"])


def bench_dataset(db: str, rounds: int, work: Path) -> None:
    size = _database_size(db)
    print(f"\n## {db}: {size / 2**20:.0f} MiB in PostgreSQL ({rounds} rounds, medians)\n")
    have_restic = shutil.which("restic") is not None
    have_borg = shutil.which("borg") is not None
    secrets_env = {"RESTIC_PASSWORD": "bench", "BORG_PASSPHRASE": "bench"}
    dsn = f"{PG}/{db}"
    cases: dict[str, list[Sample]] = {}

    def case(name: str, out: Path, prepare: str | None, command: list[str] | str) -> None:
        if out.exists() and out.name != "repo":  # buttress's repository keeps every run
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        if prepare:
            subprocess.run(
                ["bash", "-c", prepare], check=True, env={**os.environ, **secrets_env},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        before = _size(out) if out.exists() else 0
        sample = _run(command, secrets_env)
        sample.stored = (_size(out) if out.exists() else 0) - before
        cases.setdefault(name, []).append(sample)

    project = work / "buttress"
    project.mkdir(exist_ok=True)
    config, _ = _buttress_project(project, db)
    for _ in range(rounds):
        case("floor: pg_dump -Fc -Z0 > /dev/null", work / "none",
             None, f"pg_dump -Fc -Z0 -d '{dsn}' > /dev/null")  # fmt: skip
        case("pg_dump -Fp | gzip -6 + sha256sum", work / "dump.sql.gz", None,
             f"pg_dump -Fp -d '{dsn}' | gzip -6 > {work}/dump.sql.gz"
             f" && sha256sum {work}/dump.sql.gz")  # fmt: skip
        case("pg_dump -Fc", work / "dump.fc", None,
             f"pg_dump -Fc -d '{dsn}' -f {work}/dump.fc")  # fmt: skip
        case("pg_dump -Fc -Z0 | zstd -3 -T0", work / "dump.zst", None,
             f"pg_dump -Fc -Z0 -d '{dsn}' | zstd -q -3 -T0 -o {work}/dump.zst")  # fmt: skip
        if have_restic:
            case("restic backup --stdin", work / "restic",
                 f"restic init -q -r {work}/restic",
                 f"pg_dump -Fc -Z0 -d '{dsn}' | restic -q -r {work}/restic backup --stdin "
                 "--stdin-filename db.dump")  # fmt: skip
        if have_borg:
            case("borg create (zstd,3) from stdin", work / "borg",
                 f"borg init -e repokey {work}/borg",
                 f"pg_dump -Fc -Z0 -d '{dsn}' | borg create --compression zstd,3 "
                 f"{work}/borg::db -")  # fmt: skip
        case("buttress backup run (zstd+age+sha256)", project / "repo",
             None, [*BUTTRESS, "-c", str(config), "backup", "run", "db"])  # fmt: skip
        case("buttress backup run, jobs: 2 (directory format)", project / "repo",
             None, [*BUTTRESS, "-c", str(config), "backup", "run", "dbj"])  # fmt: skip
        before = _size(project / "repo")
        sample = _run_in_process(config)
        sample.stored = _size(project / "repo") - before
        cases.setdefault("buttress in-process (as `serve` runs it)", []).append(sample)

    floor = statistics.median(s.wall for s in cases["floor: pg_dump -Fc -Z0 > /dev/null"])
    gzip = statistics.median(s.wall for s in cases["pg_dump -Fp | gzip -6 + sha256sum"])
    print("| backup | wall s | x floor | CPU s | peak RSS MB | stored MiB |")
    print("|---|---|---|---|---|---|")
    for name, samples in cases.items():
        wall = statistics.median(s.wall for s in samples)
        print(
            f"| {name} | {wall:.2f} | {wall / floor:.2f} | "
            f"{statistics.median(s.cpu for s in samples):.2f} | "
            f"{max(s.rss_mb for s in samples):.0f} | "
            f"{statistics.median(s.stored for s in samples) / 2**20:.1f} |"
        )
    ours = statistics.median(s.wall for s in cases["buttress backup run (zstd+age+sha256)"])
    inner = statistics.median(s.wall for s in cases["buttress in-process (as `serve` runs it)"])
    print(
        f"\nvs the gzip script: `buttress backup run` {gzip / ours:.2f}x faster, "
        f"in-process {gzip / inner:.2f}x faster"
    )

    # restore
    backup_id = _last_id(config, "db")
    parallel_id = _last_id(config, "dbj")
    restores: dict[str, list[Sample]] = {}
    restore_cmd = [*BUTTRESS, "-c", str(config), "backup", "restore"]
    for i in range(rounds):
        target = f"bench_restore_{i}"
        _psql(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        _psql(f'CREATE DATABASE "{target}"')
        restores.setdefault("pg_restore -j2 from a local -Fc file", []).append(
            _run(f"pg_restore -j2 -d '{PG}/{target}' {work}/dump.fc")
        )
        _psql(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        _psql(f'CREATE DATABASE "{target}"')
        restores.setdefault("cat file | pg_restore (a streamed restore's floor)", []).append(
            _run(f"cat {work}/dump.fc | pg_restore -d '{PG}/{target}'")
        )
        _psql(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        _psql(f'CREATE DATABASE "{target}"')  # as for pg_restore: created before the clock
        restores.setdefault("buttress backup restore (streamed)", []).append(
            _run([*restore_cmd, backup_id, "--to", f"{PG}/{target}"])
        )
        _psql(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        _psql(f'CREATE DATABASE "{target}"')
        restores.setdefault("buttress backup restore --jobs 2 (streamed, parallel)", []).append(
            _run([*restore_cmd, backup_id, "--to", f"{PG}/{target}", "--jobs", "2"])
        )
        _psql(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        _psql(f'CREATE DATABASE "{target}"')
        restores.setdefault("buttress backup restore, jobs: 2 (directory format)", []).append(
            _run([*restore_cmd, parallel_id, "--to", f"{PG}/{target}"])
        )
        _psql(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        restores.setdefault("buttress verify --restore-test", []).append(
            _run([*BUTTRESS, "-c", str(config), "backup", "verify", backup_id, "--restore-test"])
        )
    base = statistics.median(s.wall for s in restores["pg_restore -j2 from a local -Fc file"])
    print("\n| restore | wall s | x pg_restore -j2 | CPU s | peak RSS MB |")
    print("|---|---|---|---|---|")
    for name, samples in restores.items():
        wall = statistics.median(s.wall for s in samples)
        print(
            f"| {name} | {wall:.2f} | {wall / base:.2f} | "
            f"{statistics.median(s.cpu for s in samples):.2f} | "
            f"{max(s.rss_mb for s in samples):.0f} |"
        )
    restored = statistics.median(s.wall for s in restores["buttress backup restore (streamed)"])
    tested = statistics.median(s.wall for s in restores["buttress verify --restore-test"])
    print(f"\nrestore test / restore: {tested / restored:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mixed-mb", type=int, default=100, help="mixed dataset size (0: none)")
    parser.add_argument("--pgbench-scale", type=int, default=10, help="pgbench scale (0: none)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the datasets")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    databases = _make_datasets(args.mixed_mb, args.pgbench_scale, args.rebuild)
    print(f"machine: {os.cpu_count()} cores; {' '.join(_versions())}")
    for db in databases:
        with tempfile.TemporaryDirectory(prefix="buttress-bench-") as folder:
            bench_dataset(db, args.rounds, Path(folder))


def _versions() -> list[str]:
    found = []
    for tool in ("pg_dump", "zstd", "restic", "borg"):
        if shutil.which(tool):
            out = subprocess.run([tool, "--version"], capture_output=True, text=True)
            found.append(out.stdout.splitlines()[0].strip() if out.stdout else tool)
    return found


if __name__ == "__main__":
    main()
