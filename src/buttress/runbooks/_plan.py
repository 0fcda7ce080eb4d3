"""The dry run of one step: what it would run, and the problems found by looking only."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from buttress.config._runbooks import (
    ActionStep,
    CheckStep,
    CommandStep,
    ConfirmStep,
    HttpStep,
    ProbeConfig,
    RunbookConfig,
    SqlStep,
    StepConfig,
    WaitStep,
)
from buttress.runbooks._render import Masker, Renderer
from buttress.runbooks.errors import RunbookError

if TYPE_CHECKING:
    from buttress.runbooks.engine import Engine, PlannedStep

__all__ = ["every_step", "plan_step", "urls_of"]

CONNECT_TIMEOUT = 3.0  # seconds a dry run waits for a TCP connect or a DSN


def every_step(runbook: RunbookConfig) -> Iterator[StepConfig]:
    """The runbook's steps, their rollback steps, and its own rollback steps."""

    def walk(steps: list[StepConfig]) -> Iterator[StepConfig]:
        for step in steps:
            yield step
            yield from walk(step.rollback)

    yield from walk(runbook.steps)
    yield from walk(runbook.rollback)


def _specs(step: StepConfig) -> Iterator[Any]:
    spec = step.spec
    yield spec
    check = spec.until if isinstance(spec, WaitStep) else spec
    if isinstance(check, CheckStep):
        yield check.probe.spec


def urls_of(engine: Engine, step: StepConfig) -> list[str]:
    """The DSNs and URLs ``step`` names as written (for masking their passwords)."""
    out: list[str] = []
    for spec in _specs(step):
        if isinstance(spec, HttpStep):
            out.append(spec.url)
        elif isinstance(spec, SqlStep):
            if spec.dsn is not None:
                out.append(spec.dsn)
            elif spec.target is not None:
                found = target_dsn(engine, spec.target)
                if found:
                    out.append(found)
    return out


def target_dsn(engine: Engine, name: str) -> str | None:
    """The DSN of backup target ``name`` (None: no such target, or it has no DSN)."""
    for target in engine.config.backup.targets:
        if target.name == name:
            dsn = getattr(target, "dsn", None)
            return str(dsn) if dsn is not None else None
    return None


def plan_step(
    engine: Engine, path: str, step: StepConfig, renderer: Renderer, masker: Masker
) -> PlannedStep:
    """``step`` as it would run (see :meth:`Engine.plan`)."""
    from buttress.runbooks.engine import PlannedStep

    problems: list[str] = []
    try:
        action, detail = _describe(engine, step.spec, renderer, problems)
    except RunbookError as exc:
        action, detail = f"(cannot render: {exc})", {}
        problems.append(str(exc))
    except Exception as exc:  # noqa: BLE001  # a dry run reports every step, whatever fails
        action, detail = "(cannot plan)", {}
        problems.append(f"{type(exc).__name__}: {exc}")
    return PlannedStep(
        path=path, name=step.name, kind=step.kind, action=masker(action),
        problems=[masker(p) for p in problems], when=step.when,
        detail=masker.deep(detail),
    )  # fmt: skip


def _describe(
    engine: Engine, spec: Any, renderer: Renderer, problems: list[str]
) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, CommandStep):
        return _command(spec, renderer, problems)
    if isinstance(spec, WaitStep):
        if spec.seconds is not None:
            return f"wait {spec.seconds:g}s", {"seconds": spec.seconds}
        assert spec.until is not None
        what, detail = _describe(engine, spec.until, renderer, problems)
        return (
            f"wait until {what} (every {spec.every:g}s, at most {spec.deadline:g}s)",
            {"until": detail, "every": spec.every, "deadline": spec.deadline},
        )
    if isinstance(spec, ConfirmStep):
        prompt = renderer.text(spec.prompt)
        limit = f", {spec.timeout:g}s then {spec.default}" if spec.timeout else ""
        return f"ask: {prompt}{limit}", {"prompt": prompt, "default": spec.default}
    if isinstance(spec, CheckStep):
        what, detail = _describe(engine, spec.probe.spec, renderer, problems)
        return f"check {what} within {spec.tolerance!r}", {
            "probe": detail,
            "tolerance": spec.tolerance,
        }
    if isinstance(spec, ProbeConfig):
        return _describe(engine, spec.spec, renderer, problems)
    if isinstance(spec, HttpStep):
        return _http(spec, renderer, problems)
    if isinstance(spec, SqlStep):
        return _sql(engine, spec, renderer, problems)
    if isinstance(spec, ActionStep):
        return _action(engine, spec, renderer, problems)
    raise RunbookError(f"cannot plan a {type(spec).__name__}")


def _command(
    spec: CommandStep, renderer: Renderer, problems: list[str]
) -> tuple[str, dict[str, Any]]:
    from buttress.runbooks.engine import command_line

    argv, cwd, env = command_line(spec, renderer)
    program = argv[0]
    if os.sep in program:
        if not Path(program).is_file():
            problems.append(f"program {program!r} does not exist")
        elif not os.access(program, os.X_OK):
            problems.append(f"program {program!r} is not executable")
    elif shutil.which(program, path=env.get("PATH", os.environ.get("PATH"))) is None:
        problems.append(f"program {program!r} is not on PATH")
    if cwd is not None and not Path(cwd).is_dir():
        problems.append(f"working directory {cwd!r} does not exist")
    shown = " ".join(_quote(a) for a in argv)
    return shown + (f"  (in {cwd})" if cwd else ""), {"argv": argv, "cwd": cwd, "env": env}


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def _reachable(host: str, port: int) -> str | None:
    """Why ``host:port`` does not accept a TCP connection (None: it does). Nothing is sent."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def _http(spec: HttpStep, renderer: Renderer, problems: list[str]) -> tuple[str, dict[str, Any]]:
    url = renderer.text(spec.url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"{url!r} is not an http(s) URL")
    else:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        why = _reachable(parts.hostname, port)
        if why:
            problems.append(f"{parts.hostname}:{port} does not accept connections: {why}")
    method = renderer.text(spec.method).upper()
    return f"{method} {url}", {"method": method, "url": url, "status": spec.status}


def _sql(
    engine: Engine, spec: SqlStep, renderer: Renderer, problems: list[str]
) -> tuple[str, dict[str, Any]]:
    from buttress.runbooks import _probes

    statement = renderer.text(spec.statement)
    dsn = _probes.dsn_of(engine, spec, renderer)
    why = _probes.connect_only(dsn)
    if why:
        problems.append(why)
    mode = "write" if spec.write else "read-only"
    return f"SQL ({mode}) on {dsn}: {statement}", {
        "dsn": dsn,
        "statement": statement,
        "write": spec.write,
    }


def _action(
    engine: Engine, spec: ActionStep, renderer: Renderer, problems: list[str]
) -> tuple[str, dict[str, Any]]:
    from buttress.runbooks import _probes
    from buttress.runbooks.actions import get_action, validate_params

    action = get_action(spec.name)
    given = renderer.deep(spec.with_)
    try:
        params = validate_params(action, given)
    except RunbookError:
        if any(_later(v) for v in given.values()):  # judged when the earlier steps have run
            return f"{spec.name} with {given} (checked at run time)", {"action": spec.name}
        raise
    description, found = action.plan(_probes.context(engine, run_id="dry-run"), params)
    problems.extend(found)
    return f"{spec.name}: {description}", {"action": spec.name, "with": given}


def _later(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("<steps.")
