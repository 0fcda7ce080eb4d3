"""The job runner on each catalog backend, with in-process replicas: one leader, every due
time run once, failures and timeouts recorded, one-shot timers that survive a restart, the
missed-run policies, fencing of a superseded leader."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from buttress import events
from buttress.catalog import Catalog, claims
from buttress.errors import ButtressError
from buttress.jobs import Cron, Every, FencedError, Job, JobContext, JobRunner
from buttress.jobs.events import JobRunEnded
from buttress.jobs.tables import JobRow, JobRunRow, LeaderLease, ReplicaRow
from tests.conftest import wait_until

FAST = {"lease": 1.0, "renew": 0.2}


@pytest.fixture
def runners(catalog: Catalog) -> Iterator[list[JobRunner]]:
    made: list[JobRunner] = []
    yield made
    for runner in made:
        runner.stop()


def _runner(
    catalog: Catalog, made: list[JobRunner], name: str, lease: float = FAST["lease"]
) -> JobRunner:
    runner = JobRunner(catalog, replica=name, lease=lease, renew=FAST["renew"])
    made.append(runner)
    return runner


def _runs(catalog: Catalog, job: str | None = None) -> list[JobRunRow]:
    with catalog.begin() as session:
        query = select(JobRunRow).order_by(JobRunRow.id)
        if job is not None:
            query = query.where(JobRunRow.job == job)
        return list(session.scalars(query))


def _noop(ctx: JobContext) -> None:
    return None


def test_two_replicas_run_each_due_time_once(catalog: Catalog, runners: list[JobRunner]) -> None:
    for name in ("a", "b"):
        runner = _runner(catalog, runners, name)
        runner.handler("tick", _noop)
        runner.register(Job("tick", Every(0.3), "tick"))
        runner.start()
    wait_until(lambda: len(_runs(catalog, "tick")) >= 8, "eight ticks", timeout=20)
    runs = _runs(catalog, "tick")
    assert max(Counter(r.due_at for r in runs).values()) == 1, "a due time ran twice"
    leaders = {r.replica for r in runs}
    assert len(leaders) == 1
    assert sum(r.election.leading for r in runners) <= 1


def test_the_other_replica_takes_over_when_the_leader_stops(
    catalog: Catalog, runners: list[JobRunner]
) -> None:
    a, b = (_runner(catalog, runners, n) for n in ("a", "b"))
    for runner in (a, b):
        runner.handler("tick", _noop)
        runner.register(Job("tick", Every(0.3), "tick"))
    a.start()
    wait_until(lambda: a.election.leading, "a leads")
    b.start()
    wait_until(lambda: len(_runs(catalog, "tick")) >= 2, "ticks by a")
    a.stop()
    wait_until(lambda: b.election.leading, "b takes over", timeout=5)
    wait_until(lambda: any(r.replica == "b" for r in _runs(catalog, "tick")), "ticks by b")
    terms = {r.replica: r.term for r in _runs(catalog, "tick")}
    assert terms["b"] == terms["a"] + 1  # the fencing term grows at each change of leader


def test_a_failing_job_is_recorded_and_still_scheduled(
    catalog: Catalog, runners: list[JobRunner]
) -> None:
    runner = _runner(catalog, runners, "a")

    def broken(ctx: JobContext) -> None:
        raise ButtressError("the dependency said no")

    runner.handler("broken", broken)
    runner.register(Job("broken", Every(0.3), "broken"))
    runner.start()
    wait_until(
        lambda: len([r for r in _runs(catalog, "broken") if r.outcome == "failed"]) >= 2,
        "two failed runs",
    )
    failed = [r for r in _runs(catalog, "broken") if r.outcome == "failed"]
    assert failed[0].error == "the dependency said no"
    assert failed[0].ended_at is not None
    with catalog.begin() as session:
        assert session.get(JobRow, "broken") is not None  # still scheduled


def test_each_run_that_ends_is_an_event_on_the_bus(
    catalog: Catalog, runners: list[JobRunner]
) -> None:
    """JobRunEnded: the run's key, id and outcome as the catalog records them."""
    ended: list[JobRunEnded] = []
    runner = _runner(catalog, runners, "a")

    calls = Counter[str]()

    def flaky(ctx: JobContext) -> None:
        calls["flaky"] += 1
        if calls["flaky"] == 2:
            raise ButtressError("the dependency said no")

    runner.handler("flaky", flaky)
    runner.register(Job("flaky", Every(0.3), "flaky"))
    with events.subscribe(JobRunEnded, ended.append):
        runner.start()
        wait_until(lambda: len(ended) >= 2, "two runs ended")
        runner.stop()
    first, second = sorted(ended, key=lambda e: e.run_id)[:2]
    assert (first.key, first.outcome, first.error) == ("flaky", "succeeded", "")
    assert (second.key, second.outcome, second.error) == (
        "flaky", "failed", "the dependency said no",
    )  # fmt: skip
    recorded = {r.id: r.outcome for r in _runs(catalog, "flaky")}
    assert recorded[first.run_id] == "succeeded"
    assert recorded[second.run_id] == "failed"
    assert first.seconds >= 0


def test_a_hung_job_is_marked_timed_out_and_its_claim_released(
    catalog: Catalog, runners: list[JobRunner]
) -> None:
    runner = _runner(catalog, runners, "a")
    release = threading.Event()

    def hangs(ctx: JobContext) -> None:
        release.wait(30)

    runner.handler("hangs", hangs)
    runner.register(Job("hangs", Every(60), "hangs", timeout=0.5))
    with catalog.begin() as session:  # due now
        runner.election.step()
        runner._sync()
        session.execute(update(JobRow).values(next_due=claims.catalog_now(session)))
    runner.start()
    wait_until(
        lambda: any(r.outcome == "timed_out" for r in _runs(catalog, "hangs")), "the timeout"
    )
    run = _runs(catalog, "hangs")[0]
    assert run.error == "ran past its timeout of 0.5s"
    with catalog.begin() as session:
        assert claims.get(session=session, key="job:hangs") is None
    release.set()
    runner.stop()  # waits for the released job to end before the catalog is closed


def test_a_one_shot_timer_survives_a_restart_and_says_how_late(
    catalog: Catalog, runners: list[JobRunner]
) -> None:
    fired: list[JobContext] = []
    first = _runner(catalog, runners, "first")
    first.handler("remind", fired.append)
    with catalog.begin() as session:
        when = claims.catalog_now(session) - dt.timedelta(seconds=30)  # due while it was down
    first.at("remind:42", when, "remind", {"incident": 42})
    first.stop()  # never started: the timer lives in the catalog only
    second = _runner(catalog, runners, "second")
    second.handler("remind", fired.append)
    second.start()
    wait_until(lambda: bool(fired), "the one-shot")
    assert fired[0].payload == {"incident": 42}
    assert 29 < fired[0].late < 60
    wait_until(lambda: _runs(catalog, "remind:42")[0].outcome == "succeeded", "its end")
    with catalog.begin() as session:
        assert session.get(JobRow, "remind:42") is None  # fired once, gone


@pytest.mark.parametrize(("missed", "ran"), [("skip", False), ("run_once", True)])
def test_missed_due_times_follow_the_job_policy(
    catalog: Catalog, runners: list[JobRunner], missed: str, ran: bool
) -> None:
    fired: list[JobContext] = []
    runner = _runner(catalog, runners, "a")
    runner.handler("hourly", fired.append)
    runner.register(Job("hourly", Cron("0 * * * *"), "hourly", missed=missed))  # type: ignore[arg-type]
    assert runner.election.step()
    runner._sync()
    with catalog.begin() as session:  # as if the control plane had been down for 3 hours
        now = claims.catalog_now(session)
        session.execute(update(JobRow).values(next_due=now - dt.timedelta(hours=3)))
    runner.step()
    wait_until(lambda: bool(_runs(catalog, "hourly")), "the decision")
    run = _runs(catalog, "hourly")[0]
    assert run.missed >= 3
    if ran:
        assert run.outcome in ("running", "succeeded")
        wait_until(lambda: bool(fired), "the run")
    else:
        assert run.outcome == "missed"
        assert not fired
    with catalog.begin() as session:
        row = session.get(JobRow, "hourly")
        assert row is not None
        assert row.next_due > claims.catalog_now(session)


def test_a_superseded_leader_is_fenced(catalog: Catalog, runners: list[JobRunner]) -> None:
    # a lease far longer than the test: a's term ends only when the test expires it, never
    # because a loaded machine took a second between two lines
    a, b = (_runner(catalog, runners, n, lease=60) for n in ("a", "b"))
    for runner in (a, b):
        runner.handler("tick", _noop)
        runner.register(Job("tick", Every(60), "tick"))
    assert a.election.step()
    a._sync()
    with catalog.begin() as session:  # a is paused past its lease: it expires
        session.execute(
            update(LeaderLease).values(
                expires_at=claims.catalog_now(session) - dt.timedelta(seconds=1)
            )
        )
    assert b.election.step()
    assert b.election.term == a.election.term + 1
    a.election.deadline = float("inf")  # even if a's own clock still says it leads
    with pytest.raises(FencedError, match="term 1 is over"), catalog.begin() as session:
        a.election.fence(session)
    with catalog.begin() as session:
        session.execute(update(JobRow).values(next_due=claims.catalog_now(session)))
    assert a._start_due() == []  # refused by the catalog
    assert not _runs(catalog)
    assert a.election.step() is False
    assert a.election.term == 0


def test_sqlite_catalog_in_use_on_another_host_is_refused(tmp_path: object) -> None:
    from pathlib import Path

    from buttress.catalog import catalog_url

    catalog = Catalog(catalog_url(None, Path(str(tmp_path))))
    catalog.upgrade()
    with catalog.begin() as session:
        now = claims.catalog_now(session)
        session.add(
            ReplicaRow(
                id="web-2:77:abcd",
                host="web-2",
                machine="web-2|another-boot-id|pid:[4026531836]",
                pid=77,
                version="0",
                started_at=now,
                seen_at=now,
            )
        )
    runner = JobRunner(catalog, replica="here", **FAST)  # type: ignore[arg-type]
    with pytest.raises(ButtressError, match="SQLite catalog serves one host only"):
        runner.start()
    catalog.dispose()


def test_registration_mistakes_are_refused(catalog: Catalog) -> None:
    runner = JobRunner(catalog, replica="a", **FAST)  # type: ignore[arg-type]
    with pytest.raises(ButtressError, match="no handler named 'nope'"):
        runner.register(Job("x", Every(1), "nope"))
    runner.handler("h", _noop)
    runner.register(Job("x", Every(1), "h"))
    with pytest.raises(ButtressError, match="registered twice"):
        runner.register(Job("x", Every(1), "h"))
    with pytest.raises(ButtressError, match="shorter than its lease"):
        JobRunner(catalog, lease=1, renew=2)


def test_a_leader_that_loses_the_catalog_steps_down_and_says_why(pg_database: str) -> None:
    import psycopg

    from buttress.catalog import catalog_url
    from tests.conftest import PG_ADMIN_DSN

    catalog = Catalog(catalog_url(pg_database, Path()), connect_timeout=2)
    catalog.upgrade()
    name = pg_database.rsplit("/", 1)[1]
    runner = JobRunner(catalog, replica="a", **FAST)  # type: ignore[arg-type]
    try:
        assert runner.election.step()
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        try:
            assert runner.election.step() is False
            assert not runner.election.leading
            assert runner.election.reason.startswith("the catalog did not answer")
        finally:
            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert runner.election.step()  # back: it leads again, under a new term
        assert runner.election.term == 2
    finally:
        runner.election.resign()  # closes its lock session
        catalog.dispose()


def test_a_leader_whose_catalog_session_ends_is_replaced_at_once(pg_database: str) -> None:
    """PostgreSQL: the leader's advisory lock goes with its session, and another replica takes
    over without waiting for the lease (here 60 s) to run out."""
    import psycopg

    from buttress.catalog import catalog_url
    from buttress.jobs import Election
    from tests.conftest import PG_ADMIN_DSN

    catalog = Catalog(catalog_url(pg_database, Path()))
    catalog.upgrade()
    a = Election(catalog, "a", lease=60, renew=1)
    b = Election(catalog, "b", lease=60, renew=1)
    try:
        assert a.step()
        assert a.backend is not None
        assert b.step() is False  # a's lease is live and its session holds the lock
        assert b.reason == "a leads"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (a.backend,))
        wait_until(lambda: b.step(), "b to take over", timeout=10)
        assert b.term == 2
        assert a.step() is False  # a learns it at its next renewal
        assert a.term == 0
    finally:
        a.resign()
        b.resign()
        catalog.dispose()


def test_a_one_shot_timer_set_again_during_its_own_run_still_fires(
    catalog: Catalog, runners: list[JobRunner]
) -> None:
    """A timer due while an earlier run of its key still runs is tried again, not dropped: an
    incident acknowledged while its escalation step is sending must still be looked at."""
    release = threading.Event()
    fired: list[dict[str, object]] = []

    def step(ctx: JobContext) -> None:
        fired.append(ctx.payload)
        if ctx.payload.get("n") == 1:
            runner.at("esc:7", dt.datetime.now(dt.UTC), "step", {"n": 2})  # due at once
            release.wait(10)

    runner = _runner(catalog, runners, "a")
    runner.handler("step", step)
    runner.start()
    runner.at("esc:7", dt.datetime.now(dt.UTC), "step", {"n": 1})
    wait_until(lambda: any(r.outcome == "skipped" for r in _runs(catalog, "esc:7")), "a skip")
    release.set()
    wait_until(lambda: len(fired) == 2, "the second run")
    assert fired == [{"n": 1}, {"n": 2}]
    skipped = [r for r in _runs(catalog, "esc:7") if r.outcome == "skipped"]
    assert "tried again" in skipped[0].error


def test_set_timer_earliest_keeps_a_sooner_wake_up(catalog: Catalog) -> None:
    from buttress.jobs import set_timer

    now = dt.datetime.now(dt.UTC)
    with catalog.begin() as session:
        set_timer(session, "esc:8", now, "step")
        set_timer(session, "esc:8", now + dt.timedelta(hours=1), "step", earliest=True)
        row = session.get(JobRow, "esc:8")
        assert row is not None
        assert abs((row.next_due - now).total_seconds()) < 1
        set_timer(session, "esc:8", now + dt.timedelta(hours=1), "step")
        session.flush()
        session.refresh(row)
        assert (row.next_due - now).total_seconds() > 3000


def test_set_timer_earliest_never_moves_a_sooner_timer_back(catalog: Catalog) -> None:
    """earliest=True updates only a later timer, in the statement itself."""
    from buttress.jobs import set_timer

    now = dt.datetime.now(dt.UTC)
    with catalog.begin() as session:
        set_timer(session, "esc:9", now + dt.timedelta(hours=2), "step")
        set_timer(session, "esc:9", now + dt.timedelta(hours=1), "step", earliest=True)
        set_timer(session, "esc:9", now + dt.timedelta(hours=3), "step", earliest=True)
        row = session.get(JobRow, "esc:9")
        assert row is not None
        session.refresh(row)
        assert abs((row.next_due - now).total_seconds() - 3600) < 1
