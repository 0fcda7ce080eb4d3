"""The dry-run twins of the Redis failover steps (:mod:`.redis`): what each would do, and
whether the servers it needs answer (INFO replication, read only); nothing is changed.

.. versionadded:: 0.9
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import redis

from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.redis import (
    DEFAULT_TIMEOUT,
    WRITABLE_KEY,
    RedisPair,
    _client,
    _endpoint,
    _info,
    _reason,
    _sentinel_master,
)
from buttress.secrets import mask_url

__all__ = [
    "Plan",
    "Probe",
    "plan_catch_up",
    "plan_check_lag",
    "plan_fence",
    "plan_promote",
    "plan_reattach",
    "plan_replication_status",
    "plan_repoint",
    "plan_sentinel_failover",
    "plan_switchover",
    "plan_wait_writable",
]


@dataclass(frozen=True, slots=True)
class Probe:
    """A dry run's look at one server: did it answer, and what is it."""

    server: str
    reachable: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What a step would do, and whether the servers it needs answer; changes nothing."""

    step: str
    actions: tuple[str, ...]
    probes: tuple[Probe, ...]

    @property
    def ready(self) -> bool:
        """Every server the step needs answered."""
        return all(probe.reachable for probe in self.probes)


# -- plans ----------------------------------------------------------------------------------


def _probe(url: str, timeout: float) -> Probe:
    client = _client(url, timeout)
    try:
        info = _info(client)
    except redis.RedisError as exc:
        return Probe(mask_url(url), False, _reason(exc))
    finally:
        client.close()
    role = str(info.get("role"))
    detail = f"role {role}, offset {info.get('master_repl_offset')}"
    if role == "slave":
        detail += f", link {info.get('master_link_status')}"
    return Probe(mask_url(url), True, detail)


def _plan(step: str, actions: list[str], urls: list[str], timeout: float) -> Plan:
    return Plan(step, tuple(actions), tuple(_probe(url, timeout) for url in urls))


def plan_replication_status(pair: RedisPair) -> Plan:
    """What :func:`replication_status` reads."""
    p, r = mask_url(pair.primary), mask_url(pair.replica)
    return _plan(
        "replication_status",
        [f"INFO replication on {p} and {r}"],
        [pair.primary, pair.replica],
        pair.timeout,
    )


def plan_check_lag(pair: RedisPair, force: bool = False) -> Plan:
    """What :func:`check_lag` would compare."""
    limits = f"{pair.max_lag_bytes} bytes, {pair.max_lag_seconds:g} s"
    then = "accept any lag (forced)" if force else "refuse when over"
    return _plan(
        "check_lag",
        [
            f"compare the replication offsets of {mask_url(pair.replica)} to its primary: "
            f"limits {limits}; {then}"
        ],
        [pair.primary, pair.replica],
        pair.timeout,
    )


def plan_fence(pair: RedisPair, force: bool = False) -> Plan:
    """What :func:`fence` would do to the old primary."""
    p = mask_url(pair.primary)
    action = {
        "pause": f"CLIENT PAUSE {int(pair.pause_seconds * 1000)} WRITE on {p}",
        "demote": f"REPLICAOF {_endpoint(pair.replica).host} {_endpoint(pair.replica).port} on {p}",
        "none": f"nothing (fence: none); {p} keeps taking writes",
    }[pair.fence]
    if force:
        action += " (an unreachable primary is accepted)"
    return _plan("fence", [action], [pair.primary] if pair.fence != "none" else [], pair.timeout)


def plan_promote(pair: RedisPair, force: bool = False) -> Plan:
    """What :func:`promote` would do."""
    r = mask_url(pair.replica)
    return _plan(
        "promote",
        [
            f"check {r} is a replica within the lag limits{' (forced)' if force else ''}",
            f"REPLICAOF NO ONE on {r}",
        ],
        [pair.primary, pair.replica],
        pair.timeout,
    )


def plan_wait_writable(url: str, deadline: float, *, timeout: float = DEFAULT_TIMEOUT) -> Plan:
    """What :func:`wait_writable` would do."""
    return _plan(
        "wait_writable",
        [f"SET {WRITABLE_KEY} on {mask_url(url)} until it succeeds, at most {deadline:g} s"],
        [url],
        timeout,
    )


def plan_catch_up(pair: RedisPair, timeout: float | None = None) -> Plan:
    """What :func:`catch_up` would wait for."""
    limit = pair.sync_timeout if timeout is None else timeout
    return _plan(
        "catch_up",
        [f"wait until {mask_url(pair.replica)} has the primary's offset, at most {limit:g} s"],
        [pair.primary, pair.replica],
        pair.timeout,
    )


def plan_reattach(pair: RedisPair) -> Plan:
    """What :func:`reattach` would do."""
    target = _endpoint(pair.replica)
    p = mask_url(pair.primary)
    return _plan(
        "reattach",
        [
            f"REPLICAOF {target.host} {target.port} on {p}, then CLIENT UNPAUSE",
            f"wait until it has synced, at most {pair.sync_timeout:g} s",
        ],
        [pair.primary, pair.replica],
        pair.timeout,
    )


def plan_switchover(pair: RedisPair) -> Plan:
    """What :func:`switchover` would do."""
    p, r = mask_url(pair.primary), mask_url(pair.replica)
    return _plan(
        "switchover",
        [
            f"CLIENT PAUSE {int(pair.pause_seconds * 1000)} WRITE on {r}",
            f"wait until {p} has {r}'s offset, at most {pair.sync_timeout:g} s",
            f"REPLICAOF NO ONE on {p}",
            f"REPLICAOF {_endpoint(pair.primary).host} {_endpoint(pair.primary).port} on {r}, "
            "then CLIENT UNPAUSE, and wait until it has synced",
        ],
        [pair.primary, pair.replica],
        pair.timeout,
    )


def plan_sentinel_failover(pair: RedisPair) -> Plan:
    """What :func:`sentinel_failover` would ask, and whether the Sentinels answer."""
    spec = pair.sentinel
    if spec is None:
        return Plan("sentinel_failover", ("nothing: no sentinel configured",), ())
    probes = []
    for url in spec.urls:
        try:
            probes.append(
                Probe(mask_url(url), True, f"master at {_sentinel_master(url, spec, pair.timeout)}")
            )
        except FailoverError as exc:
            probes.append(Probe(mask_url(url), False, str(exc)))
    actions = (
        f"SENTINEL FAILOVER {spec.master} on the first sentinel that answers",
        f"wait until it reports another master, at most {spec.timeout:g} s",
    )
    return Plan("sentinel_failover", actions, tuple(probes))


def plan_repoint(pair: RedisPair, url: str | None = None) -> Plan:
    """What :func:`repoint` would do (a command: whether its program exists)."""
    from buttress.config._failover_redis import RedisRepointCommand, RedisRepointHttp

    hook = pair.repoint
    shown = mask_url(url or pair.replica)
    if isinstance(hook, RedisRepointCommand):
        found = shutil.which(hook.argv[0]) is not None
        probe = Probe(hook.argv[0], found, "found" if found else "program not found")
        return Plan("repoint", (f"run {hook.argv[0]!r} with the new primary {shown}",), (probe,))
    if isinstance(hook, RedisRepointHttp):
        return Plan(
            "repoint", (f"{hook.method} {mask_url(hook.url)} with the new primary {shown}",), ()
        )
    if hook is not None:
        parent = hook.path.parent
        ok = parent.is_dir() and os.access(parent, os.W_OK)
        probe = Probe(str(hook.path), ok, "writable" if ok else "its directory is not writable")
        return Plan("repoint", (f"write {shown} into {hook.path} (atomically)",), (probe,))
    return Plan("repoint", ("nothing: no repoint configured",), ())
