"""PostgreSQL failover, one step per function: measure the replica's lag, check it against the
limits, fence the old primary, promote the replica, wait until it accepts writes, repoint
clients. :func:`failover` runs them in that order. Each returns a small frozen value (what it
found or did) and raises :class:`FailoverError` naming the server (no password) when it cannot.

Each step has a ``plan_*`` twin for dry runs: what it would do, and the problems it sees
(unreachable servers, missing programs or settings); it changes nothing.

The pair's ``primary`` is the server failed over *from*, its ``replica`` the one promoted;
:func:`swapped` gives the pair the other way round. Failback is in :mod:`.pg_failback`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from buttress.config._failover_pg import PostgresNodeConfig, PostgresPairConfig
from buttress.runbooks.failover._pgnode import Node, Plan, program_problems
from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.pg_repoint import Repointed, plan_repoint, repoint

__all__ = [
    "FailedOver",
    "Fenced",
    "Lag",
    "Plan",
    "Promoted",
    "Repointed",
    "Writable",
    "catch_up",
    "check_lag",
    "failover",
    "fence",
    "plan_check_lag",
    "plan_failover",
    "plan_fence",
    "plan_promote",
    "plan_repoint",
    "promote",
    "replication_status",
    "repoint",
    "swapped",
    "unfence",
    "wait_writable",
]

POLL = 0.05
"""Seconds between two looks while waiting (promotion, writability, catch-up)."""
PROBE_TIMEOUT = 2.0
"""Seconds :func:`failover` gives a connection to a primary that may be down (libpq's least)."""


@dataclass(frozen=True, slots=True)
class Lag:
    """How far the replica is behind, and how it replicates.

    ``bytes``: WAL the primary has that the replica has not replayed (measured against the
    primary when it is reachable, else what the replica received but has not replayed).
    ``seconds``: 0 when nothing is left to replay, else the larger of the primary's
    ``replay_lag`` (the last measured: it does not grow while replay is stuck) and the age of
    the last transaction the replica replayed (an upper bound: after a long idle time a
    burst of writes in flight can look old). ``state``/``sync_state``:
    from the primary's ``pg_stat_replication`` (None when it is unreachable).
    """

    bytes: int
    seconds: float
    state: str | None
    sync_state: str | None
    replica_is_standby: bool
    primary_reachable: bool
    replay_paused: bool
    replica: str


@dataclass(frozen=True, slots=True)
class Fenced:
    """The old primary was made to refuse writes (``applied``), or could not be reached."""

    server: str
    method: str
    applied: bool
    started_at: float
    """``time.monotonic()`` when fencing began (failover time counts from here)."""
    seconds: float
    sessions_terminated: int
    detail: str


@dataclass(frozen=True, slots=True)
class Promoted:
    """The replica was promoted."""

    server: str
    seconds: float
    forced: bool
    lag: Lag
    synchronous_standby_names: str
    """Non-empty: the new primary's commits wait for a standby of that name."""


@dataclass(frozen=True, slots=True)
class Writable:
    """The server accepts writes (out of recovery, not read-only)."""

    server: str
    seconds: float


@dataclass(frozen=True, slots=True)
class FailedOver:
    """The whole failover: each step's value."""

    lag: Lag
    fenced: Fenced
    caught_up_bytes: int
    promoted: Promoted
    writable: Writable
    repointed: Repointed | None
    seconds: float


def swapped(pair: PostgresPairConfig) -> PostgresPairConfig:
    """The pair with its roles exchanged (after a failover: the new primary and the old)."""
    return pair.model_copy(update={"primary": pair.replica, "replica": pair.primary})


# --- lag ----------------------------------------------------------------------------------

_REPLICA_SQL = """
SELECT pg_is_in_recovery(),
       pg_last_wal_receive_lsn()::text,
       pg_last_wal_replay_lsn()::text,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8,
       CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END,
       COALESCE(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)::int8
"""

_PRIMARY_SQL = """
SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::int8,
       r.state, r.sync_state, extract(epoch FROM r.replay_lag)::float8
FROM (SELECT 1) one
LEFT JOIN LATERAL (
    SELECT state, sync_state, replay_lag FROM pg_stat_replication
    ORDER BY abs(pg_wal_lsn_diff(replay_lsn, %s::pg_lsn)) NULLS LAST LIMIT 1
) r ON true
"""


def replication_status(pair: PostgresPairConfig, *, timeout: float = 5.0) -> Lag:
    """Measure the replica's lag behind the primary (the primary may be unreachable).

    Args:
        timeout: seconds each connection attempt may take.

    Raises:
        FailoverError: the replica is unreachable.
    """
    replica, primary = Node(pair.replica), Node(pair.primary)
    standby, received, replayed, age, pause, unreplayed = replica.query(_REPLICA_SQL, (), timeout)
    if not standby:
        return Lag(0, 0.0, None, None, False, not primary.reachable(timeout), False, replica.name)
    paused = pause not in (None, "not paused")
    position = replayed or received or "0/0"
    try:
        behind, state, sync_state, replay_lag = primary.query(
            _PRIMARY_SQL, (position, position), timeout
        )
    except FailoverError:
        seconds = _seconds(int(unreplayed), None, age)
        return Lag(int(unreplayed), seconds, None, None, True, False, paused, replica.name)
    behind = max(0, int(behind or 0))
    seconds = _seconds(behind, replay_lag, age)
    return Lag(behind, seconds, state, sync_state, True, True, paused, replica.name)


def _seconds(behind: int, replay_lag: float | None, age: float | None) -> float:
    # replay_lag is the last one measured: it stays put while replay is stuck (paused), so
    # while WAL is left to replay the age of the last replayed commit bounds it from above
    if behind <= 0:
        return 0.0
    return max(float(replay_lag or 0.0), float(age or 0.0))


def _lag_text(lag: Lag) -> str:
    sync = f", {lag.sync_state}" if lag.sync_state else ""
    paused = ", replay paused" if lag.replay_paused else ""
    return f"{lag.bytes} bytes and {lag.seconds:.1f} s behind{sync}{paused}"


def _not_a_replica(name: str) -> FailoverError:
    return FailoverError(
        f"{name} is not a replica (pg_is_in_recovery() is false: it already runs as a "
        "primary); nothing was promoted"
    )


def check_lag(
    pair: PostgresPairConfig,
    max_bytes: int | None = None,
    max_seconds: float | None = None,
    *,
    force: bool = False,
    timeout: float = 5.0,
) -> Lag:
    """The replica's lag, refused when over the limits (default: the pair's) unless forced.

    Also refused: a replica that is not a standby, and (``synchronous: true`` in the pair) a
    standby the primary does not replicate to synchronously.

    Args:
        max_bytes: the limit in bytes (default: the pair's max_lag_bytes).
        max_seconds: the limit in seconds (default: the pair's max_lag_seconds).
        force: measure only, refuse nothing but a replica that is not a standby.
        timeout: seconds each connection attempt may take (the primary may be down).

    Raises:
        FailoverError: the lag (shown in the message) is over a limit, the replica is not a
            standby or not synchronous as expected, or it is unreachable.
    """
    lag = replication_status(pair, timeout=timeout)
    if not lag.replica_is_standby:
        raise _not_a_replica(lag.replica)
    if force:
        return lag
    limit_b = pair.max_lag_bytes if max_bytes is None else max_bytes
    limit_s = pair.max_lag_seconds if max_seconds is None else max_seconds
    over = []
    if lag.bytes > limit_b:
        over.append(f"{lag.bytes} bytes > max_lag_bytes {limit_b}")
    if lag.seconds > limit_s:
        over.append(f"{lag.seconds:.1f} s > max_lag_seconds {limit_s:g}")
    if over:
        raise FailoverError(
            f"replica {lag.replica} lags too far behind to promote ({'; '.join(over)}; "
            f"{_lag_text(lag)}); force to promote anyway and lose what it lacks"
        )
    if pair.synchronous and lag.primary_reachable and lag.sync_state not in ("sync", "quorum"):
        raise FailoverError(
            f"replica {lag.replica} is expected to be a synchronous standby but its primary "
            f"replicates to it as {lag.sync_state or 'nothing (not connected)'}; force to "
            "promote anyway"
        )
    return lag


def plan_check_lag(pair: PostgresPairConfig) -> Plan:
    """Dry run of :func:`check_lag`: both servers reachable, the replica a standby."""
    actions = [
        f"measure the lag of {Node(pair.replica).name} behind {Node(pair.primary).name} "
        f"(limits {pair.max_lag_bytes} bytes, {pair.max_lag_seconds:g} s)"
    ]
    problems = _reachability(pair, primary_optional=True)
    if not problems:
        try:
            lag = replication_status(pair)
        except FailoverError as exc:
            problems.append(str(exc))
        else:
            if not lag.replica_is_standby:
                problems.append(str(_not_a_replica(lag.replica)))
            else:
                actions.append(f"now: {_lag_text(lag)}")
    return Plan("check_lag", tuple(actions), tuple(problems))


# --- fence --------------------------------------------------------------------------------

_TERMINATE = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
"""


def fence(pair: PostgresPairConfig, *, force: bool = False) -> Fenced:
    """Make the primary refuse writes, the pair's way (``read_only``, ``stop`` or ``command``).

    ``read_only``: ``ALTER SYSTEM SET default_transaction_read_only = on``, a reload, every
    other client session terminated (a client that sets the parameter back in its own session
    can still write: fence with ``stop`` where that matters).

    Args:
        force: an unreachable primary counts as fenced (``applied`` False): it is down.

    Raises:
        FailoverError: the primary is unreachable (``read_only``, unless forced), or the stop
            or fence command failed.
    """
    node = Node(pair.primary)
    started = time.monotonic()
    if pair.fence == "read_only":
        try:
            terminated = _fence_read_only(node)
        except FailoverError as exc:
            if not force or node.reachable(2.0) == "":
                raise FailoverError(f"cannot fence {node.name} read-only: {exc}") from exc
            return Fenced(node.name, "read_only", False, started, _since(started), 0, str(exc))
        detail = "default_transaction_read_only = on; sessions terminated"
        return Fenced(node.name, "read_only", True, started, _since(started), terminated, detail)
    if pair.fence == "stop":
        ran = node.stop()
        detail = ran.output or "stopped"
        return Fenced(node.name, "stop", True, started, _since(started), 0, detail)
    assert pair.fence_command is not None  # the config refuses fence: command without one
    ran = node.run(pair.fence_command, 120, "fencing")
    return Fenced(node.name, "command", True, started, _since(started), 0, ran.output)


def _fence_read_only(node: Node) -> int:
    with node.connect(3.0) as conn:
        conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        conn.execute("SELECT pg_reload_conf()")
    # a new session inherits the postmaster's settings: once one sees the flag, all will
    _wait(
        lambda: node.query("SHOW default_transaction_read_only")[0] == "on",
        10.0,
        f"{node.name} did not apply default_transaction_read_only after a reload",
    )
    with node.connect(3.0) as conn:
        row = conn.execute(_TERMINATE).fetchone()
    return int(row[0]) if row else 0


def unfence(pair: PostgresPairConfig) -> None:
    """Undo :func:`fence` ``read_only`` on the primary (the rollback of a failover that
    failed after the fence); a no-op on a server that is not fenced.

    Raises:
        FailoverError: the primary is unreachable.
    """
    _unfence(Node(pair.primary))


def _unfence(node: Node) -> None:
    with node.connect() as conn:
        if conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",):
            conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
            conn.execute("SELECT pg_reload_conf()")


def plan_fence(pair: PostgresPairConfig) -> Plan:
    """Dry run of :func:`fence`."""
    node = Node(pair.primary)
    problems: list[str] = []
    if pair.fence == "read_only":
        actions = [
            f"on {node.name}: ALTER SYSTEM SET default_transaction_read_only = on; "
            "SELECT pg_reload_conf(); terminate the other client sessions"
        ]
        reason = node.reachable()
        if reason:
            problems.append(f"{reason} (a forced fence counts it as down)")
    elif pair.fence == "stop":
        argv = node.stop_argv()
        actions = [f"stop {node.name}: {' '.join(argv)}"]
        problems += program_problems(node, argv)
    else:
        assert pair.fence_command is not None
        actions = [f"fence {node.name}: {' '.join(pair.fence_command)}"]
        problems += program_problems(node, pair.fence_command)
    return Plan("fence", tuple(actions), tuple(problems))


# --- catch-up and promotion ----------------------------------------------------------------


def catch_up(pair: PostgresPairConfig, timeout: float) -> int:
    """After the fence: wait (up to ``timeout`` seconds) for the replica to replay all the
    WAL the fenced primary has (when it is still reachable), else what it received. Returns
    the bytes still missing at the end (0: caught up; -1: the replica did not answer)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            lag = replication_status(pair, timeout=2.0)
        except FailoverError:
            return -1
        if lag.bytes <= 0 or not lag.replica_is_standby or time.monotonic() >= deadline:
            return max(lag.bytes, 0)
        if lag.replay_paused:
            Node(pair.replica).query("SELECT pg_wal_replay_resume()")
        time.sleep(POLL)


def promote(pair: PostgresPairConfig, *, force: bool = False, timeout: float = 5.0) -> Promoted:
    """Promote the replica (``pg_promote(wait => true)``), after checking it is a standby and
    (unless forced) that its lag is within the pair's limits. A read-only fence left on it
    (an earlier switchover) is removed.

    Args:
        force: promote however far behind it is (what it lacks is lost).
        timeout: seconds each connection attempt of the lag check may take.

    Raises:
        FailoverError: unreachable; not a replica; lag over the limits (unless forced);
            promotion not finished in the pair's promote_timeout.
    """
    node = Node(pair.replica)
    lag = check_lag(pair, force=force, timeout=timeout)
    started = time.monotonic()
    wait = max(1, round(pair.promote_timeout))
    with node.connect() as conn:
        if lag.replay_paused:
            conn.execute("SELECT pg_wal_replay_resume()")
        row = conn.execute(
            "SELECT pg_promote(wait => true, wait_seconds => %s)", (wait,)
        ).fetchone()
        if not row or not row[0]:
            raise FailoverError(f"{node.name} did not finish promoting within {wait} s")
        standbys = conn.execute("SHOW synchronous_standby_names").fetchone()
    _unfence(node)
    names = str(standbys[0]) if standbys else ""
    return Promoted(node.name, _since(started), force, lag, names)


def plan_promote(pair: PostgresPairConfig, *, force: bool = False) -> Plan:
    """Dry run of :func:`promote`: reachable, a standby, and (unless forced) the lag."""
    node = Node(pair.replica)
    actions = [f"on {node.name}: SELECT pg_promote(wait => true)"]
    try:
        check_lag(pair, force=force)
    except FailoverError as exc:
        return Plan("promote", tuple(actions), (str(exc),))
    return Plan("promote", tuple(actions), ())


def wait_writable(dsn: str, timeout: float = 30.0) -> Writable:
    """Wait until a new session on ``dsn`` may write (out of recovery, not read-only).

    Args:
        timeout: seconds before giving up.

    Raises:
        FailoverError: still not writable (the last reason shown) after ``timeout``.
    """
    node = Node(PostgresNodeConfig(dsn=dsn))
    started = time.monotonic()
    why = "not tried"
    while True:
        try:
            recovering, read_only = node.query(
                "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')", (), 2.0
            )
        except FailoverError as exc:
            why = str(exc)
        else:
            if not recovering and read_only == "off":
                return Writable(node.name, _since(started))
            why = "in recovery" if recovering else "read-only"
        if time.monotonic() - started >= timeout:
            raise FailoverError(f"{node.name} does not accept writes after {timeout:g} s: {why}")
        time.sleep(POLL)


# --- the whole failover -------------------------------------------------------------------


def failover(pair: PostgresPairConfig, *, force: bool = False) -> FailedOver:
    """Check the lag, fence the primary, let the replica replay what it was sent (up to
    max_lag_seconds), promote it, wait until it takes writes, repoint clients.

    Raises:
        FailoverError: from the step that refused or failed (nothing after it ran).
    """
    lag = check_lag(pair, force=force, timeout=PROBE_TIMEOUT)
    fenced = fence(pair, force=force)
    missing = catch_up(pair, pair.max_lag_seconds)
    promoted = promote(
        pair, force=True, timeout=PROBE_TIMEOUT
    )  # checked before the fence; what it lacks is lost
    writable = wait_writable(pair.replica.dsn, pair.promote_timeout)
    repointed = repoint(pair, pair.replica.dsn)
    seconds = _since(fenced.started_at)
    return FailedOver(lag, fenced, missing, promoted, writable, repointed, seconds)


def plan_failover(pair: PostgresPairConfig, *, force: bool = False) -> list[Plan]:
    """Dry run of :func:`failover`: each step's plan."""
    return [
        plan_check_lag(pair),
        plan_fence(pair),
        plan_promote(pair, force=force),
        Plan("wait_writable", (f"wait until {Node(pair.replica).name} accepts writes",), ()),
        plan_repoint(pair, pair.replica.dsn),
    ]


# --- helpers ------------------------------------------------------------------------------


def _since(started: float) -> float:
    return time.monotonic() - started


def _wait(check: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            raise FailoverError(message)
        time.sleep(POLL)


def _reachability(pair: PostgresPairConfig, *, primary_optional: bool) -> list[str]:
    problems = []
    replica = Node(pair.replica).reachable()
    if replica:
        problems.append(replica)
    primary = Node(pair.primary).reachable()
    if primary and not primary_optional:
        problems.append(primary)
    return problems
