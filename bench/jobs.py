"""The job runner and leader election, measured on real processes and a real PostgreSQL.

    .venv/bin/python bench/jobs.py [--kills 10] [--jobs 10000] [--seconds 30]

1. Failover: three replica processes (tests/jobs/replica.py) on a fresh PostgreSQL catalog;
   the leader is killed (``kill -9``: its process is seen gone on this host) or paused
   (``SIGSTOP`` until another leads: the lease-expiry path, as for a host that vanished
   without closing its connections), ``--kills`` times each; the time until another replica
   holds the lease. The first round runs each replica in a PID namespace of its own (as if on
   another machine: only the catalog session's advisory lock tells the others it is gone), the
   second on this host (its process is seen gone).
   Default lease 5 s, renewal 1 s. A killed leader is replaced by a new replica process.
2. Scheduler overhead: one runner in this process with ``--jobs`` registered jobs that are not
   due (a daily cron) plus 50 jobs due every second; CPU seconds per minute of this process
   while idle (only the idle jobs) and while running the due ones, and the lateness of due
   jobs (p50, p99, max) from the runs the catalog recorded.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy import select

ROOT = Path(__file__).parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from buttress.catalog import Catalog, catalog_url  # noqa: E402
from buttress.jobs import Cron, Every, Job, JobContext, JobRunner  # noqa: E402
from buttress.jobs.tables import JobRunRow, LeaderLease  # noqa: E402

PG = os.environ.get("BUTTRESS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _database() -> str:
    name = f"buttress_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop(name: str) -> None:
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _leader(catalog: Catalog) -> tuple[str, int] | None:
    with catalog.begin() as session:
        row = session.scalars(select(LeaderLease)).first()
        return (row.holder, row.term) if row else None


def _spawn(url: str, name: str, host: bool = False) -> subprocess.Popen[bytes]:
    """A replica; ``host``: in a PID namespace of its own, as if on another machine."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    wrap = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"] if host else []
    return subprocess.Popen(
        [*wrap, sys.executable, str(ROOT / "tests/jobs/replica.py"), url, name, "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )


def _wait(check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.02)


def failover(kills: int, how: str) -> list[float]:
    """``how``: "kill -9, another host", "kill -9, same host" or "SIGSTOP"."""
    name = _database()
    url = catalog_url(PG.rsplit("/", 1)[0] + f"/{name}", Path())
    catalog = Catalog(url)
    catalog.upgrade()
    host = "another" in how
    procs = {f"r{i}": _spawn(url, f"r{i}", host) for i in range(3)}
    made = 3
    times: list[float] = []
    try:
        _wait(lambda: _leader(catalog) is not None)
        for _ in range(kills):
            holder, term = _leader(catalog) or ("", 0)
            began = time.monotonic()
            proc = procs.pop(holder)
            proc.send_signal(signal.SIGSTOP if how == "SIGSTOP" else signal.SIGKILL)
            _wait(lambda term=term: (_leader(catalog) or ("", 0))[1] > term)
            times.append(time.monotonic() - began)
            if how == "SIGSTOP":
                proc.send_signal(signal.SIGCONT)
                proc.kill()
            proc.wait(10)
            procs[f"r{made}"] = _spawn(url, f"r{made}", host)
            made += 1
            time.sleep(1.5)  # let the new replica start and report itself
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait(10)
        catalog.dispose()
        _drop(name)
    return times


def overhead(jobs: int, seconds: float) -> None:
    name = _database()
    catalog = Catalog(catalog_url(PG.rsplit("/", 1)[0] + f"/{name}", Path()))
    catalog.upgrade()
    runner = JobRunner(catalog, replica="bench")

    def noop(ctx: JobContext) -> None:
        return None

    runner.handler("noop", noop)
    for i in range(jobs):
        runner.register(Job(f"idle:{i}", Cron(f"{i % 60} 3 * * *"), "noop"))
    try:
        runner.start()
        _wait(lambda: runner.election.leading, 60)
        _wait(lambda: len(runner.due()) >= jobs, 120)  # the first pass stores the jobs
        time.sleep(2)
        cpu, wall = time.process_time(), time.monotonic()
        time.sleep(seconds)
        idle = (time.process_time() - cpu) / (time.monotonic() - wall) * 60
        print(f"idle, {jobs} registered jobs: {idle:.2f} CPU-s per minute")
        for i in range(50):
            runner.register(Job(f"due:{i}", Every(1), "noop"))
        time.sleep(3)
        cpu, wall = time.process_time(), time.monotonic()
        time.sleep(seconds)
        busy = (time.process_time() - cpu) / (time.monotonic() - wall) * 60
        with catalog.begin() as session:
            late = sorted(
                r.late
                for r in session.scalars(select(JobRunRow).where(JobRunRow.job.like("due:%")))
            )
        print(
            f"with 50 jobs due every second: {busy:.2f} CPU-s per minute; {len(late)} runs, "
            f"lateness p50 {statistics.median(late) * 1000:.0f} ms, "
            f"p99 {late[int(len(late) * 0.99) - 1] * 1000:.0f} ms, max {late[-1] * 1000:.0f} ms"
        )
    finally:
        runner.stop()
        catalog.dispose()
        _drop(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    for how in ("kill -9, another host", "kill -9, same host", "SIGSTOP"):
        values = failover(args.kills, how)
        print(
            f"failover after {how}, {len(values)} times: min {min(values):.2f}s, "
            f"median {statistics.median(values):.2f}s, max {max(values):.2f}s "
            "(lease 5 s, renewal 1 s)"
        )
    overhead(args.jobs, args.seconds)


if __name__ == "__main__":
    main()
