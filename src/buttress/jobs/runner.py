"""The job runner: every domain's recurring and one-shot jobs, run once across the replicas
that share a catalog.

Each replica runs one :class:`JobRunner`. Domains register *handlers* (a name and a function)
and *jobs* (a key, a schedule, a handler name). The jobs and their next due time live in the
catalog (``jobs``), so a one-shot timer set before a restart fires after it, late if it must,
and says how late. Only the elected leader (:mod:`buttress.jobs.leader`) starts due jobs; every
start is one catalog transaction that

1. fences: the leader's term must still hold the lease (a paused, superseded leader is refused);
2. moves the job's next due time on by compare-and-swap (so a due time is taken once);
3. takes the job's claim (``job:<key>``, :mod:`buttress.catalog.claims`): a job never runs twice
   at once, whichever replica or process started the other run;
4. records the run (``job_runs``: due time, lateness, replica, term).

The run then goes on a worker thread of its own, its claim renewed by a heartbeat, and ends as
``succeeded``, ``failed`` (its error kept), ``timed_out`` (past its ``timeout``: marked, its claim
released; the thread is told to stop through :attr:`JobContext.cancelled` and cannot be killed)
or, when its replica died mid-run, ``interrupted`` (found by the next leader). Due times that
passed unnoticed are handled by each job's ``missed`` policy (:mod:`buttress.jobs.schedule`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import Session

from buttress._version import __version__
from buttress.catalog import claims
from buttress.catalog.engine import Catalog
from buttress.catalog.tables import utcnow
from buttress.errors import ButtressError
from buttress.events import emit
from buttress.jobs.events import JobRunEnded
from buttress.jobs.leader import Election, FencedError
from buttress.jobs.schedule import Missed, Schedule, decide, first_due, parse_schedule
from buttress.jobs.tables import JobRow, JobRunRow, ReplicaRow
from buttress.secrets import redact

__all__ = [
    "Job",
    "JobContext",
    "JobRunner",
    "ReplicaInfo",
    "RunInfo",
    "alive_after",
    "refuse_sqlite_elsewhere",
    "replica_id",
]

log = logging.getLogger("buttress.jobs")

BATCH = 200
"""Due jobs started per pass at most (the rest at the next pass, moments later)."""

ONE_SHOT_RETRY = 0.5
"""Seconds before a one-shot timer found due while an earlier run of its key still runs is
tried again (a recurring job's due time is skipped instead)."""


def replica_id() -> str:
    """A name for this process, unique across restarts: host, PID and a random suffix."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class Job:
    """A recurring job (a domain registers it at start): ``handler`` names a registered
    handler; ``grace`` is how late a due time may start before it counts as missed."""

    key: str
    schedule: Schedule
    handler: str
    missed: Missed = "skip"
    timeout: float | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    grace: float = 60.0


@dataclass
class JobContext:
    """What a handler is given: its run, its payload, and the means to stop and to fence."""

    key: str
    run_id: int
    term: int
    due_at: dt.datetime
    late: float
    payload: dict[str, Any]
    cancelled: threading.Event
    election: Election

    def fence(self, session: Session) -> None:
        """Raise :class:`~buttress.jobs.leader.FencedError` unless this replica still leads with
        the term the run started under, holding the lease until ``session`` ends: a handler
        whose writes must not land after a newer leader took over calls this first in the same
        transaction."""
        if self.election.term != self.term:
            raise FencedError(f"the run's leader term {self.term} is over")
        self.election.fence(session)


Handler = Callable[[JobContext], object]


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run of a job, as the API shows it."""

    id: int
    job: str
    due_at: dt.datetime
    started_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: str
    error: str
    late: float
    missed: int
    replica: str
    term: int

    @staticmethod
    def of(row: JobRunRow) -> RunInfo:
        return RunInfo(
            row.id,
            row.job,
            row.due_at,
            row.started_at,
            row.ended_at,
            row.outcome,
            row.error,
            row.late,
            row.missed,
            row.replica,
            row.term,
        )


@dataclass(frozen=True, slots=True)
class ReplicaInfo:
    """A replica as it last reported itself."""

    id: str
    host: str
    pid: int
    version: str
    started_at: dt.datetime
    seen_at: dt.datetime
    alive: bool
    leader: bool


@dataclass
class _Running:
    run_id: int
    key: str
    holder: str
    started: float
    timeout: float | None
    cancelled: threading.Event
    heartbeat: claims.Heartbeat
    context: JobContext
    handler: Handler
    thread: threading.Thread | None = None
    timed_out: bool = False


KEY_MAX = 190
"""Longest job key (its claim ``job:<key>`` and its rows must fit the catalog's columns)."""


def _check_key(key: str) -> None:
    if not key or len(key) > KEY_MAX:
        raise ButtressError(f"job key {key[:60]!r}... must be 1 to {KEY_MAX} characters")


def _missed(value: str) -> Missed:
    return "run_once" if value == "run_once" else "skip"


def _boot(machine: str) -> str:
    """The boot id part of a claims machine string (``host|boot|pidns``)."""
    parts = machine.split("|")
    return parts[1] if len(parts) > 1 else machine


REPORT_EVERY = 5
"""Renewal periods between a replica's reports of itself (``replicas.seen_at``)."""


def alive_after(lease: float, renew: float) -> float:
    """Seconds after its last report that a replica still counts as alive: three missed
    reports, plus a lease."""
    return 3 * REPORT_EVERY * renew + lease


def refuse_sqlite_elsewhere(catalog: Catalog, alive_after: float = 20.0) -> None:
    """SQLite is one host: raise :class:`ButtressError` when a replica on another machine has
    reported itself in the last ``alive_after`` seconds (``buttress serve`` checks at start)."""
    if catalog.backend != "sqlite":
        return
    me = claims.Owner.current()
    with catalog.begin() as session:
        now = claims.catalog_now(session)
        recent = session.scalars(
            select(ReplicaRow).where(ReplicaRow.seen_at > now - dt.timedelta(seconds=alive_after))
        ).all()
    for other in recent:
        if _boot(other.machine) != _boot(me.machine):
            raise ButtressError(
                f"the SQLite catalog {catalog.location} is in use by replica {other.id} on host "
                f"{other.host}: a SQLite catalog serves one host only; give every replica the "
                "same PostgreSQL catalog (catalog.url) to run them on several hosts"
            )


def set_timer(
    session: Session,
    key: str,
    when: dt.datetime,
    handler: str,
    payload: dict[str, Any] | None = None,
    *,
    timeout: float | None = None,
    earliest: bool = False,
) -> None:
    """Set (or move) the one-shot timer ``key`` in the caller's transaction: ``handler`` runs
    once at ``when`` (UTC-aware) on whichever replica leads then, even after restarts. A domain
    sets its timers here in the same transaction as the change they follow (an incident that
    opens and its escalation timer commit together); a replica's leader picks it up within
    its renewal period, sooner when it is the one that set it (:meth:`JobRunner.at`).

    With ``earliest``, a timer of that key already due sooner is left as it is (a handler
    setting its next time must not push back a wake-up another change asked for meanwhile)."""
    from buttress.jobs.schedule import At

    _check_key(key)
    when = when.astimezone(dt.UTC)
    values = {
        "handler": handler,
        "schedule": At(when).spec,
        "missed": "run_once",
        "timeout": timeout,
        "payload": payload or {},
        "next_due": when,
    }
    if not claims.insert_if_free(session, JobRow, {"key": key, "created_at": utcnow()} | values):
        # in one statement: a timer another transaction set sooner, even one that committed
        # while this one waited on the insert, is kept
        moved = JobRow.key == key
        if earliest:
            moved = and_(moved, JobRow.next_due > when)
        session.execute(update(JobRow).where(moved).values(**values))


def cancel_timer(session: Session, key: str) -> bool:
    """Remove the timer (or job row) ``key`` in the caller's transaction; whether one was there."""
    gone = session.execute(delete(JobRow).where(JobRow.key == key).returning(JobRow.key)).first()
    return gone is not None


class JobRunner:
    """One replica's job runner.

    Args:
        catalog: the shared catalog (migrated).
        replica: this process's id (default: :func:`replica_id`).
        lease: seconds the leader's lease lasts without a renewal: the longest failover gap
            when a leader on another host dies (one on this host is replaced at once).
        renew: seconds between the leader's renewals, and between passes over due jobs.
        max_parallel: jobs running at once on this replica at most.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        replica: str | None = None,
        lease: float = 5.0,
        renew: float = 1.0,
        max_parallel: int = 4,
    ) -> None:
        self.catalog = catalog
        self.replica = replica or replica_id()
        self.election = Election(catalog, self.replica, lease=lease, renew=renew)
        self.lease, self.renew = lease, renew
        self.slots = threading.BoundedSemaphore(max_parallel)
        self.handlers: dict[str, Handler] = {}
        self.jobs: dict[str, Job] = {}
        self.started_at = utcnow()
        self._running: dict[int, _Running] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._synced_term = 0
        self._unknown: set[str] = set()
        self._passes = 0
        self._workers: list[threading.Thread] = []  # job threads, timed-out ones included
        self._zombies: dict[str, threading.Thread] = {}  # job -> its run's thread past timeout
        self._bad: set[str] = set()  # jobs that could not be started (logged), until restart
        self._last_seen = self._last_elected = -1e9
        self._soonest: float | None = None  # monotonic time the next job is due
        self.last_error = ""

    # -- registration (domains, at start) -------------------------------------------------

    def handler(self, name: str, function: Handler) -> None:
        """Register ``function`` under ``name`` (jobs and one-shot timers refer to it)."""
        if name in self.handlers and self.handlers[name] is not function:
            raise ButtressError(f"job handler {name!r} is registered twice")
        self.handlers[name] = function

    def register(self, job: Job) -> None:
        """Register a recurring job (stored in the catalog by the leader)."""
        _check_key(job.key)
        if job.handler not in self.handlers:
            raise ButtressError(f"job {job.key!r}: no handler named {job.handler!r}")
        if job.key in self.jobs:
            raise ButtressError(f"job {job.key!r} is registered twice")
        self.jobs[job.key] = job
        self._synced_term = 0
        self._wake.set()

    def at(
        self,
        key: str,
        when: dt.datetime,
        handler: str,
        payload: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """Set a one-shot timer: ``handler`` runs once at ``when`` (UTC-aware), on whichever
        replica leads then, even after restarts. Setting ``key`` again moves the timer."""
        if handler not in self.handlers:
            raise ButtressError(f"timer {key!r}: no handler named {handler!r}")
        with self.catalog.begin() as session:
            set_timer(session, key, when, handler, payload, timeout=timeout)
        self._wake.set()

    def cancel(self, key: str) -> bool:
        """Remove a one-shot timer (or a job's row) before it fires; whether one was there."""
        with self.catalog.begin() as session:
            return cancel_timer(session, key)

    # -- the loop ---------------------------------------------------------------------------

    def start(self) -> JobRunner:
        """Check the catalog may be shared this way, report this replica and start the loop."""
        self._refuse_sqlite_elsewhere()
        self._seen()
        self._thread = threading.Thread(target=self._loop, name="buttress-jobs", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop starting jobs, give the lease up, and wait up to ``timeout`` seconds in all for
        running jobs to end (those still running then go on until they end or the process
        does)."""
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.election.resign()
        with self._lock:
            threads = list(self._workers)
        for thread in threads:  # running jobs get what is left of ``timeout`` to end
            thread.join(max(0.0, deadline - time.monotonic()))

    def _loop(self) -> None:
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                self.step()
            except Exception as exc:  # a bug or a catalog fault must not end the loop
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("job runner pass failed")
            wait = max(0.05, self.renew - (time.monotonic() - began))
            if self._soonest is not None and self.election.leading:
                wait = min(wait, max(0.005, self._soonest - time.monotonic()))
            self._wake.wait(wait)
            self._wake.clear()

    def step(self) -> list[int]:
        """One pass: report this replica, renew or seek the lease (once per ``renew``), and
        (as leader) start the due jobs and expire runs past their timeout. Returns the ids of
        the runs started."""
        self._passes += 1
        now = time.monotonic()
        if now - self._last_seen >= REPORT_EVERY * self.renew:
            self._last_seen = now
            self._seen()
        self._expire_timeouts()
        if now - self._last_elected >= self.renew or not self.election.leading:
            self._last_elected = now
            if not self.election.step():
                return []
            if self._synced_term != self.election.term:
                self._sync()
            elif self._passes % 10 == 0:
                self._sweep_interrupted()
        if self._stopping.is_set():
            return []
        return self._start_due()

    # -- the leader's work -------------------------------------------------------------------

    def _sync(self) -> None:
        """Store the registered jobs (a changed schedule is due afresh; an unchanged one keeps
        its due time across restarts and leader changes), drop recurring jobs no longer
        registered, and mark runs whose replica died as interrupted."""
        with self.catalog.begin() as session:
            self.election.fence(session)
            now = claims.catalog_now(session)
            rows = {row.key: row for row in session.scalars(select(JobRow))}
            for job in self.jobs.values():
                row = rows.pop(job.key, None)
                spec = job.schedule.spec
                if row is None:
                    session.add(
                        JobRow(
                            key=job.key,
                            handler=job.handler,
                            schedule=spec,
                            missed=job.missed,
                            timeout=job.timeout,
                            payload=job.payload,
                            next_due=first_due(job.schedule, now),
                            created_at=now,
                        )
                    )
                    continue
                if row.schedule != spec:
                    row.next_due = first_due(job.schedule, now)
                    row.schedule = spec
                row.handler, row.missed, row.timeout = job.handler, job.missed, job.timeout
                row.payload = job.payload
            for key, row in rows.items():
                if not row.schedule.startswith("at "):
                    log.info("job %s is no longer registered: removed", key)
                    session.delete(row)
        self._synced_term = self.election.term
        self._sweep_interrupted()

    def _sweep_interrupted(self) -> None:
        with self.catalog.begin() as session:
            now = claims.catalog_now(session)
            running = session.scalars(select(JobRunRow).where(JobRunRow.outcome == "running")).all()
            mine = set(self._running)
            here = claims.Owner.current()
            for run in running:
                if run.id in mine:
                    continue
                claim = claims.get(session=session, key=f"job:{run.job}")
                if claim is not None and claims.state(claim, now, here) == "live":
                    continue
                # only if it still reads running: a run that ended meanwhile keeps its end
                marked = session.execute(
                    update(JobRunRow)
                    .where(JobRunRow.id == run.id, JobRunRow.outcome == "running")
                    .values(
                        outcome="interrupted",
                        ended_at=now,
                        error=f"replica {run.replica} stopped during the run",
                    )
                    .returning(JobRunRow.id)
                    .execution_options(synchronize_session=False)
                ).first()
                if marked is not None:
                    log.warning(
                        "run %d of job %s: replica %s stopped during it",
                        run.id,
                        run.job,
                        run.replica,
                    )

    def _start_due(self) -> list[int]:
        """Start the due jobs (up to :data:`BATCH`) in one fenced catalog transaction: for each,
        move its due time on, take its claim and record its run; then launch them."""
        started: list[_Running] = []
        try:
            with self.catalog.begin() as session:
                self.election.fence(session)
                now = claims.catalog_now(session)
                read_at = time.monotonic()  # the same instant on this process's clock
                runnable = and_(
                    JobRow.handler.in_(list(self.handlers)), JobRow.key.not_in(list(self._bad))
                )
                due = session.scalars(
                    select(JobRow)
                    .where(JobRow.next_due <= now, runnable)
                    .order_by(JobRow.next_due)
                    .limit(BATCH)
                ).all()
                for row in due:
                    if self._stopping.is_set():
                        break
                    run = self._begin_one(session, row, now)
                    if run is not None:
                        started.append(run)
                if self._passes % 10 == 0:  # a warning, not a decision: not every pass
                    self._warn_unknown(session, now)
                soonest = session.scalar(select(func.min(JobRow.next_due)).where(runnable))
                self._soonest = (
                    None if soonest is None else read_at + (soonest - now).total_seconds()
                )
        except FencedError as exc:
            log.warning("due jobs not started: %s", exc)
            return []
        for run in started:
            self._launch(run)
        return [run.run_id for run in started]

    def _warn_unknown(self, session: Session, now: dt.datetime) -> None:
        """Say once per job that a due job has no handler here (an older or newer replica's
        job during a rolling upgrade): it is left for a replica that has one."""
        unknown = session.scalars(
            select(JobRow.key, JobRow.handler)
            .where(JobRow.next_due <= now, JobRow.handler.not_in(list(self.handlers)))
            .limit(BATCH)
        ).all()
        for key in unknown:
            if key not in self._unknown:
                self._unknown.add(key)
                log.warning("job %s is due but this replica has no handler for it", key)

    def _begin_one(self, session: Session, row: JobRow, now: dt.datetime) -> _Running | None:
        """:meth:`_begin` in a savepoint of its own: a row that cannot be started (a schedule
        that no longer parses, a value the catalog refuses) is set aside and logged, and the
        others still start."""
        key = row.key
        try:
            with session.begin_nested():
                return self._begin(session, row, now)
        except FencedError:
            raise
        except Exception as exc:  # noqa: BLE001  # whatever it is, the other jobs go on
            self._bad.add(key)
            self.last_error = f"job {key}: {type(exc).__name__}: {exc}"
            log.error("job %s cannot be started and is set aside until restart: %s", key, exc)
            return None

    def _begin(self, session: Session, row: JobRow, now: dt.datetime) -> _Running | None:
        """Move ``row``'s due time on, take the job's claim and record the run (in the caller's
        fenced transaction); None when nothing is to run (missed, moved meanwhile, still
        running)."""
        key, handler_name = row.key, row.handler
        handler = self.handlers[handler_name]
        job = self.jobs.get(key)
        grace = job.grace if job is not None else 60.0
        due_at = row.next_due
        decision = decide(
            parse_schedule(row.schedule), due_at, now, missed=_missed(row.missed), grace=grace
        )
        timeout, payload = row.timeout, dict(row.payload or {})
        # compare-and-swap on the due time and schedule read: a timer moved or cancelled since
        # (at(), cancel() on any replica) is left as it now is
        unchanged = (JobRow.key == key, JobRow.next_due == due_at, JobRow.schedule == row.schedule)
        moved: Any = (
            delete(JobRow).where(*unchanged)
            if decision.next_due is None
            else update(JobRow).where(*unchanged).values(next_due=decision.next_due)
        )
        taken = session.execute(
            moved.returning(JobRow.key).execution_options(synchronize_session=False)
        ).first()
        if taken is None:
            return None
        session.expire(row)
        record = JobRunRow(
            job=key,
            due_at=due_at,
            started_at=now,
            late=decision.late,
            missed=decision.missed,
            replica=self.replica,
            term=self.election.term,
            error="",
            outcome="running",
        )
        session.add(record)
        if not decision.run:
            record.outcome, record.ended_at = "missed", now
            record.error = f"{decision.missed} due time(s) passed unnoticed (missed: skip)"
            log.warning("job %s: %s", key, record.error)
            return None
        session.flush()  # the run's id: its claim's holder
        holder = f"{self.replica[:80]}#{record.id}"
        zombie = self._zombies.get(key)
        if zombie is not None and zombie.is_alive():
            record.outcome, record.ended_at = "skipped", now
            record.error = "still running past its timeout (its thread has not ended)"
            if decision.next_due is None:  # a one-shot timer is tried again, not dropped
                retry_at = now + dt.timedelta(seconds=ONE_SHOT_RETRY)
                set_timer(
                    session, key, retry_at, handler_name, payload, timeout=timeout, earliest=True
                )
            log.warning("job %s: a run past its timeout still runs: skipped", key)
            return None
        try:
            self._acquire(session, key, holder)
        except claims.ClaimHeldError as exc:
            record.outcome, record.ended_at = "skipped", now
            record.error = f"still running: {exc}"
            if decision.next_due is None:  # a one-shot timer set again during its own run
                retry_at = now + dt.timedelta(seconds=ONE_SHOT_RETRY)
                set_timer(
                    session, key, retry_at, handler_name, payload, timeout=timeout, earliest=True
                )
                record.error += f" (a one-shot timer: tried again in {ONE_SHOT_RETRY:g} s)"
            log.warning("job %s is still running at its next due time: skipped", key)
            return None
        if decision.late > 1.0:
            log.info("job %s started %.1f s late", key, decision.late)
        cancelled = threading.Event()
        heartbeat = claims.Heartbeat(
            self.catalog, f"job:{key}", holder, every=self.lease, lease=self.lease * 6
        )
        context = JobContext(
            key,
            record.id,
            self.election.term,
            due_at,
            decision.late,
            payload,
            cancelled,
            self.election,
        )
        return _Running(
            record.id,
            key,
            holder,
            time.monotonic(),
            timeout,
            cancelled,
            heartbeat,
            context,
            handler,
        )

    def _acquire(self, session: Session, key: str, holder: str) -> None:
        """Take ``job:<key>``; a claim this replica left for a run it no longer runs (its end
        could not be recorded) is taken over, not waited for forever (its process lives)."""
        try:
            claims.acquire(session=session, key=f"job:{key}", holder=holder, lease=self.lease * 6)
        except claims.ClaimHeldError as exc:
            mine, _, run = exc.claim.holder.rpartition("#")
            with self._lock:
                running = {str(r) for r in self._running}
            if mine != self.replica[:80] or run in running:
                raise
            log.warning("job %s: taking over this replica's stale claim of run %s", key, run)
            claims.release(session=session, key=f"job:{key}", holder=exc.claim.holder)
            claims.acquire(session=session, key=f"job:{key}", holder=holder, lease=self.lease * 6)

    def _launch(self, run: _Running) -> None:
        with self._lock:
            self._running[run.run_id] = run
        run.heartbeat.start()
        run.thread = threading.Thread(
            target=self._work,
            args=(run, run.handler),
            name=f"buttress-job-{run.key}",
            daemon=True,
        )
        with self._lock:
            self._workers = [t for t in self._workers if t.is_alive()] + [run.thread]
        run.thread.start()

    def _work(self, run: _Running, handler: Handler) -> None:
        outcome, error = "succeeded", ""
        try:
            with self.slots:
                run.started = time.monotonic()  # its timeout counts from here, not the queue
                if not run.cancelled.is_set():
                    handler(run.context)
        except ButtressError as exc:
            outcome, error = "failed", redact(str(exc))
            log.error("job %s (run %d) failed: %s", run.key, run.run_id, error)
        except (
            Exception
        ) as exc:  # a bug in a handler: recorded with its type, logged with its trace
            outcome, error = "failed", redact(f"{type(exc).__name__}: {exc}")
            log.exception("job %s (run %d) failed unexpectedly", run.key, run.run_id)
        except BaseException as exc:  # SystemExit, KeyboardInterrupt: recorded, then let go
            outcome, error = "failed", f"{type(exc).__name__} in the handler"
            raise
        finally:
            self._finish(run, outcome, error)

    def _finish(self, run: _Running, outcome: str, error: str) -> None:
        run.heartbeat.stop()
        with self._lock:
            self._running.pop(run.run_id, None)
        try:
            with self.catalog.begin() as session:
                now = claims.catalog_now(session)
                session.execute(
                    update(JobRunRow)
                    .where(JobRunRow.id == run.run_id, JobRunRow.outcome == "running")
                    .values(outcome=outcome, error=error[:4000], ended_at=now)
                    .execution_options(synchronize_session=False)
                )
                if not run.timed_out:
                    claims.release(session=session, key=f"job:{run.key}", holder=run.holder)
        except ButtressError as exc:
            log.error(
                "job %s (run %d): could not record its end (%s): %s",
                run.key,
                run.run_id,
                outcome,
                exc,
            )
        if run.timed_out:  # the row says timed_out (see _expire_timeouts), and so does the event
            outcome, error = "timed_out", f"ran past its timeout of {run.timeout or 0:g}s"
        emit(JobRunEnded(run.key, run.run_id, outcome, time.monotonic() - run.started, error))

    def _expire_timeouts(self) -> None:
        now = time.monotonic()
        with self._lock:
            late = [
                r
                for r in self._running.values()
                if r.timeout is not None and not r.timed_out and now - r.started > r.timeout
            ]
        for run in late:
            run.timed_out = True
            run.cancelled.set()
            run.heartbeat.stop()
            if run.thread is not None:
                self._zombies[run.key] = run.thread  # no new run of it while this one lives
            log.error(
                "job %s (run %d) ran past its timeout of %gs: marked timed out, its claim released",
                run.key,
                run.run_id,
                run.timeout or 0,
            )
            try:
                with self.catalog.begin() as session:
                    session.execute(
                        update(JobRunRow)
                        .where(JobRunRow.id == run.run_id, JobRunRow.outcome == "running")
                        .values(
                            outcome="timed_out",
                            ended_at=claims.catalog_now(session),
                            error=f"ran past its timeout of {run.timeout:g}s",
                        )
                        .execution_options(synchronize_session=False)
                    )
                    claims.release(session=session, key=f"job:{run.key}", holder=run.holder)
            except ButtressError as exc:
                log.error("job %s: could not mark its timeout: %s", run.key, exc)
            with self._lock:
                self._running.pop(run.run_id, None)

    # -- replicas ----------------------------------------------------------------------------

    def _seen(self) -> None:
        me = claims.Owner.current()
        try:
            with self.catalog.begin() as session:
                now = claims.catalog_now(session)
                values = {
                    "host": me.host,
                    "machine": me.machine,
                    "pid": me.pid,
                    "version": __version__,
                    "started_at": self.started_at,
                    "seen_at": now,
                }
                if not claims.insert_if_free(session, ReplicaRow, {"id": self.replica} | values):
                    session.execute(
                        update(ReplicaRow).where(ReplicaRow.id == self.replica).values(seen_at=now)
                    )
                session.execute(
                    delete(ReplicaRow).where(ReplicaRow.seen_at < now - dt.timedelta(hours=1))
                )
        except ButtressError as exc:
            log.warning("could not report replica %s: %s", self.replica, exc)

    def _refuse_sqlite_elsewhere(self) -> None:
        refuse_sqlite_elsewhere(self.catalog, self.alive_after)

    @property
    def alive_after(self) -> float:
        """Seconds after its last report that a replica still counts as alive."""
        return alive_after(self.lease, self.renew)

    # -- what the API shows ------------------------------------------------------------------

    def replicas(self) -> list[ReplicaInfo]:
        with self.catalog.begin() as session:
            now = claims.catalog_now(session)
            rows = session.scalars(select(ReplicaRow).order_by(ReplicaRow.started_at)).all()
        lead = self.election.current()
        live_lead = lead is not None and lead.expires_at > now
        return [
            ReplicaInfo(
                r.id,
                r.host,
                r.pid,
                r.version,
                r.started_at,
                r.seen_at,
                (now - r.seen_at).total_seconds() < self.alive_after,
                live_lead and lead is not None and lead.holder == r.id,
            )
            for r in rows
        ]

    def runs(self, key: str | None = None, *, limit: int = 50) -> list[RunInfo]:
        with self.catalog.begin() as session:
            query = select(JobRunRow).order_by(JobRunRow.id.desc()).limit(limit)
            if key is not None:
                query = query.where(JobRunRow.job == key)
            return [RunInfo.of(row) for row in session.scalars(query)]

    def due(self) -> dict[str, dt.datetime]:
        """Each stored job's next due time."""
        with self.catalog.begin() as session:
            return {row.key: row.next_due for row in session.scalars(select(JobRow))}
