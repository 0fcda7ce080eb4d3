"""The failover steps as runbook actions: ``postgresql.*`` and ``redis.*``, each on a pair
named in ``runbooks.failover`` (``with: {pair: orders}``).

A pair is written the way it normally runs (``primary`` is the primary). ``swapped: true``
takes it the other way round, as it stands after a failover (the replica promoted): the
steps of a runbook that fails back over a pair failed over before use it. Every action
returns what its step found (the values later steps' templates read, e.g.
``steps.lag.bytes``); its dry run says what it would do and which server does not answer.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from buttress.runbooks.actions import ActionContext, ActionSpec
from buttress.runbooks.failover.errors import FailoverError
from buttress.secrets import mask_dsn

if TYPE_CHECKING:
    from buttress.config._failover_pg import PostgresPairConfig
    from buttress.runbooks.failover._pgnode import Plan as PgPlan
    from buttress.runbooks.failover.redis import RedisPair
    from buttress.runbooks.failover.redis_plans import Plan as RedisPlan

__all__ = ["FAILOVER_ACTIONS"]


class _Pair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pair: str = Field(description="A pair of runbooks.failover (postgresql or redis).")
    swapped: bool = Field(
        default=False, description="Take the pair as it stands after a failover (roles swapped)."
    )


class _Forced(_Pair):
    force: bool = Field(default=False, description="Go ahead over the lag limits (loses data).")


class _Timed(_Pair):
    timeout: float | None = Field(
        default=None, gt=0, description="Seconds (default: the pair's own limit)."
    )


class _TimedForced(_Timed, _Forced):
    pass


class _Since(_Pair):
    since: float | None = Field(
        default=None,
        description="time.monotonic() of the fence (steps.fence.started_at): the failover "
        "time is measured from it to this committed write.",
    )


def _values(found: Any) -> dict[str, Any]:
    if found is None:
        return {}
    if dataclasses.is_dataclass(found) and not isinstance(found, type):
        return dataclasses.asdict(found)
    return {"value": found}


# -- PostgreSQL ------------------------------------------------------------------------------


def _pg(ctx: ActionContext, params: _Pair) -> PostgresPairConfig:
    from buttress.runbooks.failover.postgres import swapped

    pairs = ctx.config.runbooks.failover.postgresql
    if params.pair not in pairs:
        known = ", ".join(sorted(pairs)) or "none (runbooks.failover.postgresql is empty)"
        raise FailoverError(f"no PostgreSQL pair {params.pair!r}; the pairs are {known}")
    pair = pairs[params.pair]
    return swapped(pair) if params.swapped else pair


def _pg_plan(plan: PgPlan | list[PgPlan]) -> tuple[str, list[str]]:
    plans = plan if isinstance(plan, list) else [plan]
    actions = [a for p in plans for a in p.actions]
    problems = [f"{p.step}: {problem}" for p in plans for problem in p.problems]
    return "; ".join(actions), problems


def _pg_lag(ctx: ActionContext, params: _Forced) -> dict[str, Any]:
    from buttress.runbooks.failover.postgres import check_lag

    return _values(check_lag(_pg(ctx, params), force=params.force))


def _pg_fence(ctx: ActionContext, params: _Forced) -> dict[str, Any]:
    from buttress.runbooks.failover.postgres import fence

    return _values(fence(_pg(ctx, params), force=params.force))


def _pg_unfence(ctx: ActionContext, params: _Pair) -> dict[str, Any]:
    from buttress.runbooks.failover._pgnode import Node
    from buttress.runbooks.failover.postgres import unfence

    pair = _pg(ctx, params)
    replica = Node(pair.replica)
    try:  # two primaries would take writes apart: never unfence once the replica is promoted
        row = replica.query("SELECT pg_is_in_recovery()")
    except FailoverError as exc:
        raise FailoverError(
            f"the primary stays fenced: cannot tell whether {replica.name} was promoted ({exc})"
        ) from None
    if not row or not row[0]:
        raise FailoverError(
            f"the primary stays fenced: {replica.name} is no longer a standby (it was promoted); "
            "unfencing would make two primaries"
        )
    unfence(pair)
    return {"unfenced": True}


def _pg_write_check(ctx: ActionContext, params: _Since) -> dict[str, Any]:
    import time

    from buttress.runbooks.failover._pgnode import Node

    node = Node(_pg(ctx, params).replica)
    started = time.monotonic()
    state = node.query("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")
    if state is None or state[0] or state[1] == "on":
        why = "still in recovery" if state and state[0] else "read-only"
        raise FailoverError(f"{node.name} takes no writes: it is {why}")
    # an xid assigned and its commit record written (and, with synchronous_commit, sent to
    # a synchronous standby): a committed write that touches no table
    row = node.query("SELECT pg_current_xact_id()::text")
    now = time.monotonic()
    found: dict[str, Any] = {"server": node.name, "xid": row[0] if row else None}
    found["seconds"] = now - started
    # the same process's clock only (a resumed run is another process: not measured)
    if params.since is not None and 0 <= now - params.since < 86400:
        found["failover_seconds"] = now - params.since
    return found


def _pg_catch_up(ctx: ActionContext, params: _Timed) -> dict[str, Any]:
    from buttress.runbooks.failover.postgres import catch_up

    pair = _pg(ctx, params)
    missing = catch_up(pair, params.timeout or pair.max_lag_seconds)
    return {"missing_bytes": missing}


def _pg_promote(ctx: ActionContext, params: _Forced) -> dict[str, Any]:
    from buttress.runbooks.failover.postgres import promote

    return _values(promote(_pg(ctx, params), force=params.force))


def _pg_writable(ctx: ActionContext, params: _Timed) -> dict[str, Any]:
    from buttress.runbooks.failover.postgres import wait_writable

    pair = _pg(ctx, params)
    return _values(wait_writable(pair.replica.dsn, params.timeout or pair.promote_timeout))


def _pg_repoint(ctx: ActionContext, params: _Pair) -> dict[str, Any]:
    from buttress.runbooks.failover.pg_repoint import repoint

    pair = _pg(ctx, params)
    return _values(repoint(pair, pair.replica.dsn))


def _pg_failback(ctx: ActionContext, params: _Pair) -> dict[str, Any]:
    from buttress.runbooks.failover.pg_failback import failback

    return _values(failback(_pg(ctx, params)))


def _pg_switchover(ctx: ActionContext, params: _Forced) -> dict[str, Any]:
    from buttress.runbooks.failover.pg_failback import switchover

    return _values(switchover(_pg(ctx, params), force=params.force))


def _pg_plan_of(name: str) -> Any:
    def plan(ctx: ActionContext, params: _Pair) -> tuple[str, list[str]]:
        from buttress.runbooks.failover import pg_failback, pg_repoint, postgres

        try:
            pair = _pg(ctx, params)
        except FailoverError as exc:
            return f"{name} on pair {params.pair}", [str(exc)]
        force = bool(getattr(params, "force", False))
        if name == "lag":
            return _pg_plan(postgres.plan_check_lag(pair))
        if name in ("fence", "unfence"):
            what, problems = _pg_plan(postgres.plan_fence(pair))
            if name == "unfence":
                what = f"on {mask_dsn(pair.primary.dsn)}: undo the fence ({pair.fence})"
            return what, problems
        if name in ("promote", "catch_up", "writable"):
            what, problems = _pg_plan(postgres.plan_promote(pair, force=force))
            if name == "catch_up":
                what = f"wait until {mask_dsn(pair.replica.dsn)} replayed what it received"
            elif name == "writable":
                what = f"wait until {mask_dsn(pair.replica.dsn)} takes writes"
            return what, problems
        if name == "repoint":
            return _pg_plan(pg_repoint.plan_repoint(pair, pair.replica.dsn))
        if name == "write_check":
            from buttress.runbooks.failover._pgnode import Node

            node, problems = Node(pair.replica), []
            try:
                node.query("SELECT 1")
            except FailoverError as exc:
                problems.append(str(exc))
            return f"on {node.name}: a committed transaction (pg_current_xact_id())", problems
        if name == "failback":
            return _pg_plan(pg_failback.plan_failback(pair))
        return _pg_plan(pg_failback.plan_switchover(pair))

    return plan


# -- Redis -----------------------------------------------------------------------------------


def _redis(ctx: ActionContext, params: _Pair) -> RedisPair:
    from buttress.runbooks.failover.redis import RedisPair

    pairs = ctx.config.runbooks.failover.redis
    if params.pair not in pairs:
        known = ", ".join(sorted(pairs)) or "none (runbooks.failover.redis is empty)"
        raise FailoverError(f"no Redis pair {params.pair!r}; the pairs are {known}")
    pair = RedisPair.from_config(params.pair, pairs[params.pair])
    return pair.reversed() if params.swapped else pair


def _redis_plan(plan: RedisPlan) -> tuple[str, list[str]]:
    problems = [f"{p.server}: does not answer ({p.detail})" for p in plan.probes if not p.reachable]
    return "; ".join(plan.actions), problems


def _redis_run(name: str) -> Any:
    def run(ctx: ActionContext, params: _Pair) -> dict[str, Any]:
        from buttress.runbooks.failover import redis

        pair = _redis(ctx, params)
        force = bool(getattr(params, "force", False))
        timeout = getattr(params, "timeout", None)
        if name == "lag":
            return _values(redis.check_lag(pair, force=force))
        if name == "fence":
            return _values(redis.fence(pair, force=force))
        if name == "catch_up":
            return _values(redis.catch_up(pair, timeout, force=force))
        if name == "promote":
            return _values(redis.promote(pair, force=force))
        if name == "writable":
            return _values(redis.wait_writable(pair.replica, timeout or pair.timeout))
        if name == "repoint":
            return _values(redis.repoint(pair))
        if name == "reattach":
            return _values(redis.reattach(pair))
        if name == "switchover":
            return _values(redis.switchover(pair))
        return _values(redis.sentinel_failover(pair))

    return run


def _redis_plan_of(name: str) -> Any:
    def plan(ctx: ActionContext, params: _Pair) -> tuple[str, list[str]]:
        from buttress.runbooks.failover import redis_plans as plans

        try:
            pair = _redis(ctx, params)
        except FailoverError as exc:
            return f"{name} on pair {params.pair}", [str(exc)]
        force = bool(getattr(params, "force", False))
        timeout = getattr(params, "timeout", None)
        if name == "lag":
            return _redis_plan(plans.plan_check_lag(pair, force=force))
        if name == "fence":
            return _redis_plan(plans.plan_fence(pair, force=force))
        if name == "catch_up":
            return _redis_plan(plans.plan_catch_up(pair, timeout))
        if name == "promote":
            return _redis_plan(plans.plan_promote(pair, force=force))
        if name == "writable":
            return _redis_plan(plans.plan_wait_writable(pair.replica, timeout or pair.timeout))
        if name == "repoint":
            return _redis_plan(plans.plan_repoint(pair))
        if name == "reattach":
            return _redis_plan(plans.plan_reattach(pair))
        if name == "switchover":
            return _redis_plan(plans.plan_switchover(pair))
        return _redis_plan(plans.plan_sentinel_failover(pair))

    return plan


_PG: list[tuple[str, type[BaseModel], Any, str]] = [
    ("lag", _Forced, _pg_lag, "Check the replica's lag (bytes, seconds) against the limits."),
    ("fence", _Forced, _pg_fence, "Make the primary refuse writes (read_only, stop, command)."),
    ("unfence", _Pair, _pg_unfence, "Undo the fence (a failed failover's rollback)."),
    ("catch_up", _Timed, _pg_catch_up, "Wait until the replica replayed what it received."),
    ("promote", _Forced, _pg_promote, "Promote the replica (pg_promote); refuses a non-replica."),
    ("writable", _Timed, _pg_writable, "Wait until the promoted server takes writes."),
    ("repoint", _Pair, _pg_repoint, "Send clients to the replica (command, HTTP or DSN file)."),
    ("write_check", _Since, _pg_write_check, "A committed write on the promoted server."),
    ("failback", _Pair, _pg_failback, "Rebuild the old primary as a standby (pg_rewind, clone)."),
    ("switchover", _Forced, _pg_switchover, "Planned switch back to the pair's primary."),
]

_REDIS: list[tuple[str, type[BaseModel], str]] = [
    ("lag", _Forced, "Check the replica's replication offset and link against the limits."),
    ("fence", _Forced, "Stop writes on the primary (CLIENT PAUSE WRITE or demote)."),
    ("catch_up", _TimedForced, "Wait until the replica has the fenced primary's offset."),
    ("promote", _Forced, "REPLICAOF NO ONE on the replica; refuses a non-replica."),
    ("writable", _Timed, "Wait until the promoted server takes writes."),
    ("repoint", _Pair, "Send clients to the replica (command, HTTP or URL file)."),
    ("reattach", _Pair, "Make the old primary a replica of the new one and wait for sync."),
    ("switchover", _Pair, "Planned switch back to the pair's primary (pause, sync, promote)."),
    ("sentinel_failover", _Pair, "Ask Sentinel to fail the master over (SENTINEL FAILOVER)."),
]

FAILOVER_ACTIONS: tuple[ActionSpec, ...] = (
    *(
        ActionSpec(f"postgresql.{name}", model, run=run, plan=_pg_plan_of(name), description=doc)
        for name, model, run, doc in _PG
    ),
    *(
        ActionSpec(
            f"redis.{name}",
            model,
            run=_redis_run(name),
            plan=_redis_plan_of(name),
            description=doc,
        )
        for name, model, doc in _REDIS
    ),
)
"""Every failover action (registered with the built-in ones)."""
