"""The catalog's :class:`~buttress.runbooks.recorder.Recorder`: one run's steps as
``runbook_steps`` rows, a confirm step answered through the catalog (see
:mod:`buttress.runbooks.runs`, which re-exports what is public here)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from buttress.catalog import audit
from buttress.catalog.tables import utcnow
from buttress.errors import ButtressError
from buttress.runbooks.recorder import Confirmation, RunStatus, StepStatus
from buttress.runbooks.tables import RunbookRun, RunbookStep
from buttress.secrets import redact

if TYPE_CHECKING:
    from buttress.catalog import Catalog

__all__ = [
    "MAX_OUTPUT",
    "POLL",
    "Asker",
    "CatalogRecorder",
    "StepEvent",
    "answer",
    "audit_confirm",
    "jsonable",
]

MAX_OUTPUT = 64 * 1024
"""Characters of a step's output kept in the catalog (the end is kept: errors come last)."""
POLL = 0.25
"""Seconds between looks at the catalog while a confirm step waits for its answer."""


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _bounded(text: str) -> str:
    """The end of ``text``, at most :data:`MAX_OUTPUT` characters, secrets masked. Cut
    before masking (masking is slow on long unbroken text), and from a whitespace on, so that
    no piece of a secret the cut split is left unmasked."""
    if len(text) > MAX_OUTPUT:
        tail = text[-MAX_OUTPUT:]
        start = next((i for i, c in enumerate(tail) if c.isspace()), len(tail))
        tail = tail[start:]
        return f"[... {len(text) - len(tail)} characters cut ...]" + redact(tail)
    return redact(text)


@dataclass(frozen=True, slots=True)
class StepEvent:
    """What :class:`CatalogRecorder` tells its listener (the CLI's live progress)."""

    kind: Literal["started", "finished", "waiting", "answered", "run_finished"]
    path: str
    name: str = ""
    step_kind: str = ""
    status: str = ""
    error: str | None = None
    prompt: str = ""
    answer: Confirmation | None = None
    output: str = ""


Asker = Callable[[str, str, str], bool | None]
"""``(path, name, prompt) -> approved``, or None to leave the answer to others (the CLI asks
at a terminal)."""


@dataclass
class CatalogRecorder:
    """The record of run ``run_id`` as catalog rows; see the module docstring.

    Args:
        catalog: where the rows are.
        run_id: the run (its row exists).
        actor: who runs it (the actor of an interactive answer).
        listener: told of every step event (the CLI prints them), from the run's thread.
        ask: asks a person directly (a terminal) before waiting for an answer from elsewhere.
        poll: seconds between looks at the catalog while a confirm step waits.
        sleep: waits ``seconds`` (tests pass a faster or event-driven one).
    """

    catalog: Catalog
    run_id: int
    actor: str
    listener: Callable[[StepEvent], None] | None = None
    ask: Asker | None = None
    poll: float = POLL
    stop: threading.Event = field(default_factory=threading.Event)
    lost: Callable[[], bool] = field(default=lambda: False)
    """Whether the run lost its claim (its lease ran out and it was judged interrupted): the
    run then stops before its next step, rather than go on beside a resumed one."""
    _seq: int = 0
    _names: dict[str, tuple[str, str]] = field(default_factory=dict)

    def _tell(self, event: StepEvent) -> None:
        if self.listener is not None:
            self.listener(event)

    def _step(self, session: Session, path: str) -> RunbookStep | None:
        query = select(RunbookStep).where(
            RunbookStep.run_id == self.run_id, RunbookStep.path == path
        )
        return session.scalars(query).first()

    def _check_claim(self, path: str) -> None:
        if self.lost():
            raise ButtressError(
                f"run {self.run_id} lost its claim (its lease ran out: the catalog was "
                f"unreachable or the process stalled) and stopped before step {path}"
            )

    def step_started(self, path: str, name: str, kind: str) -> None:
        self._check_claim(path)
        now = utcnow()
        with self.catalog.begin() as session:
            row = self._step(session, path)
            if row is None:
                if not self._seq:
                    found = session.scalars(
                        select(RunbookStep.seq)
                        .where(RunbookStep.run_id == self.run_id)
                        .order_by(RunbookStep.seq.desc())
                    ).first()
                    self._seq = found or 0
                self._seq += 1
                session.add(
                    RunbookStep(
                        run_id=self.run_id,
                        seq=self._seq,
                        path=path,
                        name=name,
                        kind=kind,
                        status="running",
                        started_at=now,
                        attempts=0,
                        output="",
                        values={},
                        carried=False,
                        comment="",
                        defaulted=False,
                    )
                )
            else:  # another attempt of the same step
                row.status = "running"
                row.finished_at = None
        self._names[path] = (name, kind)
        self._tell(StepEvent("started", path, name, kind))

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
        with self.catalog.begin() as session:
            row = self._step(session, path)
            if row is None:
                raise ButtressError(f"run {self.run_id}: step {path} finished but never started")
            row.status = status
            row.finished_at = utcnow()
            row.output = _bounded(output)
            row.values = jsonable(dict(values))
            row.error = None if error is None else redact(error[-10_000:])
            row.attempts = attempts
        name, kind = self._names.get(path, ("", ""))
        self._tell(
            StepEvent("finished", path, name, kind, status=status, error=error, output=output)
        )

    def confirm(
        self, path: str, prompt: str, *, timeout: float | None, default: bool | None
    ) -> Confirmation:
        now = utcnow()
        deadline = None if timeout is None else now + dt.timedelta(seconds=timeout)
        with self.catalog.begin() as session:
            row = self._step(session, path)
            if row is None:
                raise ButtressError(f"run {self.run_id}: confirm step {path} never started")
            row.prompt = prompt
            row.confirm_deadline = deadline
            name = row.name
        self._tell(StepEvent("waiting", path, name, "confirm", prompt=prompt))
        if self.ask is not None:
            asked = self.ask(path, name, prompt)
            if asked is not None:
                self._answer(path, asked, self.actor, "", defaulted=False)
        while True:
            found = self._read_answer(path)
            if found is not None:
                break
            self._check_claim(path)
            if deadline is not None and utcnow() >= deadline:
                self._answer(path, bool(default), "default", "", defaulted=True)
                continue  # read back whichever answer won
            self.stop.wait(self.poll)
        self._tell(StepEvent("answered", path, name, "confirm", answer=found))
        return found

    def _answer(
        self, path: str, approved: bool, actor: str, comment: str, *, defaulted: bool
    ) -> None:
        with self.catalog.begin() as session:
            if answer(
                session,
                self.run_id,
                path,
                approved=approved,
                actor=actor,
                comment=comment,
                defaulted=defaulted,
            ):
                audit_confirm(session, self.run_id, path, approved, actor, defaulted)

    def _read_answer(self, path: str) -> Confirmation | None:
        with self.catalog.begin() as session:
            row = self._step(session, path)
            if row is None or row.approved is None:
                return None
            return Confirmation(
                row.approved, row.confirmed_by or "", defaulted=row.defaulted, comment=row.comment
            )

    def run_finished(self, status: RunStatus, error: str | None) -> None:
        with self.catalog.begin() as session:
            session.execute(  # a run already judged interrupted stays so
                update(RunbookRun)
                .where(RunbookRun.id == self.run_id, RunbookRun.status == "running")
                .values(
                    status=status,
                    finished_at=utcnow(),
                    error=None if error is None else redact(error[:10_000]),
                )
            )
        self._tell(StepEvent("run_finished", "", status=status, error=error))


def answer(
    session: Session,
    run_id: int,
    path: str,
    *,
    approved: bool,
    actor: str,
    comment: str = "",
    defaulted: bool = False,
) -> bool:
    """Answer the waiting confirm step ``path`` of ``run_id``, unless someone already did
    (then False): one conditional update, so exactly one answer counts."""
    result = session.execute(
        update(RunbookStep)
        .where(
            RunbookStep.run_id == run_id,
            RunbookStep.path == path,
            RunbookStep.prompt.is_not(None),
            RunbookStep.approved.is_(None),
        )
        .values(
            approved=approved,
            confirmed_by=actor[:200],
            confirmed_at=utcnow(),
            comment=comment[:10_000],
            defaulted=defaulted,
        )
        .returning(RunbookStep.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


def audit_confirm(
    session: Session, run_id: int, path: str, approved: bool, actor: str, defaulted: bool
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action="runbook.confirm",
        outcome="success",
        target=f"run={run_id},step={path}",
        detail={"approved": approved, "defaulted": defaulted},
    )
