"""The steps that reach other things: http, sql, action, and check (a probe and a tolerance)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from buttress.runbooks.errors import StepError

if TYPE_CHECKING:
    from buttress.config._runbooks import SqlStep, StepConfig, WaitStep
    from buttress.runbooks._render import Masker, Renderer
    from buttress.runbooks.actions import ActionContext
    from buttress.runbooks.engine import Engine, StepResult


def attempt(
    engine: Engine, renderer: Renderer, masker: Masker, step: StepConfig, *, run_id: str
) -> StepResult:
    raise StepError(f"{step.kind} steps are not available yet")


def wait_until(
    engine: Engine, renderer: Renderer, masker: Masker, spec: WaitStep, *, run_id: str
) -> StepResult:
    raise StepError("wait until is not available yet")


def dsn_of(engine: Engine, spec: SqlStep, renderer: Renderer) -> str:
    raise StepError("sql steps are not available yet")


def connect_only(dsn: str) -> str | None:
    return "sql steps are not available yet"


def context(engine: Engine, *, run_id: str) -> ActionContext:
    from buttress.runbooks.actions import ActionContext

    return ActionContext(engine.config, engine.catalog, engine.actor, run_id, engine.policies)


_: Any = None
