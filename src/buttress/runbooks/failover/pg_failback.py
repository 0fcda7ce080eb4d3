"""PostgreSQL failback, after :func:`~.postgres.failover` promoted the pair's replica: rebuild
the old primary as a standby of the new one (:func:`failback`), then switch back to it in a
planned way (:func:`switchover`). Both keep the pair's roles as configured: the ``primary``
is the server to return to, the ``replica`` the one that runs as primary since the failover.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from buttress.config._failover_pg import PostgresPairConfig
from buttress.runbooks.failover._pgnode import Node
from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.postgres import (
    POLL,
    Lag,
    Plan,
    Promoted,
    Repointed,
    Writable,
    _fence_read_only,
    _unfence,
    check_lag,
    promote,
    repoint,
    swapped,
    wait_writable,
)

__all__ = ["Rebuilt", "Switched", "failback", "plan_failback", "plan_switchover", "switchover"]


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """The old primary runs as a standby of the new one.

    ``method``: ``pg_rewind``, ``pg_basebackup`` or ``none`` (it already was one);
    ``why_not_rewind``: why pg_rewind was not used or failed ("" when it was);
    ``moved_aside``: where the old data directory went before a clone (kept, not deleted).
    """

    server: str
    method: str
    why_not_rewind: str
    moved_aside: str
    seconds: float


@dataclass(frozen=True, slots=True)
class Switched:
    """A planned switchover: the old primary was read-only from before the final sync."""

    from_server: str
    to_server: str
    lag: Lag
    synced_lsn: str
    promoted: Promoted
    writable: Writable
    repointed: Repointed | None
    seconds: float


def _is_primary(node: Node) -> bool:
    row = node.query("SELECT NOT pg_is_in_recovery()")
    return bool(row and row[0])


def _controldata(node: Node, data: Path) -> dict[str, str]:
    ran = node.run(
        [node.program("pg_controldata"), "-D", str(data)], 60, "reading the control file of"
    )
    out: dict[str, str] = {}
    for line in ran.output.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def why_no_rewind(control: dict[str, str]) -> str:
    """Why pg_rewind cannot work on a data directory with this control file ("" if it can)."""
    hints = control.get("wal_log_hints setting") == "on"
    checksums = control.get("Data page checksum version", "0") not in ("0", "")
    if hints or checksums:
        return ""
    return "wal_log_hints is off and data checksums are off (pg_rewind needs one of them)"


def failback(pair: PostgresPairConfig) -> Rebuilt:
    """Rebuild the pair's old primary as a streaming standby of its new primary (the replica):
    stop it (cleanly), then ``pg_rewind`` when possible (``rebuild: auto | rewind``), else
    (``auto | clone``) move its data directory aside and clone the new primary with
    ``pg_basebackup -R``; start it and wait until it streams.

    Raises:
        FailoverError: the new primary is unreachable or not a primary; no data_dir; pg_rewind
            impossible or failed with ``rebuild: rewind``; the clone failed (the old data
            directory is put back); the rebuilt server does not stream in promote_timeout.
    """
    started = time.monotonic()
    new, old = Node(pair.replica), Node(pair.primary)
    if not _is_primary(new):
        raise FailoverError(
            f"cannot fail back onto {new.name}: it is not a primary (still in recovery); "
            "fail over first"
        )
    if _streams(old):
        return Rebuilt(old.name, "none", "", "", time.monotonic() - started)
    data = old.data_dir("rebuilding")
    if old.running():
        old.stop()
    new.query("CHECKPOINT")  # the control file names the new timeline, which pg_rewind reads
    why = why_no_rewind(_controldata(old, data)) if pair.rebuild != "clone" else "rebuild: clone"
    if not why:
        ran = old.run(
            [old.program("pg_rewind"), "-D", str(data), f"--source-server={new.dsn}", "-R"],
            3600,
            "rewinding",
            check=False,
        )
        if ran.returncode == 0:
            old.start()
            _wait_streaming(old, pair.promote_timeout)
            return Rebuilt(old.name, "pg_rewind", "", "", time.monotonic() - started)
        why = f"pg_rewind failed: {ran.output.replace(new.dsn, new.name)[-1000:]}"
    if pair.rebuild == "rewind":
        raise FailoverError(
            f"cannot rebuild {old.name} with pg_rewind: {why}; it stays stopped. Set "
            "rebuild: clone (or auto) to re-clone it with pg_basebackup (its data directory "
            "is moved aside)"
        )
    aside = _clone(old, new, data)
    old.start()
    _wait_streaming(old, pair.promote_timeout)
    return Rebuilt(old.name, "pg_basebackup", why, str(aside), time.monotonic() - started)


def _clone(old: Node, new: Node, data: Path) -> Path:
    aside = data.with_name(f"{data.name}.before-failback-{time.strftime('%Y%m%dT%H%M%S')}")
    try:
        data.rename(aside)
    except OSError as exc:
        raise FailoverError(f"cannot move {old.name}'s data directory {data} aside: {exc}") from exc
    argv = [old.program("pg_basebackup"), "-D", str(data), "-R", "-X", "stream", "-c", "fast"]
    ran = old.run([*argv, "-d", new.dsn], 24 * 3600, "cloning", check=False)
    if ran.returncode != 0:
        if data.exists():
            _remove_tree(data)
        aside.rename(data)
        raise FailoverError(
            f"cannot re-clone {old.name} from {new.name}: pg_basebackup exited "
            f"{ran.returncode}: {ran.output.replace(new.dsn, new.name)}; its data directory "
            "was put back, it stays stopped"
        )
    return aside


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _streams(node: Node) -> bool:
    try:
        row = node.query(
            "SELECT pg_is_in_recovery(), (SELECT status FROM pg_stat_wal_receiver)", (), 3.0
        )
    except FailoverError:
        return False
    return bool(row and row[0] and row[1] == "streaming")


def _wait_streaming(node: Node, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _streams(node):
        if time.monotonic() >= deadline:
            raise FailoverError(f"{node.name} was rebuilt but does not stream after {timeout:g} s")
        time.sleep(POLL)


def switchover(pair: PostgresPairConfig, *, force: bool = False) -> Switched:
    """Switch back to the pair's primary (a standby of the replica since :func:`failback`):
    the replica (the current primary) is made read-only, the primary replays up to its last
    WAL position, is promoted, takes writes, and clients are repointed to it. The replica is
    left read-only (rebuild it with ``failback(swapped(pair))``).

    Raises:
        FailoverError: either server unreachable; the primary is not a standby; its lag is
            over the limits (unless forced); it did not catch up in promote_timeout (the
            replica is then made writable again).
    """
    started = time.monotonic()
    back = swapped(pair)  # the current roles: primary = pair.replica
    current, target = Node(pair.replica), Node(pair.primary)
    lag = check_lag(back, force=force)
    _fence_read_only(current)
    row = current.query("SELECT pg_current_wal_lsn()::text")
    lsn = str(row[0])
    deadline = time.monotonic() + pair.promote_timeout
    while True:
        done = target.query("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))
        if done and done[0]:
            break
        if time.monotonic() >= deadline:
            _unfence(current)
            raise FailoverError(
                f"{target.name} did not replay up to {lsn} in {pair.promote_timeout:g} s; "
                f"switchover abandoned, {current.name} takes writes again"
            )
        time.sleep(POLL)
    promoted = promote(back, force=True)  # caught up: nothing is left to lose
    writable = wait_writable(target.dsn, pair.promote_timeout)
    repointed = repoint(pair, target.dsn)
    seconds = time.monotonic() - started
    return Switched(current.name, target.name, lag, lsn, promoted, writable, repointed, seconds)


def plan_failback(pair: PostgresPairConfig) -> Plan:
    """Dry run of :func:`failback`: the new primary is one, the old one's data directory
    and programs are there, and whether pg_rewind is possible."""
    new, old = Node(pair.replica), Node(pair.primary)
    actions: list[str] = []
    problems: list[str] = []
    try:
        if not _is_primary(new):
            problems.append(f"{new.name} is not a primary yet (fail over first)")
    except FailoverError as exc:
        problems.append(str(exc))
    if pair.primary.data_dir is None:
        problems.append(f"rebuilding {old.name} needs its data_dir in the pair's config")
        return Plan("failback", tuple(actions), tuple(problems))
    for program in ("pg_ctl", "pg_controldata", "pg_rewind", "pg_basebackup"):
        missing = old.missing_program(program)
        if missing:
            problems.append(missing)
    actions.append(f"stop {old.name} (clean shutdown) if it runs")
    why = "rebuild: clone"
    if pair.rebuild != "clone":
        try:
            why = why_no_rewind(_controldata(old, pair.primary.data_dir))
        except FailoverError as exc:
            why = str(exc)
        if not why:
            actions.append(f"pg_rewind -D {pair.primary.data_dir} from {new.name} -R")
    if why:
        if pair.rebuild == "rewind":
            problems.append(f"pg_rewind impossible: {why}")
        else:
            actions.append(
                f"move {pair.primary.data_dir} aside; pg_basebackup -R from {new.name} ({why})"
            )
    actions.append(f"start {old.name}; wait until it streams from {new.name}")
    return Plan("failback", tuple(actions), tuple(problems))


def plan_switchover(pair: PostgresPairConfig) -> Plan:
    """Dry run of :func:`switchover`."""
    current, target = Node(pair.replica), Node(pair.primary)
    actions = (
        f"make {current.name} read-only; wait until {target.name} replays its last WAL",
        f"promote {target.name}; wait until it accepts writes; repoint clients to it",
    )
    try:
        check_lag(swapped(pair))
    except FailoverError as exc:
        return Plan("switchover", actions, (str(exc),))
    reason = current.reachable()
    return Plan("switchover", actions, (reason,) if reason else ())
