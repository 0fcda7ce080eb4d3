"""What the runbook engine tells whoever keeps the record of a run, and asks them.

The engine (:mod:`buttress.runbooks.engine`) runs steps; a :class:`Recorder` keeps the record:
:class:`MemoryRecorder` in memory (tests, dry runs, a run with no catalog), the catalog's
recorder (:mod:`buttress.runbooks.runs`) as rows a crash leaves behind as *interrupted*.

Steps are named by a *path*: ``"3"`` is the fourth step of the runbook, ``"3.rollback.0"``
the first rollback step of that step, ``"rollback.1"`` the second of the runbook's own
rollback steps. A run resumes from a path; the values earlier steps produced (``values``,
read by templates as ``steps.<name>.<key>``) come back with it.

Calls arrive in order from the thread running the run: ``step_started``, then
``step_finished`` for the same path (``confirm`` between them for a confirm step), ...,
then ``run_finished`` once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "Confirmation",
    "MemoryRecorder",
    "Recorder",
    "RunStatus",
    "StepRecord",
    "StepStatus",
]

StepStatus = Literal["running", "succeeded", "failed", "timed_out", "skipped", "interrupted"]
"""``failed``/``timed_out`` with ``on_failure: continue`` do not fail the run."""

RunStatus = Literal["running", "succeeded", "failed", "rolled_back", "interrupted"]
"""``failed``: a step failed and the run stopped (its rollback, if any, failed too or there
was none); ``rolled_back``: a step failed and the rollback steps all succeeded."""


@dataclass(frozen=True, slots=True)
class Confirmation:
    """A person's answer to a confirm step, or the default when nobody answered in time."""

    approved: bool
    actor: str
    """Who answered (``token:alice``, ``cli:root``), or ``default`` when the timeout applied."""
    defaulted: bool = False
    comment: str = ""


@dataclass(slots=True)
class StepRecord:
    """One step as recorded."""

    path: str
    name: str
    kind: str
    status: StepStatus = "running"
    output: str = ""
    """Captured output, secrets masked, bounded in size."""
    values: dict[str, Any] = field(default_factory=dict)
    """What the step produced for later steps' templates (``steps.<name>.<key>``)."""
    error: str | None = None
    attempts: int = 0
    confirmation: Confirmation | None = None


class Recorder(Protocol):
    """Keeps the record of one run; the engine calls it from the run's thread."""

    def step_started(self, path: str, name: str, kind: str) -> None:
        """A step begins (each attempt of a retried step is the same step)."""

    def step_finished(
        self,
        path: str,
        status: StepStatus,
        *,
        output: str,
        values: Mapping[str, Any],
        error: str | None,
        attempts: int,
    ) -> None:
        """The step at ``path`` ended with ``status``."""

    def confirm(
        self, path: str, prompt: str, *, timeout: float | None, default: bool | None
    ) -> Confirmation:
        """Block until a person with the runbook's role answers the confirm step at
        ``path``, or ``timeout`` seconds pass (then ``default`` applies, recorded with
        ``defaulted=True``; ``default=None`` means "no answer is a refusal")."""
        ...

    def run_finished(self, status: RunStatus, error: str | None) -> None:
        """The run ended (once)."""


@dataclass
class MemoryRecorder:
    """Keeps the record in memory; confirm steps take their answers from ``answers`` (by
    step name) or, when there is none, wait out the timeout and take the default."""

    answers: dict[str, bool] = field(default_factory=dict)
    steps: dict[str, StepRecord] = field(default_factory=dict)
    status: RunStatus = "running"
    error: str | None = None
    order: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def step_started(self, path: str, name: str, kind: str) -> None:
        with self._lock:
            found = self.steps.get(path)
            if found is None:
                self.steps[path] = StepRecord(path, name, kind)
                self.order.append(path)
            else:
                found.status = "running"

    def step_finished(
        self,
        path: str,
        status: StepStatus,
        *,
        output: str,
        values: Mapping[str, Any],
        error: str | None,
        attempts: int,
    ) -> None:
        with self._lock:
            record = self.steps[path]
            record.status = status
            record.output = output
            record.values = dict(values)
            record.error = error
            record.attempts = attempts

    def confirm(
        self, path: str, prompt: str, *, timeout: float | None, default: bool | None
    ) -> Confirmation:
        name = self.steps[path].name
        if name in self.answers:
            answer = Confirmation(self.answers[name], "test")
        else:
            if timeout is not None:
                threading.Event().wait(timeout)
            answer = Confirmation(bool(default), "default", defaulted=True)
        self.steps[path].confirmation = answer
        return answer

    def run_finished(self, status: RunStatus, error: str | None) -> None:
        with self._lock:
            self.status = status
            self.error = error
