"""Real replica processes sharing one catalog: a job every 2 s runs exactly once per due time;
``kill -9`` of the leader hands over to another within the lease; a leader paused past its
lease (SIGSTOP) and resumed starts nothing after it lost leadership; two processes on one
SQLite file elect one leader."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from buttress.catalog import Catalog, catalog_url
from buttress.jobs.tables import JobRunRow, LeaderLease
from tests.conftest import wait_until

SCRIPT = Path(__file__).with_name("replica.py")
ROOT = Path(__file__).parents[2]
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"  # Debian's faketime


class Replicas:
    def __init__(self, url: str, tmp: Path) -> None:
        self.url, self.tmp = url, tmp
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.catalog = Catalog(url)
        self.catalog.upgrade()

    def start(
        self, name: str, *, every: float = 2.0, skew: str = "", host: bool = False, **extra: str
    ) -> None:
        """``host``: in a PID namespace of its own (``unshare``), so that to the others it is
        on another machine (its PID means nothing to them: only the lease and the catalog
        session tell them it is gone)."""
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            **extra,
        }
        if skew:  # this process's clock off by ``skew`` ("+4s"), by libfaketime
            env |= {"LD_PRELOAD": FAKETIME, "FAKETIME": skew, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        log = (self.tmp / f"{name}.log").open("wb")
        wrap = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"] if host else []
        self.procs[name] = subprocess.Popen(
            [*wrap, sys.executable, str(SCRIPT), self.url, name, str(every)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()

    def leader(self) -> LeaderLease | None:
        with self.catalog.begin() as session:
            return session.scalars(select(LeaderLease)).first()

    def runs(self) -> list[JobRunRow]:
        with self.catalog.begin() as session:
            return list(session.scalars(select(JobRunRow).order_by(JobRunRow.id)))

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
            proc.wait(10)
        self.catalog.dispose()


@pytest.fixture
def pg_replicas(pg_database: str, tmp_path: Path) -> Iterator[Replicas]:
    replicas = Replicas(catalog_url(pg_database, tmp_path), tmp_path)
    yield replicas
    replicas.close()


def _ticks_ran_once(runs: list[JobRunRow]) -> None:
    ran = [r for r in runs if r.outcome in ("running", "succeeded")]
    doubled = [due for due, n in Counter(r.due_at for r in ran).items() if n > 1]
    assert not doubled, f"due times run twice: {doubled}"


def test_three_replicas_failover_and_fencing(pg_replicas: Replicas) -> None:
    for name in ("r1", "r2", "r3"):
        pg_replicas.start(name)
    wait_until(lambda: pg_replicas.leader() is not None, "a leader", timeout=20)
    wait_until(lambda: len(pg_replicas.runs()) >= 4, "four ticks", timeout=20)
    first = pg_replicas.leader()
    assert first is not None

    # kill -9 the leader: another replica leads within the lease, and the ticks go on
    killed_at = time.monotonic()
    pg_replicas.procs[first.holder].kill()
    pg_replicas.procs[first.holder].wait(10)
    wait_until(
        lambda: (lead := pg_replicas.leader()) is not None and lead.holder != first.holder,
        "a new leader",
        timeout=10,
    )
    failover = time.monotonic() - killed_at
    print(f"failover after kill -9: {failover:.2f}s")
    assert failover < 5.0 + 1.0  # the lease, plus one renewal period
    second = pg_replicas.leader()
    assert second is not None
    assert second.term == first.term + 1
    before = len(pg_replicas.runs())
    wait_until(lambda: len(pg_replicas.runs()) >= before + 2, "ticks after failover")

    # SIGSTOP the new leader past its lease: the third takes over; SIGCONT: it starts nothing
    paused = pg_replicas.procs[second.holder]
    paused.send_signal(signal.SIGSTOP)
    wait_until(
        lambda: (lead := pg_replicas.leader()) is not None and lead.holder != second.holder,
        "a leader after the pause",
        timeout=15,
    )
    third = pg_replicas.leader()
    assert third is not None
    assert third.term == second.term + 1
    paused.send_signal(signal.SIGCONT)
    resumed = dt.datetime.now(dt.UTC)
    time.sleep(4)  # the resumed replica's loop runs; what it may start would be recorded now
    runs = pg_replicas.runs()
    stale = [r for r in runs if r.replica == second.holder and r.started_at > third.since]
    assert not stale, f"the paused leader started runs after it lost leadership: {stale}"
    assert any(r.replica == third.holder and r.started_at > third.since for r in runs)
    assert all(r.term <= third.term for r in runs)
    _ticks_ran_once(runs)
    gaps = (third.since - first.since).total_seconds()
    print(f"runs: {len(runs)} over {gaps:.1f}s of leadership changes; resumed {resumed}")


def test_two_processes_on_one_sqlite_file_elect_one_leader(tmp_path: Path) -> None:
    replicas = Replicas(catalog_url(None, tmp_path), tmp_path)
    try:
        replicas.start("s1", every=0.5)
        replicas.start("s2", every=0.5)
        wait_until(lambda: len(replicas.runs()) >= 8, "eight ticks", timeout=30)
        runs = replicas.runs()
        assert len({r.replica for r in runs}) == 1
        _ticks_ran_once(runs)
    finally:
        replicas.close()


def test_replicas_with_skewed_clocks_run_each_due_time_once(pg_replicas: Replicas) -> None:
    """Clocks 4 s ahead and 4 s behind: due times and leases come from the catalog's clock, so
    a change of leader neither runs a due time twice nor jumps ahead."""
    if not Path(FAKETIME).exists():
        pytest.fail(f"{FAKETIME} is missing: install Debian's faketime (scripts/check.sh does)")
    pg_replicas.start("behind", every=1.0, skew="-4s")  # leads first, with a slow clock
    wait_until(lambda: pg_replicas.leader() is not None, "a leader", timeout=20)
    pg_replicas.start("ahead", every=1.0, skew="+4s")  # a follower with a fast clock
    pg_replicas.start("true", every=1.0)
    wait_until(lambda: len(pg_replicas.runs()) >= 6, "six ticks", timeout=20)
    first = pg_replicas.leader()
    assert first is not None
    assert (first.holder, first.term) == ("behind", 1)
    for _ in range(2):  # hand over twice, between skewed clocks
        lead = pg_replicas.leader()
        assert lead is not None
        pg_replicas.procs[lead.holder].kill()
        pg_replicas.procs[lead.holder].wait(10)
        wait_until(
            lambda lead=lead: (
                (now := pg_replicas.leader()) is not None and now.holder != lead.holder
            ),  # type: ignore[misc]
            "the next leader",
            timeout=10,
        )
        count = len(pg_replicas.runs())
        wait_until(lambda count=count: len(pg_replicas.runs()) >= count + 2, "ticks")  # type: ignore[misc]
    runs = pg_replicas.runs()
    _ticks_ran_once(runs)
    assert len({r.replica for r in runs}) == 3
    final = pg_replicas.leader()
    assert final is not None
    assert final.term == 3, "a replica with a fast clock took the lease from a live leader"
    assert max(r.term for r in runs) == 3
    dues = sorted(r.due_at for r in runs)
    assert all((b - a).total_seconds() >= 0.99 for a, b in itertools.pairwise(dues))


def test_a_leader_killed_on_another_host_is_replaced_before_its_lease_ends(
    pg_replicas: Replicas,
) -> None:
    """Two replicas that cannot see each other's processes (PID namespaces of their own) and a
    60 s lease: after ``kill -9`` of the leader, the other leads as soon as PostgreSQL has
    ended the killed leader's session (its advisory lock with it), not 60 s later."""
    for name in ("h1", "h2"):
        pg_replicas.start(name, host=True, BUTTRESS_TEST_LEASE="60")
    wait_until(lambda: pg_replicas.leader() is not None, "a leader", timeout=20)
    wait_until(
        lambda: (lead := pg_replicas.leader()) is not None and lead.backend is not None,
        "the leader's lock",
    )
    first = pg_replicas.leader()
    assert first is not None
    killed = time.monotonic()
    pg_replicas.procs[first.holder].kill()  # unshare --kill-child: the replica goes with it
    pg_replicas.procs[first.holder].wait(10)
    wait_until(
        lambda: (lead := pg_replicas.leader()) is not None and lead.holder != first.holder,
        "the other replica to lead",
        timeout=30,  # half the lease: without the lock, it would wait for all of it
    )
    print(f"failover from another host after kill -9: {time.monotonic() - killed:.2f}s")
