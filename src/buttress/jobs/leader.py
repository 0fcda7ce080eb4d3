"""Leader election among the replicas that share a catalog, with a fencing term.

The leader holds one row of ``leader_lease`` per election name and renews its lease every
``renew`` seconds, from the catalog's clock (PostgreSQL's for every host; SQLite is one host).
A replica takes the lease over when it is free, expired, or its holder is demonstrably gone:
its process, on the same machine (PID gone, reused, or a zombie); or, with PostgreSQL, its
catalog session: the leader holds a session advisory lock on a connection of its own and
records that connection's backend PID in the lease, and PostgreSQL releases the lock the moment
that session ends (a ``kill -9``'d or crashed leader on any host is replaced at the next poll,
not after its lease; a host that vanishes without closing its connections is replaced when the
lease runs out). Each takeover increments the row's ``term``:
the fencing token every job run is recorded with.

A leader that cannot renew (catalog unreachable) steps down at once: it starts no job until a
renewal succeeds again. A leader that was paused (``SIGSTOP``, a long GC, a suspended VM) also
stops on its own clock: it only counts as leader until ``lease - renew`` seconds after its last
successful renewal (monotonic time), before anyone else can have taken over; and each job it
starts is fenced in the catalog (:meth:`Election.fence`), which refuses a stale term even if
its own clock was wrong.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from buttress.catalog import claims
from buttress.catalog.engine import Catalog
from buttress.errors import ButtressError
from buttress.jobs.tables import LeaderLease

__all__ = ["Election", "FencedError", "Leadership"]

log = logging.getLogger("buttress.jobs")


class FencedError(ButtressError):
    """This replica's leader term is over: what it was about to write is refused."""


@dataclass(frozen=True, slots=True)
class Leadership:
    """The lease as the catalog holds it now."""

    holder: str
    host: str
    term: int
    since: dt.datetime
    renewed_at: dt.datetime
    expires_at: dt.datetime


def _lock_timed_out(exc: BaseException) -> bool:
    """Whether a catalog error is PostgreSQL's ``lock_timeout`` (SQLSTATE 55P03)."""
    cause = exc.__cause__
    orig = getattr(cause, "orig", None)
    return getattr(orig, "sqlstate", None) == "55P03"


def lock_key(name: str) -> int:
    """The PostgreSQL advisory lock key of the election ``name`` (31 bits)."""
    return zlib.crc32(f"buttress-leader:{name}".encode()) & 0x7FFFFFFF


_LOCK_HELD = text(
    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = :pid"
    " AND classid = 0 AND objid::bigint = :key AND objsubid = 1"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def _state(
    session: Session, row: LeaderLease, now: dt.datetime, here: claims.Owner
) -> claims.State:
    """Gone when its process is seen gone, or (PostgreSQL) the session that held its lock has
    ended; otherwise the lease decides (a stopped process still exists, but it no longer leads
    once its lease has run out)."""
    runs = claims.process_runs(row.machine, row.pid, row.pid_started, here)
    if runs is False:
        return "gone"
    if row.backend is not None and session.get_bind().dialect.name == "postgresql":
        held = session.execute(_LOCK_HELD, {"pid": row.backend, "key": lock_key(row.name)})
        if held.first() is None:
            return "gone"
    return "live" if row.expires_at > now else "expired"


class Election:
    """One replica's side of the election ``name``.

    Args:
        catalog: the shared catalog.
        holder: this replica's id (unique per process).
        name: what is led (one leader per name).
        lease: seconds a renewal is good for.
        renew: seconds between renewals (several per lease).
        monotonic: the clock the leader trusts for its own deadline (tests pass their own).
    """

    def __init__(
        self,
        catalog: Catalog,
        holder: str,
        *,
        name: str = "scheduler",
        lease: float = 5.0,
        renew: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < renew < lease:
            raise ButtressError(
                f"leader renew ({renew}s) must be shorter than its lease ({lease}s)"
            )
        self.catalog, self.holder, self.name = catalog, holder, name
        self.lease, self.renew_every = lease, renew
        self.term = 0
        self.since: dt.datetime | None = None
        self.deadline = 0.0  # monotonic: leads until then without a renewal
        self.reason = "not yet elected"
        self._clock = monotonic
        self.backend: int | None = None  # PostgreSQL: the backend PID holding the leader lock
        self._lock: Connection | None = None
        self._resigned = False

    @property
    def leading(self) -> bool:
        """Whether this replica may start jobs now (by its own clock)."""
        return self.term > 0 and self._clock() < self.deadline

    def step(self) -> bool:
        """Renew the lease if held, else try to take it; whether this replica leads after.

        Never raises for a catalog that does not answer: it steps down and says why
        (:attr:`reason`)."""
        if self._resigned:
            return False
        asked = self._clock()
        try:
            with self.catalog.begin() as session:
                won = self._step(session)
        except ButtressError as exc:
            if _lock_timed_out(exc):
                # the lease row is locked by a fenced transaction (a handler's, or a paused
                # former leader's): a leader keeps leading until its own deadline, a follower
                # tries again at its next round
                if self.term:
                    log.warning(
                        "leader %s could not renew this round: the lease row is busy", self.holder
                    )
                return self.leading
            if self.term:
                log.error("leader %s steps down: the catalog did not answer: %s", self.holder, exc)
            self._lose(f"the catalog did not answer: {exc}")
            return False
        if won and self._resigned:  # resigned meanwhile (stop() from another thread)
            self._lose("resigned")
            return False
        if won and self.catalog.backend == "postgresql" and not self._hold_lock():
            return False
        if won:
            # counted from before the request: the catalog's lease began no earlier than that
            self.deadline = asked + self.lease - self.renew_every
        return won

    def _hold_lock(self) -> bool:
        """Take the session advisory lock (once per term; another session may still hold it:
        a paused former leader, until it learns it lost) and check, at each renewal, that the
        session holding it still lives; False when it has ended (another replica may take
        over at once: this one steps down)."""
        try:
            if self._lock is not None:
                self._lock.execute(text("SELECT 1"))
                self._lock.commit()
                return True
            conn = self.catalog.engine.connect()
            got, pid = conn.execute(
                text("SELECT pg_try_advisory_lock(:key), pg_backend_pid()"),
                {"key": lock_key(self.name)},
            ).one()
            conn.commit()
            if not got:
                conn.close()
                return True  # held by a former leader's session still open: the lease decides
            self._lock, self.backend = conn, int(pid)
            with self.catalog.begin() as session:
                session.execute(
                    update(LeaderLease)
                    .where(
                        LeaderLease.name == self.name,
                        LeaderLease.holder == self.holder,
                        LeaderLease.term == self.term,
                    )
                    .values(backend=self.backend)
                    .execution_options(synchronize_session=False)
                )
            return True
        except (SQLAlchemyError, ButtressError) as exc:
            log.error(
                "leader %s steps down: its catalog session holding the leader lock ended: %s",
                self.holder,
                exc,
            )
            self._lose("its catalog session holding the leader lock ended")
            return False

    def _release_lock(self) -> None:
        conn, self._lock, self.backend = self._lock, None, None
        if conn is None:
            return
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key(self.name)})
            conn.commit()
        except SQLAlchemyError:
            pass  # the session is gone, and its lock with it
        finally:
            conn.invalidate()  # never back to the pool: its session must end
            conn.close()

    def _step(self, session: Session) -> bool:
        if session.get_bind().dialect.name == "postgresql":
            # a renewal or takeover that finds the lease row locked (a paused leader inside a
            # fenced transaction) gives up for this round instead of waiting for it
            wait = max(1, round(self.renew_every * 1000))
            session.execute(text(f"SET LOCAL lock_timeout = {wait}"))
        now = claims.catalog_now(session)
        expires = now + dt.timedelta(seconds=self.lease)
        if self.term:
            kept = session.execute(
                update(LeaderLease)
                .where(
                    LeaderLease.name == self.name,
                    LeaderLease.holder == self.holder,
                    LeaderLease.term == self.term,
                )
                .values(renewed_at=now, expires_at=expires)
                .returning(LeaderLease.term)
                .execution_options(synchronize_session=False)
            ).first()
            if kept is not None:
                return True
            log.warning(
                "leader %s lost its lease (term %d): another replica leads", self.holder, self.term
            )
            self._lose("another replica took the lease over")
        row = session.scalars(
            select(LeaderLease)
            .where(LeaderLease.name == self.name)
            .execution_options(populate_existing=True)
        ).first()
        me = claims.Owner.current()
        mine = {
            "holder": self.holder,
            "host": me.host,
            "machine": me.machine,
            "pid": me.pid,
            "pid_started": me.started,
            "since": now,
            "renewed_at": now,
            "expires_at": expires,
            "backend": None,  # until it holds the advisory lock (PostgreSQL)
        }
        if row is None:
            if not claims.insert_if_free(
                session, LeaderLease, {"name": self.name, "term": 1} | mine
            ):
                return False  # another replica inserted it first: it leads
            return self._won(1, now, None)
        if _state(session, row, now, me) == "live" and row.holder != self.holder:
            self.reason = f"{row.holder} leads"
            return False
        taken = session.execute(
            update(LeaderLease)
            .where(LeaderLease.name == self.name, LeaderLease.term == row.term)
            .values(term=row.term + 1, **mine)
            .returning(LeaderLease.term)
            .execution_options(synchronize_session=False)
        ).first()
        if taken is None:
            return False  # another replica took it first
        return self._won(row.term + 1, now, row)

    def _won(self, term: int, now: dt.datetime, previous: LeaderLease | None) -> bool:
        self.term, self.since, self.reason = term, now, "leader"
        if previous is None:
            log.info("%s leads (term %d)", self.holder, term)
        else:
            log.warning(
                "%s leads (term %d), taking over from %s (lease ended %s)",
                self.holder,
                term,
                previous.holder,
                previous.expires_at.isoformat(),
            )
        return True

    def _lose(self, reason: str) -> None:
        self.term, self.since, self.deadline, self.reason = 0, None, 0.0, reason
        self._release_lock()

    def fence(self, session: Session) -> None:
        """Refuse (raise :class:`FencedError`) unless this replica's term still holds the lease
        in the catalog, and keep it held until ``session`` ends: the row is locked (PostgreSQL)
        or the database is (SQLite), so no takeover can land between this check and the
        caller's writes in the same transaction."""
        term = self.term
        if not term:
            raise FencedError(f"{self.holder} does not lead: {self.reason}")
        if session.get_bind().dialect.name == "postgresql":
            # the row stays locked until this transaction ends: should this process stop (a
            # pause, a frozen VM) inside it, PostgreSQL ends the transaction after a lease of
            # idleness, so the lock cannot hold a takeover off for longer than the lease
            idle = max(1, round(self.lease * 1000))
            session.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {idle}"))
        now = claims.catalog_now(session)
        held = session.execute(
            update(LeaderLease)
            .where(
                LeaderLease.name == self.name,
                LeaderLease.holder == self.holder,
                LeaderLease.term == term,
                LeaderLease.expires_at > now,
            )
            .values(term=LeaderLease.term)  # a write: takes the lock
            .returning(LeaderLease.term)
            .execution_options(synchronize_session=False)
        ).first()
        if held is None:
            raise FencedError(f"{self.holder}'s leader term {term} is over")

    def resign(self) -> None:
        """Give the lease up (a clean stop): another replica leads at its next poll. This
        election takes part no more."""
        self._resigned = True
        if not self.term:
            return
        try:
            with self.catalog.begin() as session:
                session.execute(
                    update(LeaderLease)
                    .where(
                        LeaderLease.name == self.name,
                        LeaderLease.holder == self.holder,
                        LeaderLease.term == self.term,
                    )
                    .values(expires_at=claims.catalog_now(session) - dt.timedelta(seconds=1))
                    .execution_options(synchronize_session=False)
                )
        except ButtressError as exc:
            log.warning("leader %s could not resign: %s", self.holder, exc)
        self._lose("resigned")

    def current(self) -> Leadership | None:
        """The lease as the catalog holds it (None: nobody was ever elected)."""
        with self.catalog.begin() as session:
            row = session.scalars(select(LeaderLease).where(LeaderLease.name == self.name)).first()
            if row is None:
                return None
            return Leadership(
                row.holder, row.host, row.term, row.since, row.renewed_at, row.expires_at
            )
