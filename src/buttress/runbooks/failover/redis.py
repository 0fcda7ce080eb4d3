"""Failover and failback of a Redis primary with a replica, one step per function.

A failover moves the primary role from ``pair.primary`` to ``pair.replica``::

    check_lag(pair)       # refused when the replica is too far behind, unless forced
    fence(pair)           # the old primary stops taking writes (CLIENT PAUSE WRITE)
    catch_up(pair)        # the replica receives what it had not yet (offsets equal)
    promote(pair)         # REPLICAOF NO ONE on the replica
    wait_writable(pair.replica, 30.0)
    repoint(pair)         # clients learn the new primary
    reattach(pair)        # the old primary becomes a replica of the new one

and :func:`switchover` moves it back once the old primary has caught up (pause writes, wait
until the offsets are equal, promote, re-attach). With Sentinel, :func:`sentinel_failover`
asks the Sentinels instead. Every step returns a small frozen record of what it saw and did,
and has a ``plan_*`` twin in :mod:`.redis_plans` that only reads (INFO) for a dry run.

Errors are :class:`FailoverError`, naming the server with its password masked.

.. versionadded:: 0.9
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from buttress.runbooks.failover.errors import FailoverError
from buttress.secrets import mask_url, redact

if TYPE_CHECKING:
    from buttress.config._failover_redis import RedisPairConfig, RedisRepoint

__all__ = [
    "DEFAULT_MAX_LAG_BYTES",
    "DEFAULT_MAX_LAG_SECONDS",
    "CaughtUp",
    "Fenced",
    "LagCheck",
    "Promoted",
    "Reattached",
    "RedisPair",
    "ReplicationStatus",
    "Repointed",
    "SentinelFailover",
    "SentinelSpec",
    "Switchover",
    "Writable",
    "catch_up",
    "check_lag",
    "fence",
    "promote",
    "reattach",
    "replication_status",
    "repoint",
    "sentinel_failover",
    "switchover",
    "wait_writable",
]

DEFAULT_MAX_LAG_BYTES = 1_048_576
DEFAULT_MAX_LAG_SECONDS = 15.0
DEFAULT_PAUSE_SECONDS = 30.0
DEFAULT_TIMEOUT = 2.0
DEFAULT_SYNC_TIMEOUT = 60.0
WRITABLE_KEY = "buttress:failover:writable"
_POLL = 0.02
_FENCES = ("pause", "demote", "none")


@dataclass(frozen=True, slots=True)
class SentinelSpec:
    """The Sentinels that manage a pair, and the master name they know it by."""

    urls: tuple[str, ...]
    master: str
    timeout: float = 60.0


@dataclass(frozen=True, slots=True)
class RedisPair:
    """A primary and its replica, with the limits the steps apply.

    Args:
        name: the pair's name in ``runbooks.failover.redis`` (for messages).
        primary: URL of the primary; ``replica``: of its replica (passwords never shown).
        max_lag_bytes: largest offset difference a promotion accepts.
        max_lag_seconds: largest replication delay (seconds) a promotion accepts.
        fence: ``pause`` (CLIENT PAUSE WRITE), ``demote`` (REPLICAOF the replica) or ``none``.
        pause_seconds: how long a ``pause`` holds writes at most (seconds).
        timeout: to connect and for each answer (seconds).
        sync_timeout: longest wait for a sync or for offsets to match (seconds).
    """

    name: str
    primary: str
    replica: str
    max_lag_bytes: int = DEFAULT_MAX_LAG_BYTES
    max_lag_seconds: float = DEFAULT_MAX_LAG_SECONDS
    fence: str = "pause"
    pause_seconds: float = DEFAULT_PAUSE_SECONDS
    timeout: float = DEFAULT_TIMEOUT
    sync_timeout: float = DEFAULT_SYNC_TIMEOUT
    sentinel: SentinelSpec | None = None
    repoint: RedisRepoint | None = None

    def __post_init__(self) -> None:
        if self.fence not in _FENCES:
            raise ValueError(f"fence: expected one of {', '.join(_FENCES)}, not {self.fence!r}")
        if self.max_lag_bytes < 0:
            raise ValueError("max_lag_bytes: must be 0 or more")
        for field in ("max_lag_seconds", "pause_seconds", "timeout", "sync_timeout"):
            if not getattr(self, field) > 0:
                raise ValueError(f"{field}: must be above 0 seconds")
        _endpoint(self.primary)
        _endpoint(self.replica)

    def __repr__(self) -> str:
        return f"RedisPair({self.name!r}, {mask_url(self.primary)} -> {mask_url(self.replica)})"

    @classmethod
    def from_config(cls, name: str, config: RedisPairConfig) -> RedisPair:
        """The pair ``runbooks.failover.redis.<name>`` describes."""
        sentinel = config.sentinel
        return cls(
            name=name,
            primary=config.primary,
            replica=config.replica,
            max_lag_bytes=config.max_lag_bytes,
            max_lag_seconds=config.max_lag_seconds,
            fence=config.fence,
            pause_seconds=config.pause_seconds,
            timeout=config.connect_timeout,
            sync_timeout=config.sync_timeout,
            sentinel=None
            if sentinel is None
            else SentinelSpec(tuple(sentinel.urls), sentinel.master, sentinel.timeout),
            repoint=config.repoint,
        )

    def reversed(self) -> RedisPair:
        """The same pair with the roles swapped (after a failover, the replica is primary)."""
        return replace(self, primary=self.replica, replica=self.primary)


@dataclass(frozen=True, slots=True)
class ReplicationStatus:
    """How far ``replica`` is behind ``primary``; ``None`` where it could not be read.

    ``lag_seconds`` is the seconds since the replica last acknowledged (the primary's view),
    or, the primary unreachable, since the replica last heard from it. ``replicates_primary``
    is whether both share one replication history (``None``: one did not answer).
    """

    primary: str
    replica: str
    primary_reachable: bool
    replica_reachable: bool
    replica_role: str | None
    link_up: bool
    primary_offset: int | None
    replica_offset: int | None
    lag_bytes: int | None
    lag_seconds: float | None
    error: str | None = None
    replicates_primary: bool | None = None

    def describe(self) -> str:
        """One line: ``lag 120 bytes, 0 s (link up)``."""
        if not self.replica_reachable:
            return f"replica {self.replica} unreachable ({self.error})"
        link = "link up" if self.link_up else "link down"
        size = "unknown" if self.lag_bytes is None else f"{self.lag_bytes} bytes"
        delay = "unknown" if self.lag_seconds is None else f"{self.lag_seconds:g} s"
        return f"lag {size}, {delay} ({link}, replica role {self.replica_role})"


@dataclass(frozen=True, slots=True)
class LagCheck:
    """The lag measured and whether it was within the pair's limits (or forced past them)."""

    status: ReplicationStatus
    problem: str | None
    forced: bool

    @property
    def ok(self) -> bool:
        """Within the limits."""
        return self.problem is None


@dataclass(frozen=True, slots=True)
class Fenced:
    """The old primary stopped taking writes (``reached=False``: it did not answer, forced)."""

    server: str
    method: str
    reached: bool
    at: float
    until: float | None


@dataclass(frozen=True, slots=True)
class Promoted:
    """The replica became a primary at replication ``offset``."""

    server: str
    offset: int | None
    lag: LagCheck
    at: float


@dataclass(frozen=True, slots=True)
class Writable:
    """``server`` accepted a write after ``seconds`` and ``attempts`` tries."""

    server: str
    seconds: float
    attempts: int


@dataclass(frozen=True, slots=True)
class CaughtUp:
    """The replica reached offset ``offset`` of the fenced primary in ``seconds`` (forced past
    a timeout: ``lag_bytes`` were still missing)."""

    server: str
    offset: int | None
    seconds: float
    lag_bytes: int | None


@dataclass(frozen=True, slots=True)
class Reattached:
    """``server`` replicates from ``primary`` again and caught up in ``seconds``."""

    server: str
    primary: str
    seconds: float
    status: ReplicationStatus


@dataclass(frozen=True, slots=True)
class Switchover:
    """The primary role moved back to ``primary`` with writes paused for ``paused_seconds``."""

    primary: str
    replica: str
    offset: int
    paused_seconds: float
    reattached: Reattached


@dataclass(frozen=True, slots=True)
class SentinelFailover:
    """Sentinel moved master ``master`` from ``old`` to ``new`` (host:port) in ``seconds``."""

    master: str
    sentinel: str
    old: str
    new: str
    seconds: float


@dataclass(frozen=True, slots=True)
class Repointed:
    """Clients were told the new primary ``server`` by ``method`` (``detail``: where)."""

    server: str
    method: str
    detail: str


# -- connections --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Endpoint:
    host: str
    port: int
    username: str | None
    password: str | None


def _endpoint(url: str) -> _Endpoint:
    try:
        parts = urlsplit(url)
        port = parts.port or 6379
    except ValueError as exc:
        raise FailoverError(f"redis url {mask_url(url)!r}: {exc}") from None
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise FailoverError(f"redis url {mask_url(url)!r}: expected redis://host:port/db")
    return _Endpoint(
        parts.hostname,
        port,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password is not None else None,
    )


def _client(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),
    )


@contextmanager
def _talk(url: str, timeout: float, doing: str) -> Iterator[redis.Redis]:
    """A client for ``url``; a Redis error becomes a FailoverError naming the server."""
    client = _client(url, timeout)
    try:
        yield client
    except redis.RedisError as exc:
        raise FailoverError(f"redis {mask_url(url)}: {doing}: {_reason(exc)}") from exc
    finally:
        client.close()


def _command(client: redis.Redis, *args: str) -> Any:
    send: Callable[..., Any] = client.execute_command  # redis-py leaves it untyped
    return send(*args)


def _reason(exc: BaseException) -> str:
    return redact(str(exc) or type(exc).__name__)


def _info(client: redis.Redis) -> dict[str, Any]:
    info: dict[str, Any] = client.info("replication")
    return info


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).lstrip("-").isdigit() else None


def _replica_entries(info: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key, value in info.items():
        if key.startswith("slave") and key[5:].isdigit() and isinstance(value, Mapping):
            yield value


# -- replication status and lag -------------------------------------------------------------


def replication_status(pair: RedisPair) -> ReplicationStatus:
    """Read INFO replication on both servers and compare their offsets.

    Never raises for an unreachable server: the status says which one did not answer.
    """
    primary_info: dict[str, Any] | None = None
    replica_info: dict[str, Any] | None = None
    errors: list[str] = []
    for url, name in ((pair.primary, "primary"), (pair.replica, "replica")):
        client = _client(url, pair.timeout)
        try:
            info = _info(client)
        except redis.RedisError as exc:
            errors.append(f"{name} {mask_url(url)}: {_reason(exc)}")
            continue
        finally:
            client.close()
        if name == "primary":
            primary_info = info
        else:
            replica_info = info
    role = None if replica_info is None else str(replica_info.get("role"))
    is_replica = role == "slave"
    link_up = (
        is_replica and replica_info is not None and replica_info.get("master_link_status") == "up"
    )
    primary_offset = None if primary_info is None else _int(primary_info.get("master_repl_offset"))
    replica_offset = (
        _int(replica_info.get("slave_repl_offset")) if replica_info and is_replica else None
    )
    lag_bytes = None
    same_history = (
        primary_info is not None
        and replica_info is not None
        and primary_info.get("master_replid") == replica_info.get("master_replid")
    )
    if same_history and primary_offset is not None and replica_offset is not None and is_replica:
        lag_bytes = max(0, primary_offset - replica_offset)
    lag_seconds = _lag_seconds(pair, primary_info, replica_info if link_up else None)
    return ReplicationStatus(
        primary=mask_url(pair.primary),
        replica=mask_url(pair.replica),
        primary_reachable=primary_info is not None,
        replica_reachable=replica_info is not None,
        replica_role=role,
        link_up=link_up,
        primary_offset=primary_offset,
        replica_offset=replica_offset,
        lag_bytes=lag_bytes,
        lag_seconds=lag_seconds,
        error="; ".join(errors) or None,
        # the same replication history: None when either did not answer
        replicates_primary=None
        if primary_info is None or replica_info is None
        else same_history and is_replica,
    )


def _lag_seconds(
    pair: RedisPair, primary_info: Mapping[str, Any] | None, replica_info: Mapping[str, Any] | None
) -> float | None:
    if primary_info is not None and replica_info is not None:
        port = _endpoint(pair.replica).port
        for entry in _replica_entries(primary_info):
            if _int(entry.get("port")) == port and _int(entry.get("lag")) is not None:
                return float(entry["lag"])
    if replica_info is not None:
        seconds = _int(replica_info.get("master_last_io_seconds_ago"))
        if seconds is not None and seconds >= 0:
            return float(seconds)
    return None


def _lag_problem(pair: RedisPair, status: ReplicationStatus) -> str | None:
    if not status.replica_reachable:
        return f"the replica does not answer ({status.error})"
    if status.replica_role != "slave":
        return f"{status.replica} is not a replica (role {status.replica_role})"
    if status.replicates_primary is False and status.link_up:
        return (
            f"{status.replica} replicates another primary than {status.primary} "
            "(their replication ids differ)"
        )
    if status.lag_bytes is None:
        # a partition can leave the link up on the replica's side for repl-timeout (60 s)
        why = (
            "the replica's link to the primary is down"
            if not status.link_up
            else "the primary does not answer"
            if not status.primary_reachable
            else "the offsets cannot be compared"
        )
        return (
            f"{why} and its lag is unknown ({status.describe()}); writes it has not "
            "received would be lost"
        )
    if status.lag_bytes is not None and status.lag_bytes > pair.max_lag_bytes:
        return (
            f"the replica is {status.lag_bytes} bytes behind the primary "
            f"(limit {pair.max_lag_bytes} bytes; {status.describe()})"
        )
    if status.lag_seconds is not None and status.lag_seconds > pair.max_lag_seconds:
        return (
            f"the replica is {status.lag_seconds:g} s behind the primary "
            f"(limit {pair.max_lag_seconds:g} s; {status.describe()})"
        )
    return None


def check_lag(pair: RedisPair, force: bool = False) -> LagCheck:
    """Refuse when the replica is further behind than the pair's limits, or its lag is
    unknown (the link down); ``force`` accepts it (the lag is still returned and shown).

    Raises:
        FailoverError: over a limit or unknown, not forced; the message shows the lag.
    """
    status = replication_status(pair)
    problem = _lag_problem(pair, status)
    if problem is not None and not force:
        raise FailoverError(f"redis pair {pair.name!r}: {problem}; refused (force to accept)")
    return LagCheck(status, problem, forced=problem is not None)


# -- fence, promote, writable -----------------------------------------------------------------


def _masterauth(client: redis.Redis, primary_url: str) -> None:
    """Give ``client`` the credentials of the primary it is about to replicate from."""
    target = _endpoint(primary_url)
    if target.password is not None:
        client.config_set("masterauth", target.password)
    if target.username is not None:
        client.config_set("masteruser", target.username)


def fence(pair: RedisPair, force: bool = False) -> Fenced:
    """Make the old primary stop taking writes, by the pair's ``fence`` method.

    ``pause``: CLIENT PAUSE WRITE for ``pause_seconds`` (reads still served; lifted by
    :func:`reattach`). The pause ends by itself after ``pause_seconds``: the runbook must
    re-attach (or stop) the old primary within it, or it takes writes again beside the new
    primary. ``demote``: REPLICAOF the replica (writes fail with READONLY at once and for
    good; what it had not replicated is dropped); ``none``: nothing.

    Raises:
        FailoverError: the old primary does not answer (``force``: returned unreached, for a
            primary that is down).
    """
    at = time.monotonic()
    if pair.fence == "none":
        return Fenced(mask_url(pair.primary), "none", reached=False, at=at, until=None)
    try:
        with _talk(pair.primary, pair.timeout, f"fence ({pair.fence})") as client:
            if pair.fence == "pause":
                _command(client, "CLIENT", "PAUSE", str(int(pair.pause_seconds * 1000)), "WRITE")
                until: float | None = at + pair.pause_seconds
            else:
                target = _endpoint(pair.replica)
                _masterauth(client, pair.replica)
                _command(client, "REPLICAOF", target.host, str(target.port))
                until = None
    except FailoverError:
        if not force:
            raise
        return Fenced(mask_url(pair.primary), pair.fence, reached=False, at=at, until=None)
    return Fenced(mask_url(pair.primary), pair.fence, reached=True, at=at, until=until)


def promote(pair: RedisPair, force: bool = False) -> Promoted:
    """Make the replica a primary (REPLICAOF NO ONE) after :func:`check_lag`.

    Raises:
        FailoverError: the replica is not a replica (never forced), does not answer, or is
            too far behind or its lag unknown (unless ``force``).
    """
    status = replication_status(pair)
    if not status.replica_reachable:
        raise FailoverError(
            f"redis pair {pair.name!r}: the replica does not answer ({status.error})"
        )
    if status.replica_role != "slave":
        raise FailoverError(
            f"redis pair {pair.name!r}: {status.replica} is not a replica "
            f"(role {status.replica_role}); refusing to promote it"
        )
    problem = _lag_problem(pair, status)
    if problem is not None and not force:
        raise FailoverError(f"redis pair {pair.name!r}: {problem}; refused (force to accept)")
    lag = LagCheck(status, problem, forced=problem is not None)
    with _talk(pair.replica, pair.timeout, "promote (REPLICAOF NO ONE)") as client:
        _command(client, "REPLICAOF", "NO", "ONE")
        offset = _int(_info(client).get("master_repl_offset"))
    return Promoted(mask_url(pair.replica), offset, lag, at=time.monotonic())


def wait_writable(
    url: str,
    deadline: float,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
) -> Writable:
    """Wait until ``url`` accepts a write (a SET of ``buttress:failover:writable``, expiring
    in a minute), for at most ``deadline`` seconds.

    Raises:
        FailoverError: still not writable after ``deadline`` seconds (with the last error).
    """
    start = time.monotonic()
    attempts = 0
    last = "no attempt"
    client = _client(url, min(timeout, max(deadline, 0.05)))
    try:
        while True:
            attempts += 1
            try:
                client.set(WRITABLE_KEY, str(time.time()), px=60_000)
                return Writable(mask_url(url), time.monotonic() - start, attempts)
            except redis.RedisError as exc:
                last = _reason(exc)
            if time.monotonic() - start >= deadline:
                raise FailoverError(
                    f"redis {mask_url(url)}: not writable after {deadline:g} s ({last})"
                )
            sleep(_POLL)
    finally:
        client.close()


def catch_up(pair: RedisPair, timeout: float | None = None, force: bool = False) -> CaughtUp:
    """After :func:`fence`, wait until the replica has every byte the old primary wrote
    (their offsets equal), so a planned failover loses nothing even without WAIT.

    Args:
        timeout: longest wait (seconds; default the pair's ``sync_timeout``).
        force: past the timeout, return what is still missing instead of raising.

    Raises:
        FailoverError: the offsets still differ after ``timeout`` (unless ``force``).
    """
    start = time.monotonic()
    limit = pair.sync_timeout if timeout is None else timeout
    try:
        status = _wait_offsets_equal(pair, start, limit)
    except FailoverError:
        if not force:
            raise
        status = replication_status(pair)
    return CaughtUp(
        mask_url(pair.replica), status.replica_offset, time.monotonic() - start, status.lag_bytes
    )


# -- reattach and switchover -----------------------------------------------------------------


def _wait_synced(pair: RedisPair, start: float) -> ReplicationStatus:
    """Poll until ``pair.replica`` replicates ``pair.primary`` within the limits."""
    while True:
        status = replication_status(pair)
        if status.link_up and status.lag_bytes is not None and _lag_problem(pair, status) is None:
            return status
        if time.monotonic() - start > pair.sync_timeout:
            raise FailoverError(
                f"redis pair {pair.name!r}: {status.replica} did not catch up with "
                f"{status.primary} in {pair.sync_timeout:g} s ({status.describe()})"
            )
        time.sleep(_POLL * 5)


def reattach(pair: RedisPair) -> Reattached:
    """Make the old primary (``pair.primary``) a replica of the new one (``pair.replica``),
    lift a ``pause`` fence, and wait until it has synced and is within the lag limits.

    Raises:
        FailoverError: the old primary does not answer (start it first), or it did not catch
            up within ``sync_timeout``.
    """
    start = time.monotonic()
    target = _endpoint(pair.replica)
    doing = "re-attach (REPLICAOF; a server that is down must be started first)"
    with _talk(pair.primary, pair.timeout, doing) as client:
        _masterauth(client, pair.replica)
        _command(client, "REPLICAOF", target.host, str(target.port))
        _command(client, "CLIENT", "UNPAUSE")
    status = _wait_synced(pair.reversed(), start)
    return Reattached(
        mask_url(pair.primary), mask_url(pair.replica), time.monotonic() - start, status
    )


def switchover(pair: RedisPair) -> Switchover:
    """Move the primary role back to ``pair.primary`` after a failover, losing nothing:
    pause writes on ``pair.replica`` (the current primary), wait until ``pair.primary`` has
    every byte, promote it, and re-attach ``pair.replica`` as its replica.

    Raises:
        FailoverError: ``pair.primary`` is not a connected replica of ``pair.replica``, or did
            not catch up within ``sync_timeout`` (writes are resumed then).
    """
    back = pair.reversed()  # primary: the current primary; replica: the one to promote
    status = replication_status(back)
    if status.replica_role != "slave" or not status.link_up:
        raise FailoverError(
            f"redis pair {pair.name!r}: {status.replica} is not a connected replica of "
            f"{status.primary} ({status.describe()}); re-attach it first"
        )
    start = time.monotonic()
    paused = replace(back, fence="pause")
    fence(paused)
    try:
        # within the pause, or writes would resume on the old primary before the promotion
        limit = min(pair.sync_timeout, max(pair.pause_seconds - 2 * pair.timeout, 0.5))
        offset = _wait_offsets_equal(back, start, limit).replica_offset or 0
        promote(back)
    except BaseException:
        with _talk(back.primary, pair.timeout, "resume writes (CLIENT UNPAUSE)") as client:
            _command(client, "CLIENT", "UNPAUSE")
        raise
    paused_seconds = time.monotonic() - start
    reattached = reattach(back)
    return Switchover(
        mask_url(pair.primary), mask_url(pair.replica), offset, paused_seconds, reattached
    )


def _wait_offsets_equal(pair: RedisPair, start: float, limit: float) -> ReplicationStatus:
    while True:
        status = replication_status(pair)
        if status.lag_bytes == 0 and status.replica_offset is not None:
            return status
        if time.monotonic() - start > limit:
            raise FailoverError(
                f"redis pair {pair.name!r}: the replica's offset still differs from the "
                f"primary's after {limit:g} s ({status.describe()})"
            )
        time.sleep(_POLL)


# -- Sentinel ---------------------------------------------------------------------------------


def _sentinel_master(url: str, spec: SentinelSpec, timeout: float) -> str:
    with _talk(url, timeout, f"SENTINEL GET-MASTER-ADDR-BY-NAME {spec.master}") as client:
        reply = _command(client, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", spec.master)
    if not reply:
        raise FailoverError(f"sentinel {mask_url(url)}: knows no master {spec.master!r}")
    host, port = reply
    return f"{host}:{port}"


def _answering_sentinel(pair: RedisPair) -> tuple[str, str]:
    spec = pair.sentinel
    if spec is None:
        raise FailoverError(f"redis pair {pair.name!r}: no sentinel configured")
    errors = []
    for url in spec.urls:
        try:
            return url, _sentinel_master(url, spec, pair.timeout)
        except FailoverError as exc:
            errors.append(str(exc))
    raise FailoverError(f"redis pair {pair.name!r}: no sentinel answers ({'; '.join(errors)})")


def sentinel_failover(pair: RedisPair) -> SentinelFailover:
    """Ask Sentinel to fail the master over (SENTINEL FAILOVER) and wait until it reports
    another master, for at most the sentinel's ``timeout``.

    Raises:
        FailoverError: no sentinel configured or answering, Sentinel refused (no good
            replica, a failover in progress), or no new master within the timeout.
    """
    url, old = _answering_sentinel(pair)
    spec = pair.sentinel
    assert spec is not None  # _answering_sentinel checked it
    start = time.monotonic()
    with _talk(url, pair.timeout, f"SENTINEL FAILOVER {spec.master}") as client:
        _command(client, "SENTINEL", "FAILOVER", spec.master)
    while True:
        try:
            new = _sentinel_master(url, spec, pair.timeout)
        except FailoverError:
            new = old
        if new != old:
            return SentinelFailover(spec.master, mask_url(url), old, new, time.monotonic() - start)
        if time.monotonic() - start > spec.timeout:
            raise FailoverError(
                f"sentinel {mask_url(url)}: master {spec.master!r} still at {old} after "
                f"{spec.timeout:g} s"
            )
        time.sleep(_POLL * 5)


# -- repoint ----------------------------------------------------------------------------------


def repoint(pair: RedisPair, url: str | None = None) -> Repointed:
    """Tell clients the new primary (``url``, by default ``pair.replica``) by the pair's
    ``repoint`` hook: a command, an HTTP call, or a URL file rewritten atomically.

    Raises:
        FailoverError: no hook configured, or it failed (exit status, HTTP status, I/O).
    """
    from buttress.config._failover_redis import (
        RedisRepointCommand,
        RedisRepointHttp,
        RedisRepointUrlFile,
    )

    target = url or pair.replica
    hook = pair.repoint
    point = _endpoint(target)
    fields = {"host": point.host, "port": str(point.port), "url": target}
    shown = mask_url(target)
    if isinstance(hook, RedisRepointCommand):
        argv = [arg.format_map(fields) for arg in hook.argv]
        try:
            done = subprocess.run(
                argv, capture_output=True, timeout=hook.timeout, check=False, text=True
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FailoverError(f"repoint command {hook.argv[0]!r}: {_reason(exc)}") from None
        if done.returncode != 0:
            raise FailoverError(
                f"repoint command {hook.argv[0]!r} exited {done.returncode}: "
                f"{redact(done.stderr.strip()[-500:])}"
            )
        return Repointed(shown, "command", hook.argv[0])
    if isinstance(hook, RedisRepointHttp):
        import httpx

        try:
            answer = httpx.request(
                hook.method,
                hook.url,
                json={"host": point.host, "port": point.port, "url": target},
                timeout=hook.timeout,
            )
        except httpx.HTTPError as exc:
            raise FailoverError(f"repoint {mask_url(hook.url)}: {_reason(exc)}") from None
        if answer.status_code not in hook.expect_status:
            raise FailoverError(f"repoint {mask_url(hook.url)}: status {answer.status_code}")
        return Repointed(shown, "http", mask_url(hook.url))
    if isinstance(hook, RedisRepointUrlFile):
        _write_atomically(hook.path, target + "\n")
        return Repointed(shown, "url_file", str(hook.path))
    raise FailoverError(f"redis pair {pair.name!r}: no repoint configured")


def _write_atomically(path: Path, text: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise FailoverError(f"repoint file {path}: {exc.strerror or exc}") from None
