"""Interleavings found by review, each made deterministic by choosing *when* the other party
acts (a hook on an internal step; no product behaviour is replaced): a timer moved or cancelled
between the leader's read and its start, a run that ends while the interrupted-run sweep looks,
a run whose end could not be recorded, rows that cannot start, a hung run past its timeout."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

import buttress.jobs.runner as runner_mod
from buttress.catalog import Catalog, catalog_url, claims
from buttress.errors import ButtressError
from buttress.jobs import Every, Job, JobContext, JobRunner
from buttress.jobs.tables import JobRow, JobRunRow
from tests.conftest import wait_until


@pytest.fixture
def pg_catalog(pg_database: str) -> Iterator[Catalog]:
    catalog = Catalog(catalog_url(pg_database, Path()))
    catalog.upgrade()
    yield catalog
    catalog.dispose()


def _outcome(catalog: Catalog, run_id: int) -> str:
    with catalog.begin() as session:
        row = session.get(JobRunRow, run_id)
        assert row is not None
        return row.outcome


def _due_now(catalog: Catalog) -> None:
    with catalog.begin() as session:
        session.execute(update(JobRow).values(next_due=claims.catalog_now(session)))


def test_a_timer_moved_or_cancelled_while_the_leader_starts_it_stays_so(
    pg_catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    leader = JobRunner(pg_catalog, replica="leader", lease=5, renew=1)
    api = JobRunner(pg_catalog, replica="api", lease=5, renew=1)  # a replica serving the API
    fired: list[JobContext] = []
    for runner in (leader, api):
        runner.handler("remind", fired.append)
    assert leader.election.step()
    now = dt.datetime.now(dt.UTC)
    leader.at("moved", now - dt.timedelta(seconds=1), "remind", {"v": "old"})
    leader.at("cancelled", now - dt.timedelta(seconds=1), "remind", {"v": "old"})
    cancelled: list[bool] = []
    real = runner_mod.decide  # type: ignore[attr-defined]

    def between_read_and_start(*args: Any, **kwargs: Any) -> Any:
        if not cancelled:  # the leader has read the due rows: the user acts now

            def user() -> None:
                api.at("moved", now + dt.timedelta(hours=1), "remind", {"v": "new"})
                cancelled.append(api.cancel("cancelled"))

            thread = threading.Thread(target=user)
            thread.start()
            thread.join(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner_mod, "decide", between_read_and_start)
    try:
        assert leader._start_due() == []
    finally:
        leader.stop()
        api.stop()
    assert cancelled == [True]
    assert fired == []
    assert list(leader.due()) == ["moved"]  # moved to in an hour, with its new payload
    with pg_catalog.begin() as session:
        row = session.get(JobRow, "moved")
        assert row is not None
        assert row.payload == {"v": "new"}


def test_a_run_that_ends_while_the_sweep_looks_keeps_its_end(catalog: Catalog) -> None:
    runner = JobRunner(catalog, replica="a", lease=2.0, renew=0.5)
    go = threading.Event()
    runner.handler("j", lambda ctx: go.wait(10))
    runner.register(Job("j", Every(3600), "j"))
    assert runner.election.step()
    runner._sync()
    _due_now(catalog)
    (run_id,) = runner._start_due()

    class EndsWhileRead(dict[int, Any]):
        ended = False

        def __iter__(self) -> Iterator[int]:
            if not EndsWhileRead.ended:  # the sweep has read the running rows: the run ends
                EndsWhileRead.ended = True
                go.set()
                wait_until(lambda: _outcome(catalog, run_id) == "succeeded", "the run's end")
            return super().__iter__()

    with runner._lock:
        runner._running = EndsWhileRead(runner._running)
    runner._sweep_interrupted()
    assert _outcome(catalog, run_id) == "succeeded"
    runner.stop()


def test_a_claim_left_by_a_run_whose_end_was_not_recorded_does_not_block_the_job(
    catalog: Catalog,
) -> None:
    runner = JobRunner(catalog, replica="a", lease=2.0, renew=0.5)
    calls: list[int] = []
    runner.handler("j", lambda ctx: calls.append(ctx.run_id))
    runner.register(Job("j", Every(3600), "j"))
    assert runner.election.step()
    runner._sync()
    real = runner._finish

    def lost_end(run: Any, outcome: str, error: str) -> None:  # the catalog did not answer
        run.heartbeat.stop()
        with runner._lock:
            runner._running.pop(run.run_id, None)

    runner._finish = lost_end  # type: ignore[method-assign]
    _due_now(catalog)
    runner._start_due()
    wait_until(lambda: len(calls) == 1, "the first run")
    wait_until(lambda: not runner._running, "the first run's lost end")  # after its handler
    runner._finish = real  # type: ignore[method-assign]
    _due_now(catalog)
    assert len(runner._start_due()) == 1  # not "skipped: still running" forever
    wait_until(lambda: len(calls) == 2, "the second run")
    runner.stop()


def test_rows_that_cannot_start_neither_spin_nor_starve_the_others(catalog: Catalog) -> None:
    runner = JobRunner(catalog, replica="a", lease=2.0, renew=0.5)
    ticks: list[int] = []
    runner.handler("tick", lambda ctx: ticks.append(1))
    runner.register(Job("tick", Every(0.3), "tick"))
    assert runner.election.step()
    runner._sync()
    with catalog.begin() as session:  # rows of other replicas' handlers, and a broken one
        now = claims.catalog_now(session)
        for i in range(runner_mod.BATCH + 5):
            session.add(
                JobRow(
                    key=f"other:{i}",
                    handler="not.here",
                    schedule="every 1s",
                    missed="skip",
                    payload={},
                    next_due=now - dt.timedelta(seconds=1),
                    created_at=now,
                )
            )
        session.add(
            JobRow(
                key="broken",
                handler="tick",
                schedule="every soon",
                missed="skip",
                payload={},
                next_due=now - dt.timedelta(seconds=2),
                created_at=now,
            )
        )
    runner.start()
    try:
        wait_until(lambda: len(ticks) >= 3, "ticks beside the rows that cannot start")
        passes = runner._passes
        time.sleep(1.0)  # what is measured here is how often the loop runs meanwhile
        assert runner._passes - passes < 20, "the loop spins on rows it cannot start"
        assert "broken" in runner._bad
        assert "job broken" in runner.last_error
    finally:
        runner.stop()


def test_a_job_whose_run_hangs_past_its_timeout_is_not_started_beside_it(
    catalog: Catalog,
) -> None:
    runner = JobRunner(catalog, replica="a", lease=2.0, renew=0.5)
    release = threading.Event()
    runner.handler("hangs", lambda ctx: release.wait(30))
    runner.register(Job("hangs", Every(3600), "hangs", timeout=0.3))
    assert runner.election.step()
    runner._sync()
    _due_now(catalog)
    (first,) = runner._start_due()

    def timed_out() -> bool:
        runner._expire_timeouts()
        return _outcome(catalog, first) == "timed_out"

    wait_until(timed_out, "the timeout")
    _due_now(catalog)
    assert runner._start_due() == []
    runs = runner.runs("hangs")
    assert runs[0].outcome == "skipped"
    assert "past its timeout" in runs[0].error
    release.set()
    runner.stop()


def test_keys_and_handlers_are_checked_when_registered(catalog: Catalog) -> None:
    runner = JobRunner(catalog, replica="a")
    runner.handler("h", lambda ctx: None)
    with pytest.raises(ButtressError, match="1 to 190 characters"):
        runner.register(Job("k" * 191, Every(1), "h"))
    with pytest.raises(ButtressError, match="no handler named 'nope'"):
        runner.at("t", dt.datetime.now(dt.UTC), "nope")


def test_a_leader_paused_inside_a_fenced_transaction_holds_off_a_takeover_one_lease_at_most(
    pg_catalog: Catalog,
) -> None:
    """The fence keeps the lease row locked until its transaction ends: a leader stopped inside
    it (SIGSTOP, a frozen VM) would hold every takeover off for as long as it is stopped.
    PostgreSQL ends that idle transaction after a lease; the other replica then leads."""
    from buttress.jobs import Election

    a = Election(pg_catalog, "a", lease=1.0, renew=0.2)
    b = Election(pg_catalog, "b", lease=1.0, renew=0.2)
    assert a.step()
    paused = pg_catalog._sessions()  # a's fenced transaction, left open as if a were stopped
    a.fence(paused)
    took: list[bool] = []

    def follower() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not took:
            if b.step():
                took.append(True)
            time.sleep(0.1)

    thread = threading.Thread(target=follower)
    thread.start()
    thread.join(25)
    try:
        assert took == [True], "the takeover waited on the paused leader's transaction"
        assert b.term == 2
    finally:
        with contextlib.suppress(Exception):  # PostgreSQL ended it: closing reports that
            paused.close()
        a.resign()
        b.resign()
