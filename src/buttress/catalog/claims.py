"""Claims: "one holder at a time" for anything keyed by a name, atomic in the catalog on SQLite
and PostgreSQL alike, with a lease the holder keeps renewing.

A claim is one row of ``claims`` keyed by what is held (``backup:site``). Taking a free key is
a single ``INSERT ... ON CONFLICT DO NOTHING``: the primary key lets exactly one of any number
of racing callers (threads, processes, hosts) insert it. The holder renews the lease
(``heartbeat_at``, ``expires_at``) every few seconds from a thread (:class:`Heartbeat`) and
deletes the row when done (:func:`release`). A claim is *dead* when its lease has expired, or
sooner when its process is demonstrably gone: same machine (boot id and PID namespace), and
that PID no longer runs the process that took the claim (its start time differs, so a reused
PID -- PID 1 in a container -- is not mistaken for it). A dead claim is taken over by a
compare-and-swap ``UPDATE ... WHERE key=? AND holder=? AND heartbeat_at=?``, so again exactly
one caller wins. Lease times come from the catalog's clock (PostgreSQL's ``now()``), so hosts'
clocks need not agree; with SQLite every holder is on the catalog's machine anyway.

Everything happens in the caller's transaction: the caller inserts its own record (a backup
run) in the same one, so a claim and what it guards appear together or not at all.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from buttress.catalog.tables import Claim, utcnow
from buttress.errors import ButtressError, CatalogError

if TYPE_CHECKING:
    from buttress.catalog.engine import Catalog

__all__ = [
    "HEARTBEAT",
    "LEASE",
    "ClaimHeldError",
    "Heartbeat",
    "Held",
    "Owner",
    "State",
    "acquire",
    "catalog_now",
    "decide",
    "get",
    "held_by",
    "insert_if_free",
    "process_runs",
    "release",
    "renew",
    "state",
]

log = logging.getLogger("buttress.catalog")

LEASE = 30.0
"""Seconds a claim stays live without a renewal."""
HEARTBEAT = 5.0
"""Seconds between renewals (several per lease, so a slow catalog does not expire it)."""

State = Literal["live", "expired", "gone"]


@dataclass(frozen=True, slots=True)
class Held:
    """Who holds a claim, as :class:`ClaimHeldError` reports it (a copy, not a catalog row)."""

    key: str
    holder: str
    host: str
    claimed_at: dt.datetime
    heartbeat_at: dt.datetime
    expires_at: dt.datetime


class ClaimHeldError(ButtressError):
    """The key is held by a live holder; ``claim`` says who, where and since when."""

    def __init__(self, claim: Claim) -> None:
        self.claim = Held(
            claim.key,
            claim.holder,
            claim.host,
            claim.claimed_at,
            claim.heartbeat_at,
            claim.expires_at,
        )
        super().__init__(f"{claim.key} is held by {claim.holder} (host {claim.host})")


@dataclass(frozen=True, slots=True)
class Owner:
    """A process as a claim records it: ``machine`` says where ``pid`` means something."""

    host: str
    machine: str
    pid: int
    started: float

    @staticmethod
    def current() -> Owner:
        """This process."""
        return _owner(os.getpid())  # by PID: a forked child is another owner


@functools.cache
def _owner(pid: int) -> Owner:

    return Owner(socket.gethostname(), _machine(), pid, _start_mark(pid))


def _start_mark(pid: int) -> float:
    """When process ``pid`` started, as a value that never changes while it runs: on Linux its
    start time in clock ticks since boot (``/proc/PID/stat``, field 22). psutil's
    ``create_time()`` adds the boot time read from ``/proc/stat``, which moves by a second now
    and then (it is "now - uptime", rounded): a live holder was once judged gone and its claim
    taken. Elsewhere, psutil's time (epoch seconds).

    Raises:
        psutil.NoSuchProcess: no such process.
    """
    import psutil

    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        raise psutil.NoSuchProcess(pid) from None
    except OSError:
        return float(psutil.Process(pid).create_time())
    # the command name (field 2) is in parentheses and may hold spaces: count after it
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # a zombie (killed, not yet reaped by its parent) runs no more
        raise psutil.NoSuchProcess(pid)
    return float(fields[19])


def _machine() -> str:
    """The boot id and the PID namespace: two processes with equal values see the same PIDs."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        import psutil

        boot = f"boot@{psutil.boot_time():.0f}"
    try:
        namespace = str(Path("/proc/self/ns/pid").readlink())
    except OSError:
        namespace = ""
    return f"{socket.gethostname()}|{boot}|{namespace}"[:200]


def _process_runs(claim: Claim, here: Owner) -> bool | None:
    """Whether the claim's process still runs: None when this process cannot tell (another
    machine or PID namespace)."""
    return process_runs(claim.machine, claim.pid, claim.pid_started, here)


def process_runs(machine: str, pid: int, started: float, here: Owner) -> bool | None:
    """Whether the process ``pid`` that started at ``started`` on ``machine`` (an
    :class:`Owner`'s fields) still runs: None when ``here`` cannot tell (another machine or
    PID namespace)."""
    if machine != here.machine:
        return None
    import psutil

    try:
        mark = _start_mark(pid)
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return None  # exists, but we may not look at it: the lease decides
    return abs(mark - started) < 0.5  # else the PID was reused


def decide(expires_at: dt.datetime, now: dt.datetime, process_runs: bool | None) -> State:
    """Live, expired or gone: a process seen gone (or its PID reused) is gone at once; one
    seen running is live; otherwise the lease decides."""
    if process_runs is False:
        return "gone"
    if process_runs or expires_at > now:
        return "live"
    return "expired"


def state(claim: Claim, now: dt.datetime, here: Owner | None = None) -> State:
    """:func:`decide` for ``claim``, judged from this process (``here``)."""
    return decide(claim.expires_at, now, _process_runs(claim, here or Owner.current()))


def catalog_now(session: Session) -> dt.datetime:
    """The catalog's time: PostgreSQL's clock (one for every host), else this machine's."""
    if session.get_bind().dialect.name == "postgresql":
        value = session.scalar(select(func.clock_timestamp()))  # not the transaction's start
        if not isinstance(value, dt.datetime):
            raise CatalogError(f"clock_timestamp() answered {type(value).__name__}")
        return value.astimezone(dt.UTC)
    return utcnow()


def _changed(session: Session, stmt: Any, column: Any = Claim.key) -> bool:
    """Whether an INSERT, UPDATE or DELETE changed a row (by RETURNING: drivers do not all
    give a rowcount for ``ON CONFLICT DO NOTHING``)."""
    return session.execute(stmt.returning(column)).first() is not None


def insert_if_free(session: Session, model: Any, values: dict[str, object]) -> bool:
    """``INSERT ... ON CONFLICT (primary key) DO NOTHING`` of one ``model`` row: whether this
    caller inserted it (exactly one of any number of racing callers does)."""
    key = [column.name for column in model.__table__.primary_key]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(model).values(values).on_conflict_do_nothing(index_elements=key)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(model).values(values).on_conflict_do_nothing(index_elements=key)
    return _changed(session, stmt, getattr(model, key[0]))


def _insert_if_free(session: Session, values: dict[str, object]) -> bool:
    return insert_if_free(session, Claim, values)


def acquire(
    *,
    session: Session,
    key: str,
    holder: str,
    lease: float = LEASE,
    owner: Owner | None = None,
) -> Claim | None:
    """Take ``key`` for ``holder`` (in the caller's transaction).

    Returns:
        None when the key was free; the dead claim it took over otherwise (its holder never
        released it: killed, crashed, or its lease ran out).

    Raises:
        ClaimHeldError: a live holder has it.
    """
    me = owner or Owner.current()
    values: dict[str, object] = {
        "key": key,
        "holder": holder,
        "host": me.host,
        "machine": me.machine,
        "pid": me.pid,
        "pid_started": me.started,
    }
    for _ in range(5):  # each pass ends unless another caller changed the row meanwhile
        now = catalog_now(session)  # SQLite: no statement, so the INSERT takes the write lock
        times = {
            "claimed_at": now,
            "heartbeat_at": now,
            "expires_at": now + dt.timedelta(seconds=lease),
        }
        if _insert_if_free(session, values | times):
            return None
        current = get(session=session, key=key)
        if current is None:
            continue  # released in between: try the insert again
        if state(current, now, me) == "live":
            raise ClaimHeldError(current)
        taken = _changed(
            session,
            update(Claim)
            .where(
                Claim.key == key,
                Claim.holder == current.holder,
                Claim.heartbeat_at == current.heartbeat_at,
            )
            .values(values | times)
            .execution_options(synchronize_session=False),
        )
        if taken:
            return current
    current = get(session=session, key=key)
    if current is None:
        raise ButtressError(f"claim {key}: could not take it (it kept changing hands)")
    raise ClaimHeldError(current)


def renew(*, session: Session, key: str, holder: str, lease: float = LEASE) -> bool:
    """Extend ``holder``'s lease on ``key``; False when it no longer holds it (released, or
    taken over after its lease ran out)."""
    now = catalog_now(session)
    return _changed(
        session,
        update(Claim)
        .where(Claim.key == key, Claim.holder == holder)
        .values(heartbeat_at=now, expires_at=now + dt.timedelta(seconds=lease))
        .execution_options(synchronize_session=False),
    )


def release(*, session: Session, key: str, holder: str) -> bool:
    """Give ``key`` up if ``holder`` still holds it; whether it did."""
    return _changed(
        session,
        delete(Claim)
        .where(Claim.key == key, Claim.holder == holder)
        .execution_options(synchronize_session=False),
    )


def get(*, session: Session, key: str) -> Claim | None:
    """The claim on ``key``, read afresh."""
    query = select(Claim).where(Claim.key == key).execution_options(populate_existing=True)
    return session.scalars(query).first()


def held_by(*, session: Session, holders: list[str]) -> dict[str, Claim]:
    """holder -> its claim, for those of ``holders`` that hold one."""
    if not holders:
        return {}
    query = select(Claim).where(Claim.holder.in_(holders))
    return {c.holder: c for c in session.scalars(query.execution_options(populate_existing=True))}


class Heartbeat:
    """Renews ``holder``'s claim on ``key`` every ``every`` seconds from a daemon thread, each
    time in a transaction of its own, until :meth:`stop`. A catalog that does not answer is
    logged and retried (the lease runs meanwhile); a claim found lost sets :attr:`lost`.

    Args:
        catalog: the catalog holding the claim.
        key: what is held.
        holder: who holds it.
        every: seconds between renewals.
        lease: seconds each renewal is good for.
    """

    def __init__(
        self,
        catalog: Catalog,
        key: str,
        holder: str,
        *,
        every: float = HEARTBEAT,
        lease: float = LEASE,
    ) -> None:
        self.catalog, self.key, self.holder = catalog, key, holder
        self.every, self.lease = every, lease
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Heartbeat:
        self._thread = threading.Thread(
            target=self._loop, name=f"buttress-heartbeat-{self.key}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with self.catalog.begin() as session:
                    held = renew(
                        session=session, key=self.key, holder=self.holder, lease=self.lease
                    )
            except ButtressError as exc:
                log.warning("could not renew the claim %s of %s: %s", self.key, self.holder, exc)
                continue
            if not held:
                self.lost.set()
                log.warning(
                    "%s lost its claim on %s (abandoned, or taken over after its lease ran out)",
                    self.holder,
                    self.key,
                )
                return
