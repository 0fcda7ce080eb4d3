"""The validation step's check of ``runbooks:`` (registered by
:func:`buttress.config_checks.register_domain_checks`): every action a step calls exists and
its ``with:`` fits that action's parameters; every ``sql`` step's ``target`` is a backup target.
Problems of runbooks from included files are placed in those files by the loader."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from buttress.config._runbooks import ActionStep, CheckStep, SqlStep, StepConfig, WaitStep
from buttress.runbooks.actions import check_action

if TYPE_CHECKING:
    from buttress.config import ButtressConfig

__all__ = ["check_runbooks"]

Path_ = tuple[str | int, ...]


def _steps(prefix: Path_, steps: list[StepConfig]) -> Iterator[tuple[Path_, StepConfig]]:
    for i, step in enumerate(steps):
        yield (*prefix, i), step
        yield from _steps((*prefix, i, "rollback"), step.rollback)


def _probed(path: Path_, step: StepConfig) -> Iterator[tuple[Path_, object]]:
    """The step's own settings, and those of the probe of its check or wait ``until``."""
    spec = step.spec
    yield (*path, step.kind), spec
    check = spec.until if isinstance(spec, WaitStep) else spec
    if isinstance(check, CheckStep):
        where: Path_ = (*path, step.kind) + (("until",) if isinstance(spec, WaitStep) else ())
        yield (*where, "probe", check.probe.kind), check.probe.spec


def check_runbooks(config: ButtressConfig) -> list[tuple[Path_, str]]:
    """Every problem of the runbooks' actions and sql targets (path, message)."""
    targets = {t.name for t in config.backup.targets}
    found: list[tuple[Path_, str]] = []
    for prefix, runbook in config.runbooks.located():
        for key in ("steps", "rollback"):
            for path, step in _steps((*prefix, key), getattr(runbook, key)):
                for where, spec in _probed(path, step):
                    if isinstance(spec, ActionStep):
                        for loc, message in check_action(spec.name, spec.with_):
                            inner = loc if loc == ("name",) else ("with", *loc)
                            found.append(((*where, *inner), message))
                    elif (
                        isinstance(spec, SqlStep)
                        and spec.target is not None
                        and spec.target not in targets
                    ):
                        known = ", ".join(sorted(targets)) or "none"
                        message = f"no backup target {spec.target!r} (targets: {known})"
                        found.append(((*where, "target"), message))
    return found
