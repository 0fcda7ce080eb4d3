"""Runs of runbooks, recorded in the catalog: :class:`CatalogRecorder` (the engine's
:class:`~buttress.runbooks.recorder.Recorder` as rows) and :class:`Runbooks` (start, execute,
list, show, confirm, resume, roll back).

A run holds the claim ``runbook-run:<id>`` (:mod:`buttress.catalog.claims`) while it runs, and
a runbook marked ``exclusive`` also ``runbook:<name>``, taken in the transaction that inserts
the run: a second concurrent run, from any process or replica, is refused naming the run that
holds it. A run still ``running`` whose claim is dead (its process was killed, its host lost)
is reported as ``interrupted`` -- and stored so on that read -- never as succeeded; it can be
resumed from the step it stopped at (a new run, ``mode: resume``, with the values the earlier
steps produced) or rolled back (``mode: rollback``: the rollback steps of the steps that had
succeeded).

A confirm step sets its row's ``prompt`` and polls the catalog until ``approved`` is set by
:meth:`Runbooks.confirm` (the CLI, the API, the dashboard) or its timeout passes (then the
step's default is written, ``defaulted``, by the same conditional update, so exactly one
answer counts). Every start, confirmation, resume and rollback is audited
(:mod:`buttress.catalog.audit`), refusals too.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from buttress.catalog import audit, claims
from buttress.catalog.tables import utcnow
from buttress.errors import ButtressError, ConflictError, NotFoundError, UsageError
from buttress.runbooks._recording import (
    MAX_OUTPUT,
    POLL,
    Asker,
    CatalogRecorder,
    StepEvent,
    answer,
    audit_confirm,
    jsonable,
)
from buttress.runbooks.recorder import Recorder, RunStatus
from buttress.runbooks.tables import RunbookRun, RunbookStep
from buttress.secrets import MASK, is_secret_name

if TYPE_CHECKING:
    from buttress.catalog import Catalog

__all__ = [
    "MAX_OUTPUT",
    "POLL",
    "Asker",
    "CatalogRecorder",
    "EngineFactory",
    "EngineLike",
    "RunView",
    "Runbooks",
    "StepEvent",
    "engine_factory",
    "exclusive_key",
    "run_key",
]

log = logging.getLogger("buttress.runbooks")

Mode = Literal["run", "resume", "rollback"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "rolled_back", "interrupted"})


class EngineLike(Protocol):
    """What :class:`Runbooks` needs of :class:`buttress.runbooks.engine.Engine`."""

    def run(
        self,
        runbook: Any,
        params: Mapping[str, Any],
        *,
        run_id: str,
        start_at: str | None = None,
        values: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> RunStatus: ...

    def rollback(
        self,
        runbook: Any,
        params: Mapping[str, Any],
        *,
        run_id: str,
        done: Sequence[str],
        values: Mapping[str, Mapping[str, Any]],
    ) -> RunStatus: ...

    def plan(self, runbook: Any, params: Mapping[str, Any]) -> Sequence[Any]: ...


EngineFactory = Callable[[Recorder, str], EngineLike]
"""``(recorder, actor) -> engine`` for one run."""


def engine_factory(
    config: Any, catalog: Catalog | None = None, policies: Callable[[], Any] | None = None
) -> EngineFactory:
    """The factory of the real engine (:mod:`buttress.runbooks.engine`) over ``config``;
    ``policies``: the resilience registry ``breaker.force`` steps act on (the control
    plane's, in ``buttress serve``)."""

    def make(recorder: Recorder, actor: str) -> EngineLike:
        from buttress.runbooks.engine import Engine

        engine: EngineLike = Engine(
            config, catalog=catalog, recorder=recorder, actor=actor, policies=policies
        )
        return engine

    return make


def run_key(run_id: int) -> str:
    """The claim a run holds while it runs."""
    return f"runbook-run:{run_id}"


def exclusive_key(runbook: str) -> str:
    """The claim every run of an ``exclusive`` runbook takes."""
    return f"runbook:{runbook}"


def _holder(run_id: int) -> str:
    return f"run {run_id}"


def _secret_params(runbook: Any) -> set[str]:
    """Names of the runbook's parameters whose values are never stored: declared secret, or
    named like a secret."""
    names: set[str] = set()
    params = getattr(runbook, "params", None) or {}
    items = params.items() if isinstance(params, Mapping) else ((p.name, p) for p in params)
    for name, spec in items:
        declared = getattr(spec, "secret", False) or getattr(spec, "type", None) == "secret"
        if declared or is_secret_name(str(name)):
            names.add(str(name))
    return names


@dataclass(frozen=True)
class RunView:
    """A run and its steps, read together (status already corrected to ``interrupted`` when
    its claim is dead)."""

    run: RunbookRun
    steps: list[RunbookStep]

    @property
    def waiting(self) -> RunbookStep | None:
        """The confirm step waiting for an answer, if any."""
        if self.run.status != "running":
            return None
        return next((s for s in self.steps if s.prompt and s.approved is None), None)


class Definitions(Protocol):
    """What :class:`Runbooks` reads of the ``runbooks:`` configuration section
    (:class:`~buttress.config.RunbooksConfig`): ``get`` raises NotFoundError (or answers
    None) for a name nobody declared."""

    @property
    def all(self) -> Sequence[Any]: ...

    def get(self, name: str) -> Any: ...


class Runbooks:
    """Runs of the configured runbooks, recorded in ``catalog``; see the module docstring.

    Roles are checked by the callers (the API route, the CLI has the machine's rights).

    Args:
        config: the configuration (its ``runbooks`` section).
        catalog: where runs, claims and audit records go.
        engine_factory: makes the engine of one run (:func:`engine_factory` for the real one).
        resolve: checks and converts the parameters given as text (default:
            :func:`buttress.runbooks.params.resolve_params`).
    """

    def __init__(
        self,
        config: Any,
        catalog: Catalog,
        engine_factory: EngineFactory,
        *,
        resolve: Callable[[Any, Mapping[str, str]], dict[str, Any]] | None = None,
        definitions: Definitions | None = None,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.engine_factory = engine_factory
        self._resolve = resolve
        self._definitions = definitions
        self._raw: dict[int, dict[str, Any]] = {}  # run id -> params with secrets, this process
        self._threads: list[threading.Thread] = []

    # -- definitions ---------------------------------------------------------------------

    @property
    def definitions(self) -> Definitions:
        found = self._definitions or getattr(self.config, "runbooks", None)
        if found is None:
            raise UsageError("no runbooks are configured (the 'runbooks:' section)")
        definitions: Definitions = found
        return definitions

    def runbooks(self) -> list[Any]:
        """The configured runbooks, in file order (none without a ``runbooks:`` section)."""
        if self._definitions is None and getattr(self.config, "runbooks", None) is None:
            return []
        return list(self.definitions.all)

    def runbook(self, name: str) -> Any:
        """The runbook called ``name``; NotFoundError if none is configured."""
        found = self.definitions.get(name)
        if found is None:
            raise NotFoundError("runbook", name)
        return found

    def resolve(self, runbook: Any, params: Mapping[str, str]) -> dict[str, Any]:
        """``params`` checked against the runbook's declarations (UsageError/ConfigError)."""
        if self._resolve is not None:
            return self._resolve(runbook, params)
        from buttress.runbooks.params import resolve_params

        resolved: dict[str, Any] = resolve_params(runbook, dict(params))
        return resolved

    # -- starting --------------------------------------------------------------------------

    def start(
        self,
        name: str,
        params: Mapping[str, str],
        actor: str,
        *,
        dry_run: bool = False,
        client: str = "",
    ) -> int:
        """Record a new run of ``name`` and take its claims; :meth:`execute` runs it.

        Raises:
            NotFoundError: no such runbook.
            UsageError: a parameter is unknown, missing or of the wrong type.
            ConflictError: the runbook is exclusive and another run of it is running.
        """
        try:
            runbook = self.runbook(name)
            resolved = self.resolve(runbook, params)
        except ButtressError as exc:
            self._audit_refused("runbook.start", actor, f"runbook={name}", exc, client)
            raise
        return self._new_run(
            runbook, resolved, actor, mode="run", dry_run=dry_run, source=None, client=client
        )

    def _new_run(
        self,
        runbook: Any,
        resolved: Mapping[str, Any],
        actor: str,
        *,
        mode: Mode,
        dry_run: bool,
        source: RunView | None,
        client: str,
    ) -> int:
        secret = _secret_params(runbook)
        shown = {k: (MASK if k in secret else jsonable(v)) for k, v in resolved.items()}
        action = "runbook.start" if mode == "run" else f"runbook.{mode}"
        exclusive = bool(getattr(runbook, "exclusive", False)) and not dry_run
        try:
            with self.catalog.begin() as session:
                run = RunbookRun(
                    runbook=runbook.name,
                    mode=mode,
                    dry_run=dry_run,
                    params=shown,
                    actor=actor[:200],
                    status="running",
                    started_at=utcnow(),
                    resumed_from=None if source is None else source.run.id,
                )
                session.add(run)
                session.flush()
                run_id = run.id
                claims.acquire(session=session, key=run_key(run_id), holder=_holder(run_id))
                if exclusive:
                    claims.acquire(
                        session=session, key=exclusive_key(runbook.name), holder=_holder(run_id)
                    )
                if source is not None and mode == "resume":
                    self._carry(session, source, run_id)
                audit.record(
                    session=session,
                    actor=actor,
                    action=action,
                    outcome="success",
                    target=f"runbook={runbook.name},run={run_id}",
                    client=client,
                    detail={
                        "params": shown,
                        "dry_run": dry_run,
                        "resumed_from": None if source is None else source.run.id,
                    },
                )
        except claims.ClaimHeldError as exc:
            refused = ConflictError(
                f"runbook {runbook.name!r} is exclusive and {exc.claim.holder} of it is still "
                f"running (host {exc.claim.host}, since {exc.claim.claimed_at:%Y-%m-%d %H:%M:%S}"
                " UTC): wait for it to finish, or see 'buttress runbook runs "
                f"{runbook.name}'"
            )
            self._audit_refused(action, actor, f"runbook={runbook.name}", refused, client)
            raise refused from None
        self._raw[run_id] = dict(resolved)
        return run_id

    def _carry(self, session: Session, source: RunView, run_id: int) -> None:
        """Copy the succeeded steps of ``source`` into the resumed run."""
        for seq, step in enumerate((s for s in source.steps if s.status == "succeeded"), 1):
            session.add(
                RunbookStep(
                    run_id=run_id,
                    seq=seq,
                    path=step.path,
                    name=step.name,
                    kind=step.kind,
                    status=step.status,
                    started_at=step.started_at,
                    finished_at=step.finished_at,
                    attempts=step.attempts,
                    output=step.output,
                    values=step.values,
                    error=None,
                    carried=True,
                    prompt=step.prompt,
                    approved=step.approved,
                    confirmed_by=step.confirmed_by,
                    confirmed_at=step.confirmed_at,
                    comment=step.comment,
                    defaulted=step.defaulted,
                )
            )

    def _audit_refused(
        self, action: str, actor: str, target: str, exc: ButtressError, client: str
    ) -> None:
        try:
            with self.catalog.begin() as session:
                audit.record(
                    session=session,
                    actor=actor,
                    action=action,
                    outcome="denied" if isinstance(exc, ConflictError) else "failed",
                    target=target,
                    client=client,
                    detail={"error": str(exc)},
                )
        except ButtressError as failed:  # the refusal itself is what the caller must see
            log.error("could not audit the refused %s of %s: %s", action, target, failed)

    # -- executing -------------------------------------------------------------------------

    def execute(
        self,
        run_id: int,
        *,
        listener: Callable[[StepEvent], None] | None = None,
        ask: Asker | None = None,
        poll: float = POLL,
        params: Mapping[str, Any] | None = None,
    ) -> str:
        """Run the recorded run ``run_id`` in this thread (started by :meth:`start`,
        :meth:`resume` or :meth:`rollback` in this process); its final status."""
        view = self.get(run_id)
        run = view.run
        if run.status != "running" or run.finished_at is not None:
            raise ConflictError(f"run {run_id} is {run.status}: it cannot be executed again")
        resolved = dict(params or self._raw.pop(run_id, None) or run.params)
        runbook = self.runbook(run.runbook)
        keys = [run_key(run_id)]
        if getattr(runbook, "exclusive", False) and not run.dry_run:
            keys.append(exclusive_key(run.runbook))
        beats = [claims.Heartbeat(self.catalog, key, _holder(run_id)).start() for key in keys]
        recorder = CatalogRecorder(
            self.catalog,
            run_id,
            run.actor,
            listener=listener,
            ask=ask,
            poll=poll,
            lost=lambda: any(beat.lost.is_set() for beat in beats),
        )
        try:
            status = self._drive(recorder, runbook, resolved, view)
        except Exception as exc:  # the engine's own failure ends the run, recorded
            log.exception("run %s of %s failed in the engine", run_id, run.runbook)
            recorder.run_finished("failed", f"{type(exc).__name__}: {exc}")
            status = "failed"
        finally:
            for beat in beats:
                beat.stop()
            with self.catalog.begin() as session:
                for key in keys:
                    claims.release(session=session, key=key, holder=_holder(run_id))
        return status

    def execute_in_background(self, run_id: int) -> threading.Thread:
        """:meth:`execute` in a daemon thread of its own (the server's runs); a run the
        process stops with is shown as interrupted."""
        thread = threading.Thread(
            target=self.execute, args=(run_id,), name=f"buttress-runbook-run-{run_id}", daemon=True
        )
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()
        return thread

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the background runs to end; whether they did."""
        for thread in list(self._threads):
            thread.join(timeout)
            if thread.is_alive():
                return False
        return True

    def _drive(
        self, recorder: CatalogRecorder, runbook: Any, params: dict[str, Any], view: RunView
    ) -> str:
        run = view.run
        engine = self.engine_factory(recorder, run.actor)
        if run.dry_run:
            return self._plan(recorder, engine, runbook, params)
        if run.mode == "rollback":
            source = self.get(run.resumed_from) if run.resumed_from is not None else view
            done = [s.path for s in source.steps if s.status == "succeeded" and "." not in s.path]
            values = _values(source.steps)
            status: str = engine.rollback(
                runbook, params, run_id=str(run.id), done=done, values=values
            )
        elif run.mode == "resume":
            source = self.get(run.resumed_from) if run.resumed_from is not None else view
            start_at = self._start_at(runbook, source)
            status = engine.run(
                runbook, params, run_id=str(run.id), start_at=start_at, values=_values(view.steps)
            )
        else:
            status = engine.run(runbook, params, run_id=str(run.id))
        self._ensure_finished(run.id, status)
        return status

    def _plan(
        self, recorder: CatalogRecorder, engine: EngineLike, runbook: Any, params: dict[str, Any]
    ) -> str:
        """A dry run: the engine's plan, one ``skipped`` step row per planned step."""
        planned = engine.plan(runbook, params)
        problems: list[str] = []
        for index, step in enumerate(planned):
            path = str(getattr(step, "path", index))
            recorder.step_started(
                path, str(getattr(step, "name", path)), str(getattr(step, "kind", ""))
            )
            problem = "; ".join(getattr(step, "problems", None) or ())
            detail = getattr(step, "action", None) or str(step)
            if problem:
                problems.append(f"step {path}: {problem}")
            recorder.step_finished(
                path,
                "failed" if problem else "skipped",
                output=str(detail),
                values={},
                error=str(problem) if problem else None,
                attempts=0,
            )
        status: RunStatus = "failed" if problems else "succeeded"
        recorder.run_finished(status, "; ".join(problems) or None)
        return status

    def _ensure_finished(self, run_id: int, status: str) -> None:
        """The engine reports the end through ``run_finished``; should it not have, the
        status it returned is stored."""
        with self.catalog.begin() as session:
            session.execute(
                update(RunbookRun)
                .where(RunbookRun.id == run_id, RunbookRun.finished_at.is_(None))
                .values(status=status, finished_at=utcnow())
            )

    def _start_at(self, runbook: Any, view: RunView) -> str | None:
        top = sorted(
            (s for s in view.steps if "." not in s.path and s.path.isdigit()),
            key=lambda s: int(s.path),
        )
        if not top:
            return None
        last = top[-1]
        if last.status != "succeeded":
            return last.path
        following = int(last.path) + 1
        if following >= len(getattr(runbook, "steps", ())):
            raise ConflictError(f"run {view.run.id}: every step had succeeded; nothing to resume")
        return str(following)

    # -- reading ---------------------------------------------------------------------------

    def runs(self, name: str | None = None, *, limit: int = 50) -> list[RunbookRun]:
        """Runs, newest first (of ``name`` only, if given); dead running ones as interrupted."""
        with self.catalog.begin() as session:
            query = select(RunbookRun).order_by(RunbookRun.id.desc()).limit(limit)
            if name is not None:
                query = query.where(RunbookRun.runbook == name)
            rows = list(session.scalars(query))
            for row in rows:
                if row.status == "running":
                    self._check_alive(session, row)
            session.expunge_all()
        return rows

    def get(self, run_id: int) -> RunView:
        """Run ``run_id`` with its steps in the order they started; NotFoundError."""
        with self.catalog.begin() as session:
            run = session.get(RunbookRun, run_id, populate_existing=True)
            if run is None:
                raise NotFoundError("runbook run", str(run_id))
            if run.status == "running":
                self._check_alive(session, run)
            steps = list(
                session.scalars(
                    select(RunbookStep)
                    .where(RunbookStep.run_id == run_id)
                    .order_by(RunbookStep.seq)
                    .execution_options(populate_existing=True)
                )
            )
            session.expunge_all()
        return RunView(run, steps)

    def _check_alive(self, session: Session, run: RunbookRun) -> None:
        """Store ``interrupted`` for a running run whose claim is dead or gone."""
        claim = claims.get(session=session, key=run_key(run.id))
        if claim is not None and claim.holder == _holder(run.id):
            if claims.state(claim, claims.catalog_now(session)) == "live":
                return
        elif claim is None:
            # the claim is released after the final status is written: read it again
            session.refresh(run)
            if run.status != "running":
                return
        now = utcnow()
        session.execute(
            update(RunbookStep)
            .where(RunbookStep.run_id == run.id, RunbookStep.status == "running")
            .values(status="interrupted", finished_at=now)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(RunbookRun)
            .where(RunbookRun.id == run.id, RunbookRun.status == "running")
            .values(
                status="interrupted",
                finished_at=now,
                error="the process running it stopped (killed, crashed or lost) mid-run",
            )
            .execution_options(synchronize_session=False)
        )
        session.refresh(run)

    # -- acting on a run -----------------------------------------------------------------

    def confirm(
        self,
        run_id: int,
        step: str | None,
        approved: bool,
        actor: str,
        *,
        comment: str = "",
        client: str = "",
    ) -> RunbookStep:
        """Answer the confirm step of ``run_id`` that waits (``step``: its path or name, when
        several could). ConflictError when no step waits (or it was answered meanwhile)."""
        view = self.get(run_id)
        waiting = [s for s in view.steps if s.prompt and s.approved is None]
        if step is not None:
            waiting = [s for s in waiting if step in (s.path, s.name)]
        if view.run.status != "running" or not waiting:
            error = ConflictError(
                f"run {run_id} has no confirm step waiting for an answer"
                + (f" at {step!r}" if step else "")
                + f" (run {view.run.status})"
            )
            self._audit_refused("runbook.confirm", actor, f"run={run_id}", error, client)
            raise error
        target = waiting[0]
        with self.catalog.begin() as session:
            if not answer(
                session, run_id, target.path, approved=approved, actor=actor, comment=comment
            ):
                raise ConflictError(f"run {run_id}: step {target.path} was answered meanwhile")
            audit_confirm(session, run_id, target.path, approved, actor, False)
        return self.get(run_id).steps[view.steps.index(target)]

    def resume(
        self,
        run_id: int,
        actor: str,
        *,
        params: Mapping[str, str] | None = None,
        client: str = "",
    ) -> int:
        """A new run continuing ``run_id`` (failed or interrupted) from the step it stopped
        at, with the values of the steps that had succeeded; :meth:`execute` runs it.
        ``params`` gives again the secret parameters (they are not stored)."""
        return self._follow(run_id, actor, "resume", params, client)

    def rollback(
        self,
        run_id: int,
        actor: str,
        *,
        params: Mapping[str, str] | None = None,
        client: str = "",
    ) -> int:
        """A new run rolling back what ``run_id`` did (its succeeded steps' rollback steps,
        then the runbook's); :meth:`execute` runs it."""
        return self._follow(run_id, actor, "rollback", params, client)

    def _follow(
        self,
        run_id: int,
        actor: str,
        mode: Mode,
        params: Mapping[str, str] | None,
        client: str,
    ) -> int:
        action = f"runbook.{mode}"
        try:
            view = self.get(run_id)
            allowed = ("failed", "interrupted") if mode == "resume" else tuple(FINISHED)
            if view.run.status not in allowed or view.run.dry_run:
                what = "a dry run" if view.run.dry_run else view.run.status
                raise ConflictError(
                    f"run {run_id} is {what}: only a failed or interrupted run can be "
                    + ("resumed" if mode == "resume" else "rolled back")
                )
            if mode == "rollback" and view.run.status == "rolled_back":
                raise ConflictError(f"run {run_id} is already rolled back")
            with self.catalog.begin() as session:  # a run is continued once, not twice
                later = session.scalars(
                    select(RunbookRun.id).where(
                        RunbookRun.resumed_from == run_id, RunbookRun.mode == mode
                    )
                ).first()
            if later is not None:
                verb = "resumed" if mode == "resume" else "rolled back"
                raise ConflictError(
                    f"run {run_id} was already {verb} by run {later}"
                    + (f" (resume run {later} instead)" if mode == "resume" else "")
                )
            runbook = self.runbook(view.run.runbook)
            given = {k: v for k, v in view.run.params.items() if v != MASK}
            missing = sorted(k for k, v in view.run.params.items() if v == MASK)
            given.update(params or {})
            missing = [k for k in missing if k not in (params or {})]
            if missing:
                raise UsageError(
                    f"run {run_id}: the secret parameter(s) {', '.join(missing)} are not "
                    "stored; give them again (--param NAME=VALUE)"
                )
            resolved = self.resolve(runbook, {k: _text(v) for k, v in given.items()})
        except ButtressError as exc:
            self._audit_refused(action, actor, f"run={run_id}", exc, client)
            raise
        return self._new_run(
            runbook, resolved, actor, mode=mode, dry_run=False, source=view, client=client
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _values(steps: Sequence[RunbookStep]) -> dict[str, Any]:
    """``{step name: its values}`` of the steps that succeeded (templates' ``steps.<name>``)."""
    return {s.name: dict(s.values) for s in steps if s.status == "succeeded"}
