"""A small Engine-like object for the runs tests (the real engine is tested on its own): steps
``ok`` (produce values), ``sleep`` (wait ``seconds``), ``fail``, ``confirm`` (ask the
recorder), each with optional rollback steps; it keeps the Recorder call order."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from buttress.errors import UsageError
from buttress.runbooks.recorder import Recorder, RunStatus, StepStatus
from buttress.runbooks.runs import EngineLike, Runbooks


@dataclass
class Step:
    name: str
    kind: str = "ok"
    seconds: float = 0.0
    timeout: float | None = None
    default: bool | None = None
    rollback: list[Step] = field(default_factory=list)


@dataclass
class Param:
    name: str
    type: str = "string"
    default: Any = None
    secret: bool = False


@dataclass
class Runbook:
    name: str
    steps: list[Step]
    description: str = ""
    role: str = "operator"
    exclusive: bool = False
    params: list[Param] = field(default_factory=list)
    rollback: list[Step] = field(default_factory=list)


@dataclass
class Definitions:
    all: list[Runbook]

    def get(self, name: str) -> Runbook | None:
        return next((r for r in self.all if r.name == name), None)


def resolve(runbook: Runbook, given: Mapping[str, str]) -> dict[str, Any]:
    known = {p.name: p for p in runbook.params}
    for name in given:
        if name not in known:
            raise UsageError(f"runbook {runbook.name}: unknown parameter {name!r}")
    out: dict[str, Any] = {}
    for param in runbook.params:
        value: Any = given.get(param.name, param.default)
        if value is None:
            raise UsageError(f"runbook {runbook.name}: parameter {param.name!r} is required")
        if param.type == "int":
            try:
                value = int(value)
            except ValueError:
                raise UsageError(f"parameter {param.name!r}: {value!r} is not an int") from None
        out[param.name] = value
    return out


@dataclass
class Planned:
    path: str
    name: str
    kind: str
    action: str
    problems: list[str] = field(default_factory=list)


class StandIn:
    """Runs a :class:`Runbook` against a Recorder, as the real engine's contract says."""

    def __init__(self, recorder: Recorder, actor: str) -> None:
        self.recorder = recorder
        self.actor = actor
        self.seen: dict[str, Any] = {}

    def _step(self, path: str, step: Step, values: dict[str, Any]) -> bool:
        self.recorder.step_started(path, step.name, step.kind)
        ok, error, produced = True, None, {"path": path, "seen": sorted(values)}
        if step.kind == "sleep":
            time.sleep(step.seconds)
        elif step.kind == "fail":
            ok, error = False, f"{step.name} failed"
        elif step.kind == "confirm":
            answer = self.recorder.confirm(
                path, f"go on with {step.name}?", timeout=step.timeout, default=step.default
            )
            ok = answer.approved
            error = None if ok else f"refused by {answer.actor}"
        status: StepStatus = "succeeded" if ok else "failed"
        self.recorder.step_finished(
            path,
            status,
            output=f"ran {step.name}",
            values=produced if ok else {},
            error=error,
            attempts=1,
        )
        if ok:
            values[step.name] = produced
        return ok

    def run(
        self,
        runbook: Any,
        params: Mapping[str, Any],
        *,
        run_id: str,
        start_at: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> RunStatus:
        self.seen = {"params": dict(params), "start_at": start_at, "values": dict(values or {})}
        have = dict(values or {})
        first = int(start_at) if start_at is not None else 0
        for index in range(first, len(runbook.steps)):
            if not self._step(str(index), runbook.steps[index], have):
                self.recorder.run_finished("failed", f"step {index} failed")
                return "failed"
        self.recorder.run_finished("succeeded", None)
        return "succeeded"

    def rollback(
        self,
        runbook: Any,
        params: Mapping[str, Any],
        *,
        run_id: str,
        done: Sequence[str],
        values: Mapping[str, Any],
    ) -> RunStatus:
        have = dict(values)
        for path in reversed(list(done)):
            for i, step in enumerate(runbook.steps[int(path)].rollback):
                self._step(f"{path}.rollback.{i}", step, have)
        for i, step in enumerate(runbook.rollback):
            self._step(f"rollback.{i}", step, have)
        self.recorder.run_finished("rolled_back", None)
        return "rolled_back"

    def plan(self, runbook: Any, params: Mapping[str, Any]) -> list[Planned]:
        return [
            Planned(str(i), s.name, s.kind, f"would {s.kind} {s.name}")
            for i, s in enumerate(runbook.steps)
        ]


RUNBOOKS = Definitions(
    [
        Runbook("simple", [Step("one"), Step("two"), Step("three")], description="three steps"),
        Runbook(
            "with-secret",
            [Step("one")],
            params=[
                Param("host", default="db1"),
                Param("password", secret=True),
                Param("count", type="int", default=1),
            ],
        ),
        Runbook("slow", [Step("one"), Step("nap", "sleep", seconds=600), Step("three")]),
        Runbook(
            "exclusive",
            [Step("one"), Step("nap", "sleep", seconds=600)],
            exclusive=True,
        ),
        Runbook(
            "fails",
            [Step("one", rollback=[Step("undo-one")]), Step("boom", "fail"), Step("three")],
            rollback=[Step("cleanup")],
        ),
        Runbook("exclusive-ask", [Step("gate", "confirm")], exclusive=True),
        Runbook("ask", [Step("one"), Step("gate", "confirm"), Step("three")]),
        Runbook("ask-briefly", [Step("gate", "confirm", timeout=0.3, default=False)]),
        Runbook("admin-only", [Step("one")], role="admin"),
    ]
)


def service(catalog: Any, *, definitions: Definitions = RUNBOOKS) -> Runbooks:
    """A runs service over the stand-in engine and runbooks."""
    engines: list[StandIn] = []

    def factory(recorder: Recorder, actor: str) -> EngineLike:
        engine = StandIn(recorder, actor)
        engines.append(engine)
        return engine

    made = Runbooks(None, catalog, factory, resolve=resolve, definitions=definitions)
    made.engines = engines  # type: ignore[attr-defined]  # the tests read what the engine saw
    return made


def in_thread(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread
