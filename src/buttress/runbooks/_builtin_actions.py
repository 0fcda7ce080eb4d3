"""The built-in actions (see :mod:`.actions`), through the same services the API, the CLI
and incidents' automated actions use: degradation overrides in the catalog, breakers of the
process's resilience registry, :class:`~buttress.backup.service.Backups`, the health checks.
Each change is audited as the runbook's actor."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from buttress.config._base import Section
from buttress.config._types import PositiveDuration
from buttress.errors import ButtressError
from buttress.runbooks.actions import ActionContext, ActionSpec
from buttress.runbooks.errors import StepError

if TYPE_CHECKING:
    from buttress.backup.service import Backups, RunView
    from buttress.catalog import Catalog

__all__ = ["BUILTIN"]

_MAX_HOLD = 366 * 86400.0  # as the API's override: a longer hold is a mistake


class DegradationSetParams(Section):
    """`degradation.set`: hold a level (an override, as `buttress level set` makes)."""

    level: str = Field(min_length=1)
    for_: PositiveDuration = Field(default=1800.0, alias="for", le=_MAX_HOLD)
    reason: str = Field(default="", max_length=1000)


class NoParams(Section):
    """An action without parameters."""


class BreakerForceParams(Section):
    """`breaker.force`: a policy's breaker open, closed, or back to automatic."""

    policy: str = Field(min_length=1)
    state: Literal["open", "closed", "auto"]


class BackupRunParams(Section):
    """`backup.run`: back a target up now and wait for it."""

    target: str = Field(min_length=1)


class _OneBackup(Section):
    target: str | None = None
    backup_id: str | None = None

    @model_validator(mode="after")
    def _one(self) -> _OneBackup:
        if self.target is None and self.backup_id is None:
            raise ValueError("name a `target` (its newest good backup) or a `backup_id`")
        return self


class BackupVerifyParams(_OneBackup):
    """`backup.verify`: check a backup's objects (and restore-test it)."""

    restore_test: bool = False


class BackupRestoreParams(_OneBackup):
    """`backup.restore`: restore a backup (into another place with `into`)."""

    into: str | None = Field(default=None, description="Where to (the CLI's --to).")
    database: str | None = None
    force: bool = False


class HealthWaitParams(Section):
    """`health.wait`: until the health score is at least `score`, or check `check` is in
    `state`; at most `deadline`."""

    score: float | None = Field(default=None, ge=0, le=100)
    check: str | None = None
    state: Literal["up", "degraded", "down"] = "up"
    deadline: PositiveDuration = 300.0
    every: PositiveDuration = 1.0

    @model_validator(mode="after")
    def _one(self) -> HealthWaitParams:
        if (self.score is None) == (self.check is None):
            raise ValueError("give `score` or `check`, one of the two")
        return self


def _catalog(ctx: ActionContext) -> Catalog:
    if ctx.catalog is None:
        raise StepError("this action needs the catalog, and the run has none")
    return ctx.catalog


def _audit(ctx: ActionContext, action: str, target: str, detail: dict[str, Any]) -> None:
    from buttress.catalog import audit

    with _catalog(ctx).begin() as session:
        audit.record(
            session=session, actor=ctx.actor, action=action, target=target, outcome="success",
            detail={**detail, "runbook_run": ctx.run_id},
        )  # fmt: skip


# -- degradation ---------------------------------------------------------------------------


def _levels(ctx: ActionContext) -> list[str]:
    section = ctx.config.health.degradation
    return list(section.names) if section is not None else []


def _set_plan(ctx: ActionContext, p: DegradationSetParams) -> tuple[str, list[str]]:
    problems = [] if ctx.catalog is not None else ["no catalog: the override cannot be kept"]
    names = _levels(ctx)
    if p.level not in names and not p.level.startswith("<"):
        problems.append(f"unknown level {p.level!r}; the levels are {', '.join(names) or 'none'}")
    return f"hold degradation level {p.level} for {p.for_:g}s", problems


def _set(ctx: ActionContext, p: DegradationSetParams) -> dict[str, Any]:
    from buttress.catalog import audit
    from buttress.degradation import overrides

    names = _levels(ctx)
    if p.level not in names:
        raise StepError(f"unknown level {p.level!r}; the levels are {', '.join(names) or 'none'}")
    reason = p.reason or f"runbook run {ctx.run_id}"
    with _catalog(ctx).begin() as session:
        record = overrides.create(
            session=session, level=p.level, reason=reason, seconds=p.for_, actor=ctx.actor
        )
        audit.record(
            session=session, actor=ctx.actor, action="level.override", outcome="success",
            target=f"level={p.level}",
            detail={"for_seconds": p.for_, "reason": record.reason, "runbook_run": ctx.run_id},
        )  # fmt: skip
    return {"override": record.id, "level": p.level, "expires_at": str(record.expires_at)}


def _clear_plan(ctx: ActionContext, p: NoParams) -> tuple[str, list[str]]:
    problems = [] if ctx.catalog is not None else ["no catalog: nothing to clear"]
    return "clear every degradation level override in force", problems


def _clear(ctx: ActionContext, p: NoParams) -> dict[str, Any]:
    from buttress.catalog import audit
    from buttress.degradation import overrides

    with _catalog(ctx).begin() as session:
        cleared = overrides.clear(session=session, actor=ctx.actor)
        audit.record(
            session=session, actor=ctx.actor, action="level.clear", outcome="success",
            detail={"cleared": [r.id for r in cleared], "runbook_run": ctx.run_id},
        )  # fmt: skip
    return {"cleared": len(cleared)}


# -- resilience ----------------------------------------------------------------------------


def _breaker_plan(ctx: ActionContext, p: BreakerForceParams) -> tuple[str, list[str]]:
    problems = []
    if p.policy not in ctx.config.resilience.policies:
        known = ", ".join(sorted(ctx.config.resilience.policies)) or "none"
        problems.append(f"no resilience policy {p.policy!r} (policies: {known})")
    if ctx.policies is None:
        problems.append("no resilience registry in this process: run it in the control plane")
    what = "back to automatic" if p.state == "auto" else p.state
    return f"force the circuit breaker of resilience policy {p.policy} {what}", problems


def _breaker(ctx: ActionContext, p: BreakerForceParams) -> dict[str, Any]:
    from buttress.resilience.circuit_breaker import CircuitBreaker

    if ctx.policies is None:
        raise StepError("no resilience registry in this process: run it in the control plane")
    try:
        pipeline = ctx.policies().get(p.policy)
    except KeyError as exc:  # UnknownPolicyError
        raise StepError(str(exc.args[0] if exc.args else exc)) from None
    breaker = next((x for x in pipeline.policies if isinstance(x, CircuitBreaker)), None)
    if breaker is None:
        raise StepError(f"resilience policy {p.policy!r} has no circuit breaker")
    {"open": breaker.force_open, "closed": breaker.force_closed, "auto": breaker.reset}[p.state]()
    _audit(ctx, "resilience.breaker", f"policy={p.policy}", {"action": f"force_{p.state}"})
    return {"policy": p.policy, "state": str(breaker.state)}


# -- backup --------------------------------------------------------------------------------


def _backups(ctx: ActionContext) -> Backups:
    from buttress.backup.service import Backups

    return Backups(ctx.config.backup, _catalog(ctx))


def _target_problems(ctx: ActionContext, target: str | None) -> list[str]:
    names = [t.name for t in ctx.config.backup.targets]
    if target is not None and target not in names and not target.startswith("<"):
        return [f"no backup target {target!r} (targets: {', '.join(names) or 'none'})"]
    return []


def _newest_good(backups: Backups, target: str) -> RunView:
    good = next((r for r in backups.runs(target) if r.status == "succeeded"), None)
    if good is None:
        raise StepError(f"target {target} has no good backup")
    return good


def _backup_run_plan(ctx: ActionContext, p: BackupRunParams) -> tuple[str, list[str]]:
    problems = _target_problems(ctx, p.target)
    if ctx.catalog is None:
        problems.append("no catalog: the run cannot be recorded")
    elif not problems:
        running = _backups(ctx).running(p.target)
        if running is not None:
            problems.append(f"target {p.target} is being backed up now (run {running.id})")
    return f"back up target {p.target} and wait for it", problems


def _backup_run(ctx: ActionContext, p: BackupRunParams) -> dict[str, Any]:
    backups = _backups(ctx)
    backup_id = backups.start(p.target, trigger=ctx.actor)
    _audit(ctx, "backup.run", f"target={p.target},backup_id={backup_id}", {"trigger": ctx.actor})
    view = backups.run(p.target, backup_id, trigger=ctx.actor)
    if view.status != "succeeded":
        raise StepError(f"backup {backup_id} of {p.target} {view.status}: {view.error}")
    return {"backup_id": view.id, "status": view.status, "stored_size": view.stored_size}


def _which(ctx: ActionContext, p: _OneBackup) -> str:
    if p.backup_id is not None:
        return p.backup_id
    return _newest_good(_backups(ctx), p.target or "").id


def _one_plan(ctx: ActionContext, p: _OneBackup) -> list[str]:
    problems = _target_problems(ctx, p.target)
    if ctx.catalog is None:
        return [*problems, "no catalog: no backup to find"]
    if problems:
        return problems
    try:
        _which(ctx, p)
    except (StepError, ButtressError) as exc:
        problems.append(str(exc))
    return problems


def _verify_plan(ctx: ActionContext, p: BackupVerifyParams) -> tuple[str, list[str]]:
    what = p.backup_id or f"the newest good backup of {p.target}"
    test = " with a restore test" if p.restore_test else ""
    return f"verify {what}{test}", _one_plan(ctx, p)


def _verify(ctx: ActionContext, p: BackupVerifyParams) -> dict[str, Any]:
    backups = _backups(ctx)
    backup_id = _which(ctx, p)
    _view, job = backups.start_check(backup_id, restore=p.restore_test)
    _audit(ctx, "backup.verify", f"backup_id={backup_id}", {"restore_test": p.restore_test})
    result = backups.check(backup_id, restore=p.restore_test, job=job)
    if not result.ok:
        raise StepError(f"backup {backup_id} failed verify: {'; '.join(result.problems[:5])}")
    return {"backup_id": backup_id, "ok": True}


def _restore_plan(ctx: ActionContext, p: BackupRestoreParams) -> tuple[str, list[str]]:
    what = p.backup_id or f"the newest good backup of {p.target}"
    where = f" into {p.into}" if p.into else " in place"
    return f"restore {what}{where}", _one_plan(ctx, p)


def _restore(ctx: ActionContext, p: BackupRestoreParams) -> dict[str, Any]:
    backups = _backups(ctx)
    backup_id = _which(ctx, p)
    _audit(ctx, "backup.restore", f"backup_id={backup_id}", {"to": p.into, "database": p.database})
    went = backups.restore(backup_id, to=p.into, database=p.database, force=p.force)
    return {"backup_id": backup_id, "restored_to": went}


# -- health --------------------------------------------------------------------------------


def _health_plan(ctx: ActionContext, p: HealthWaitParams) -> tuple[str, list[str]]:
    names = [c.name for c in ctx.config.health.checks]
    problems = [] if names else ["no health checks are configured"]
    if p.check is not None and p.check not in names:
        problems = [f"no health check {p.check!r} (checks: {', '.join(names) or 'none'})"]
    what = f"health score >= {p.score:g}" if p.score is not None else f"check {p.check} {p.state}"
    return f"wait until {what} (at most {p.deadline:g}s)", problems


def _health(ctx: ActionContext, p: HealthWaitParams) -> dict[str, Any]:
    from buttress.health.build import build_checks
    from buttress.health.checks.base import run_check
    from buttress.health.monitor import availability, score

    checks = build_checks(ctx.config.health, ctx.config.base_dir)
    if p.check is not None:
        checks = [c for c in checks if c.name == p.check]
        if not checks:
            raise StepError(f"no health check {p.check!r}")
    if not checks:
        raise StepError("no health checks are configured")

    async def once() -> list[Any]:
        return list(await asyncio.gather(*(run_check(c) for c in checks)))

    deadline = p.deadline if ctx.timeout is None else min(p.deadline, ctx.timeout)
    start = time.monotonic()
    while True:
        results = asyncio.run(once())
        if p.check is not None:
            state = str(results[0].status)
            if state == p.state:
                return {"check": p.check, "state": state, "waited": time.monotonic() - start}
            last = f"check {p.check} is {state}"
        else:
            got = score(
                [(c.weight, availability([r])) for c, r in zip(checks, results, strict=True)]
            )
            if got is not None and got >= (p.score or 0):
                return {"score": got, "waited": time.monotonic() - start}
            last = f"score {got}"
        if time.monotonic() - start + p.every > deadline:
            raise StepError(f"not reached within {deadline:g}s ({last})", status="timed_out")
        time.sleep(p.every)


BUILTIN: tuple[ActionSpec, ...] = (
    ActionSpec("degradation.set", DegradationSetParams, _set, _set_plan),
    ActionSpec("degradation.clear", NoParams, _clear, _clear_plan),
    ActionSpec("breaker.force", BreakerForceParams, _breaker, _breaker_plan),
    ActionSpec("backup.run", BackupRunParams, _backup_run, _backup_run_plan),
    ActionSpec("backup.verify", BackupVerifyParams, _verify, _verify_plan),
    ActionSpec("backup.restore", BackupRestoreParams, _restore, _restore_plan),
    ActionSpec("health.wait", HealthWaitParams, _health, _health_plan),
)
