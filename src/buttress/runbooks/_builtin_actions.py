"""The built-in actions: degradation, breakers, backups, health (see :mod:`.actions`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from buttress.config._base import Section
from buttress.config._types import PositiveDuration
from buttress.runbooks.actions import ActionContext, ActionSpec
from buttress.runbooks.errors import StepError

__all__ = ["BUILTIN"]


class DegradationSetParams(Section):
    level: str = Field(min_length=1)
    for_: PositiveDuration = Field(default=1800.0, alias="for")
    reason: str = ""


class NoParams(Section):
    pass


class BreakerForceParams(Section):
    policy: str = Field(min_length=1)
    state: Literal["open", "closed", "auto"]


class BackupRunParams(Section):
    target: str = Field(min_length=1)


class BackupVerifyParams(Section):
    target: str | None = None
    backup_id: str | None = None
    restore_test: bool = False


class BackupRestoreParams(Section):
    target: str | None = None
    backup_id: str | None = None
    into: str | None = None


class HealthWaitParams(Section):
    score: float | None = Field(default=None, description="Wait until the score is at least this.")
    check: str | None = None
    state: str | None = None
    deadline: PositiveDuration = 300.0
    every: PositiveDuration = 1.0


def _todo(ctx: ActionContext, params: Any) -> dict[str, Any]:
    raise StepError("this action is not available yet")


def _plan_todo(ctx: ActionContext, params: Any) -> tuple[str, list[str]]:
    return ("(not available yet)", ["this action is not available yet"])


BUILTIN: tuple[ActionSpec, ...] = (
    ActionSpec("degradation.set", DegradationSetParams, _todo, _plan_todo),
    ActionSpec("degradation.clear", NoParams, _todo, _plan_todo),
    ActionSpec("breaker.force", BreakerForceParams, _todo, _plan_todo),
    ActionSpec("backup.run", BackupRunParams, _todo, _plan_todo),
    ActionSpec("backup.verify", BackupVerifyParams, _todo, _plan_todo),
    ActionSpec("backup.restore", BackupRestoreParams, _todo, _plan_todo),
    ActionSpec("health.wait", HealthWaitParams, _todo, _plan_todo),
)
