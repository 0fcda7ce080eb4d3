"""The runbook engine: runs a runbook's steps in order against a :class:`Recorder`, rolls back
when a step fails, resumes from a step, and plans a dry run that changes nothing.

Example::

    from buttress.config import load
    from buttress.runbooks.engine import Engine
    from buttress.runbooks.recorder import MemoryRecorder

    config = load("buttress.yaml")
    runbook = config.runbooks.get("restart-worker")
    for step in Engine(config, recorder=MemoryRecorder(), actor="cli:root").plan(
        runbook, {"host": "web-2"}
    ):
        print(step.path, step.action, step.problems)   # what would run, what is wrong
    recorder = MemoryRecorder(answers={"go-ahead": True})
    status = Engine(config, recorder=recorder, actor="cli:root").run(
        runbook, {"host": "web-2"}, run_id="r-1"
    )                                                   # "succeeded", "failed", "rolled_back"

Step paths are the recorder's: ``"2"``, ``"2.rollback.0"``, ``"rollback.1"``.

``on_failure`` of a failing step: ``abort`` (the default) stops the run and rolls back what
succeeded (each succeeded step's own ``rollback`` steps, latest first, then the runbook's
``rollback``); ``rollback`` does the same and also runs the failing step's own rollback steps
first (it may have half-done its work); ``continue`` records the failure and goes on. A run
that stops ends ``rolled_back`` when every rollback step succeeded (and there was one), else
``failed``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from buttress import _clock
from buttress.config._runbooks import CommandStep, ConfirmStep, RunbookConfig, StepConfig, WaitStep
from buttress.runbooks._command import run_process
from buttress.runbooks._render import Masker, Renderer
from buttress.runbooks.errors import RunbookError, StepError
from buttress.runbooks.params import resolve_params
from buttress.runbooks.recorder import Recorder, RunStatus, StepStatus
from buttress.secrets import is_secret_name

if TYPE_CHECKING:
    from buttress.catalog import Catalog
    from buttress.config import ButtressConfig
    from buttress.resilience.registry import PolicyRegistry
    from buttress.resilience.retry import Retry

__all__ = ["Engine", "PlannedStep", "StepResult"]


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """One step of a dry run: what it would run, and the problems seen without running it."""

    path: str
    name: str
    kind: str
    action: str
    """What would run, in one line (argv, ``GET url``, the SQL, the action), secrets masked."""
    problems: list[str] = field(default_factory=list)
    when: str | None = None
    """The step's condition, when it has one (decided at run time)."""
    detail: dict[str, Any] = field(default_factory=dict)
    """The rendered settings (``argv``, ``cwd``, ``url``, ``statement``...), secrets masked."""


@dataclass(slots=True)
class StepResult:
    """What one attempt of a step produced."""

    values: dict[str, Any] = field(default_factory=dict)
    output: str = ""


@dataclass
class _Run:
    runbook: RunbookConfig
    params: dict[str, Any]
    run_id: str
    values: dict[str, dict[str, Any]]
    renderer: Renderer
    masker: Masker


class Engine:
    """Runs runbooks for one actor, recording through ``recorder``.

    Args:
        config: the whole configuration (actions use other sections: backup targets...).
        catalog: for actions that record (overrides, backups, audit); None: they say so.
        recorder: keeps the run's record and answers confirm steps.
        actor: who runs it (``token:alice``, ``cli:root``).
        policies: the process's resilience registry (or a function returning it), for
            ``breaker.force``.
        sleep: how wait steps and retries wait (seconds); for tests.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        config: ButtressConfig,
        *,
        catalog: Catalog | None = None,
        recorder: Recorder,
        actor: str,
        policies: PolicyRegistry | Callable[[], PolicyRegistry] | None = None,
        sleep: _clock.Sleep | None = None,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.recorder = recorder
        self.actor = actor
        if policies is not None and not callable(policies):
            registry = policies
            policies = lambda: registry  # noqa: E731  # the actions ask for it when they need it
        self.policies: Callable[[], PolicyRegistry] | None = policies
        self.sleep = sleep or _clock.sleep

    # -- public ------------------------------------------------------------------------

    def run(
        self,
        runbook: RunbookConfig | str,
        params: Mapping[str, Any],
        *,
        run_id: str,
        start_at: str | None = None,
        values: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> RunStatus:
        """Run ``runbook`` (from the step at path ``start_at`` when resuming, with the
        ``values`` earlier steps produced) and return how it ended.

        A resumed run treats the steps before ``start_at`` that have ``values`` as done: a
        failure rolls them back too.

        Raises:
            NotFoundError: no runbook has that name (nothing ran).
            RunbookError: a parameter or ``start_at`` is wrong (nothing ran).
        """
        state = self._start(runbook, params, run_id, values)
        steps = state.runbook.steps
        first = self._index(state.runbook, start_at)
        done: list[tuple[str, StepConfig]] = [
            (str(i), s) for i, s in enumerate(steps[:first]) if s.name in state.values
        ]
        for i in range(first, len(steps)):
            path, step = str(i), steps[i]
            status, error = self._step(state, path, step)
            if status == "succeeded":
                done.append((path, step))
            elif status in ("failed", "timed_out") and step.on_failure != "continue":
                failing = (path, step) if step.on_failure == "rollback" else None
                final = self._roll_back(state, done, failing)
                self.recorder.run_finished(final, f"step {step.name!r}: {error}")
                return final
        self.recorder.run_finished("succeeded", None)
        return "succeeded"

    def rollback(
        self,
        runbook: RunbookConfig | str,
        params: Mapping[str, Any],
        *,
        run_id: str,
        done: Sequence[str],
        values: Mapping[str, Mapping[str, Any]],
    ) -> RunStatus:
        """Roll back a run: the rollback steps of the ``done`` steps (paths of top-level
        steps), latest first, then the runbook's own; ``rolled_back`` or ``failed``.

        Raises:
            NotFoundError: no runbook has that name (nothing ran).
            RunbookError: a parameter or a path is wrong (nothing ran).
        """
        state = self._start(runbook, params, run_id, values)
        indices = sorted({self._index(state.runbook, p) for p in done})
        steps = [(str(i), state.runbook.steps[i]) for i in indices]
        final = self._roll_back(state, steps, None)
        if final == "rolled_back":
            error = None
        elif not self._rollback_steps(state.runbook, steps, None):
            error = "nothing to roll back: the done steps and the runbook have no rollback steps"
        else:
            error = "a rollback step failed"
        self.recorder.run_finished(final, error)
        return final

    def plan(self, runbook: RunbookConfig | str, params: Mapping[str, Any]) -> list[PlannedStep]:
        """The dry run: every step (rollback steps too) as it would run, with the problems
        found by looking, not doing: programs on PATH, directories, TCP reachability of
        URLs, DSNs that connect (and are closed, nothing executed), actions' own checks.

        Raises:
            NotFoundError: no runbook has that name.
            RunbookError: a parameter is wrong.
        """
        from buttress.runbooks import _plan

        book = self._runbook(runbook)
        resolved = resolve_params(book, params)
        renderer = Renderer(resolved, {}, run_id="dry-run", actor=self.actor, planning=True)
        masker = self._masker(book)
        out: list[PlannedStep] = []
        for i, step in enumerate(book.steps):
            out.append(_plan.plan_step(self, str(i), step, renderer, masker))
            for j, back in enumerate(step.rollback):
                out.append(_plan.plan_step(self, f"{i}.rollback.{j}", back, renderer, masker))
        for j, back in enumerate(book.rollback):
            out.append(_plan.plan_step(self, f"rollback.{j}", back, renderer, masker))
        return out

    # -- the run -----------------------------------------------------------------------

    def _runbook(self, runbook: RunbookConfig | str) -> RunbookConfig:
        return self.config.runbooks.get(runbook) if isinstance(runbook, str) else runbook

    def _start(
        self,
        runbook: RunbookConfig | str,
        params: Mapping[str, Any],
        run_id: str,
        values: Mapping[str, Mapping[str, Any]] | None,
    ) -> _Run:
        book = self._runbook(runbook)
        resolved = resolve_params(book, params)
        earlier = {k: dict(v) for k, v in (values or {}).items()}
        renderer = Renderer(resolved, earlier, run_id=run_id, actor=self.actor)
        masker = self._masker(book)
        for name, value in resolved.items():  # a secret-named parameter's value, too
            if is_secret_name(name) and value is not None:
                masker.add(str(value))
        return _Run(book, resolved, run_id, earlier, renderer, masker)

    def _masker(self, runbook: RunbookConfig) -> Masker:
        from buttress.runbooks import _plan

        masker = Masker(self.config.runbooks.secrets)
        for step in _plan.every_step(runbook):
            spec = step.spec
            if isinstance(spec, CommandStep):
                masker.add_env(spec.env)
            for url in _plan.urls_of(self, step):
                masker.add_url(url)
        return masker

    @staticmethod
    def _index(runbook: RunbookConfig, path: str | None) -> int:
        if path is None:
            return 0
        if path.isdigit() and int(path) < len(runbook.steps):
            return int(path)
        names = [s.name for s in runbook.steps]
        if path in names:
            return names.index(path)
        raise RunbookError(
            f"runbook {runbook.name!r} has no step {path!r} to start at "
            f"(its steps are 0..{len(runbook.steps) - 1}: {', '.join(names)})"
        )

    @staticmethod
    def _rollback_steps(
        runbook: RunbookConfig,
        done: list[tuple[str, StepConfig]],
        failing: tuple[str, StepConfig] | None,
    ) -> list[tuple[str, StepConfig]]:
        """The rollback steps to run, in order: the failing step's own (``on_failure:
        rollback``), each done step's own (latest first), then the runbook's."""
        todo: list[tuple[str, StepConfig]] = []
        for path, step in ([failing] if failing else []) + list(reversed(done)):
            todo.extend((f"{path}.rollback.{j}", back) for j, back in enumerate(step.rollback))
        todo.extend((f"rollback.{j}", back) for j, back in enumerate(runbook.rollback))
        return todo

    def _roll_back(
        self,
        state: _Run,
        done: list[tuple[str, StepConfig]],
        failing: tuple[str, StepConfig] | None,
    ) -> RunStatus:
        todo = self._rollback_steps(state.runbook, done, failing)
        if not todo:
            return "failed"
        ok = True
        for path, step in todo:
            status, _ = self._step(state, path, step)
            if status in ("failed", "timed_out"):
                ok = False
                if step.on_failure != "continue":
                    break
        return "rolled_back" if ok else "failed"

    def _step(self, state: _Run, path: str, step: StepConfig) -> tuple[StepStatus, str | None]:
        """Run one step (its retries included) and record it; its status and error."""
        self.recorder.step_started(path, step.name, step.kind)
        attempts = 0
        try:
            if step.when is not None and not state.renderer.condition(step.when):
                self._finish(path, "skipped", StepResult(), None, 0)
                return "skipped", None
        except RunbookError as exc:
            message = state.masker(str(exc))
            self._finish(path, "failed", StepResult(), f"when: {message}", 0)
            return "failed", message
        result = StepResult()
        error: StepError | None = None

        def once() -> StepResult:
            nonlocal attempts
            attempts += 1
            try:
                return self._attempt(state, path, step)
            except StepError:
                raise
            except RunbookError as exc:
                raise StepError(str(exc)) from None
            except Exception as exc:  # noqa: BLE001  # a step's own failure, recorded as such
                raise StepError(f"{type(exc).__name__}: {exc}") from None

        try:
            retry = self._retry(step)
            result = once() if retry is None else retry.call(once)
        except StepError as exc:
            error = exc
        if error is None:
            state.values[step.name] = result.values
            self._finish(path, "succeeded", result, None, attempts, state.masker)
            return "succeeded", None
        status: StepStatus = "timed_out" if error.status == "timed_out" else "failed"
        message = state.masker(str(error))
        self._finish(path, status, StepResult(output=error.output), message, attempts, state.masker)
        return status, message

    def _finish(
        self,
        path: str,
        status: StepStatus,
        result: StepResult,
        error: str | None,
        attempts: int,
        masker: Masker | None = None,
    ) -> None:
        mask = masker or Masker()
        self.recorder.step_finished(
            path, status, output=mask(result.output), values=mask.deep(result.values),
            error=error, attempts=attempts,
        )  # fmt: skip

    def _retry(self, step: StepConfig) -> Retry | None:
        """The step's ``retry:`` as a resilience :class:`Retry` of failed attempts."""
        config = step.retry
        if config is None or config.enabled is False:
            return None
        from buttress.resilience.retry import Retry

        settings = config.model_dump(
            exclude_none=True, exclude={"enabled", "budget_ratio", "budget_min_per_second"}
        )
        return Retry(
            name=f"runbook.step.{step.name}", retry_on=StepError, sleep=self.sleep, **settings
        )

    def _attempt(self, state: _Run, path: str, step: StepConfig) -> StepResult:
        spec = step.spec
        if isinstance(spec, CommandStep):
            return self._command(state, spec, step.timeout)
        if isinstance(spec, WaitStep):
            return self._wait(state, path, spec, step.timeout)
        if isinstance(spec, ConfirmStep):
            return self._confirm(state, path, spec, step.timeout)
        from buttress.runbooks import _probes

        return _probes.attempt(self, state.renderer, state.masker, step, run_id=state.run_id)

    def _command(self, state: _Run, spec: CommandStep, timeout: float | None) -> StepResult:
        argv, cwd, env = command_line(spec, state.renderer)
        state.masker.add_env(env)
        try:
            done = run_process(
                argv, cwd=cwd, env={**os.environ, **env}, timeout=timeout,
                max_output=spec.max_output,
            )  # fmt: skip
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise StepError(f"cannot start {argv[0]!r}: {why}") from None
        output = state.masker(done.output)
        if done.timed_out:
            raise StepError(
                f"timed out after {timeout:g}s; its process group was killed",
                status="timed_out", output=output,
            )  # fmt: skip
        if done.exit_code not in spec.exit_codes:
            raise StepError(
                f"exit code {done.exit_code} (accepted: {', '.join(map(str, spec.exit_codes))})",
                output=output,
            )
        return StepResult({"exit_code": done.exit_code, "stdout": output}, output)

    def _wait(self, state: _Run, path: str, spec: WaitStep, timeout: float | None) -> StepResult:
        if spec.seconds is not None:
            if timeout is not None and timeout < spec.seconds:
                self.sleep(timeout)
                raise StepError(
                    f"timed out after {timeout:g}s (the wait is {spec.seconds:g}s)",
                    status="timed_out",
                )
            self.sleep(spec.seconds)
            return StepResult({"waited": spec.seconds})
        from buttress.runbooks import _probes

        assert spec.until is not None  # the model requires one of the two
        return _probes.wait_until(self, state.renderer, state.masker, spec, run_id=state.run_id)

    def _confirm(
        self, state: _Run, path: str, spec: ConfirmStep, timeout: float | None
    ) -> StepResult:
        prompt = state.masker(state.renderer.text(spec.prompt))
        limit = spec.timeout if spec.timeout is not None else timeout
        answer = self.recorder.confirm(
            path, prompt, timeout=limit, default=spec.default == "approve"
        )
        values = {"approved": answer.approved, "actor": answer.actor, "defaulted": answer.defaulted}
        if not answer.approved:
            if answer.defaulted:
                within = f" within {limit:g}s" if limit is not None else ""
                raise StepError(f"nobody answered{within}; the default ({spec.default}) applies")
            raise StepError(
                f"refused by {answer.actor}" + (f": {answer.comment}" if answer.comment else "")
            )
        return StepResult(
            values, f"approved by {answer.actor}" + (" (the default)" if answer.defaulted else "")
        )


def command_line(
    spec: CommandStep, renderer: Renderer
) -> tuple[list[str], str | None, dict[str, str]]:
    """A command step's argv (``/bin/sh -c script`` for a shell line), cwd and extra env."""
    if spec.argv is not None:
        argv = [renderer.text(a) for a in spec.argv]
    else:
        argv = ["/bin/sh", "-c", renderer.text(spec.script or "")]
    cwd = renderer.text(spec.cwd) if spec.cwd is not None else None
    env = {k: renderer.text(v) for k, v in spec.env.items()}
    return argv, cwd, env
