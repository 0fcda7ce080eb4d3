"""Automated actions at run time: after each escalation step of an incident (on the leader,
once across replicas: :class:`~buttress.incidents.escalation.Escalations`' ``after_step``),
:meth:`Actions.run_for` runs the ``incidents.actions`` rules that match the incident's labels,
severity and current status.

A rule runs at most once per (incident, rule, status), claimed by a row of
``incident_action_runs`` before it acts; and at most ``max_runs`` times within ``per`` over
all incidents, else its run is recorded once as ``throttled`` and nothing is done (so an
action that makes an alert fire that opens an incident that runs the action again stops).
Every run is a row, an ``action`` timeline event, an audit record and a log line; a failure is
recorded as ``failed`` and never raised into the escalation step.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from buttress.catalog import Catalog, audit
from buttress.config._incident_actions import ActionRule
from buttress.errors import CatalogError, NotFoundError
from buttress.incidents.actions_do import ActionError, Doer, Facts
from buttress.incidents.tables import Incident, IncidentActionRun, IncidentEvent

if TYPE_CHECKING:
    from buttress.config import ButtressConfig
    from buttress.resilience.registry import PolicyRegistry

__all__ = ["ActionResult", "Actions", "Decision", "Outcome", "decide", "runs_of"]

log = logging.getLogger("buttress.incidents")

ACTOR = "actions"
Outcome = Literal["ok", "failed", "dry_run", "throttled", "running"]
"""``running``: claimed, still acting (left so by a process that died mid-action)."""
Decision = Literal["run", "dry_run", "throttled", "done", "no_match"]
_COUNTED = ("ok", "failed", "running")
_AUDIT: dict[str, audit.Outcome] = {
    "failed": "failed",
    "throttled": "denied",
}  # what counts against max_runs: the runs that acted


@dataclass(frozen=True, slots=True)
class ActionResult:
    """How one rule went for one incident."""

    rule: str
    type: str
    outcome: Outcome
    dry_run: bool
    what: str
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def decide(rule: ActionRule, *, matched: bool, done: bool, recent: int) -> Decision:
    """What to do with ``rule`` now: ``done`` it already ran for this incident and status;
    ``recent`` its runs within its window (all incidents)."""
    if not matched:
        return "no_match"
    if done:
        return "done"
    if recent >= rule.max_runs:
        return "throttled"
    return "dry_run" if rule.dry_run else "run"


def _facts(incident: Incident, public_url: str | None) -> Facts:
    url = f"{public_url.rstrip('/')}/#/incidents?ref={incident.ref}" if public_url else None
    return Facts(
        id=incident.id,
        ref=incident.ref,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        services=list(incident.services),
        impact=incident.impact,
        labels=dict(incident.labels),
        url=url,
    )


class Actions:
    """Runs the automated action rules of one control plane.

    Args:
        catalog: the catalog the incidents are in.
        config: the whole configuration (``incidents.actions``; the actions use other
            sections).
        policies: the control plane's resilience registry (for breakers and webhook
            policies), asked for on first use.
        background: runs a backup or a restore test (default: a daemon thread).
        clock: the time now (tests move it).
    """

    def __init__(
        self,
        catalog: Catalog,
        config: ButtressConfig,
        *,
        policies: Callable[[], PolicyRegistry] | None = None,
        background: Callable[[str, Callable[[], None]], None] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.catalog = catalog
        self.config = config
        self.rules = {rule.name: rule for rule in config.incidents.actions}
        self.doer = Doer(catalog, config, policies=policies, background=background)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._rule_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def _recent(self, session: Session, rule: ActionRule, now: dt.datetime) -> int:
        since = now - dt.timedelta(seconds=rule.per)
        query = select(func.count()).where(
            IncidentActionRun.rule == rule.name,
            IncidentActionRun.at > since,
            IncidentActionRun.outcome.in_(_COUNTED),
        )
        return int(session.scalar(query) or 0)

    def _done(self, session: Session, incident_id: int, rule: str, status: str) -> bool:
        query = select(IncidentActionRun.id).where(
            IncidentActionRun.incident_id == incident_id,
            IncidentActionRun.rule == rule,
            IncidentActionRun.status == status,
        )
        return session.scalar(query) is not None

    def run_for(self, incident_id: int) -> list[ActionResult]:
        """Run the rules that match incident ``incident_id`` now; one result per rule that
        ran, was dry-run or throttled (none for an incident gone). Never raises for a rule's
        failure."""
        if not self.rules:
            return []
        with self.catalog.begin() as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                return []
            facts = _facts(incident, self.config.incidents.public_url)
        results = []
        for rule in self.rules.values():
            if not rule.matches(facts.labels, facts.severity, facts.status):
                continue
            try:
                result = self._run(rule, facts)
            except Exception:  # a bug of one rule must not stop the others or the step
                log.exception("action rule %s of incident %s", rule.name, facts.ref)
                continue
            if result is not None:
                results.append(result)
        return results

    def after_step(self, incident_id: int) -> None:
        """:meth:`run_for`, as :class:`~buttress.incidents.escalation.Escalations`'
        ``after_step`` hook."""
        self.run_for(incident_id)

    def _run(self, rule: ActionRule, facts: Facts) -> ActionResult | None:
        now = self.clock()
        what = self.doer.describe(rule, facts)
        with self._locks_lock:
            lock = self._rule_locks.setdefault(rule.name, threading.Lock())
        try:
            # one rule's window is counted and claimed by one step at a time: in this process
            # (steps of several incidents run at once) and, on PostgreSQL, across replicas
            with lock, self.catalog.begin() as session:
                if self.catalog.backend == "postgresql":
                    session.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": zlib.crc32(f"buttress-action:{rule.name}".encode()) & 0x7FFFFFFF},
                    )
                if self._done(session, facts.id, rule.name, facts.status):
                    return None
                decision = decide(
                    rule, matched=True, done=False, recent=self._recent(session, rule, now)
                )
                outcome: Outcome = "running" if decision == "run" else decision  # type: ignore[assignment]
                note = what
                if decision == "dry_run":
                    note = f"would {what}"
                elif decision == "throttled":
                    note = f"not run: {rule.max_runs} run(s) within {rule.per:g}s already"
                row = IncidentActionRun(
                    incident_id=facts.id,
                    rule=rule.name,
                    status=facts.status,
                    at=now,
                    outcome=outcome,
                    detail={"what": note},
                    dry_run=rule.dry_run,
                )
                session.add(row)
                session.flush()  # the claim: a second run for this status collides here
                run_id = row.id
                if decision != "run":
                    result = ActionResult(rule.name, rule.do.type, outcome, rule.dry_run, note)
                    self._record(session, facts, result, now)
                    return result
        except CatalogError as exc:  # another run claimed it first (or the incident is gone)
            if isinstance(exc.__cause__, IntegrityError):
                return None
            raise
        try:
            done, detail = self.doer.do(rule, facts)
            result = ActionResult(rule.name, rule.do.type, "ok", False, done, detail=detail)
        except ActionError as exc:
            result = ActionResult(rule.name, rule.do.type, "failed", False, what, str(exc))
        except Exception as exc:  # recorded as failed, never raised into the step
            log.exception("action rule %s of incident %s", rule.name, facts.ref)
            error = f"internal error: {type(exc).__name__}"
            result = ActionResult(rule.name, rule.do.type, "failed", False, what, error)
        finished = self.clock()
        with self.catalog.begin() as session:
            claimed = session.get(IncidentActionRun, run_id)
            if claimed is not None:
                claimed.outcome = result.outcome
                claimed.detail = {"what": result.what, "error": result.error, **result.detail}
                self._record(session, facts, result, finished)
        return result

    def _record(
        self, session: Session, facts: Facts, result: ActionResult, now: dt.datetime
    ) -> None:
        """The run's timeline event, audit record and log line."""
        session.add(
            IncidentEvent(
                incident_id=facts.id,
                at=now,
                kind="action",
                actor=ACTOR,
                detail={
                    "rule": result.rule,
                    "type": result.type,
                    "outcome": result.outcome,
                    "dry_run": result.dry_run,
                    "error": result.error,
                    "what": result.what,
                },
            )
        )
        audit.record(
            session=session,
            actor=facts.actor,
            action=f"incident.action.{result.type}",
            outcome=_AUDIT.get(result.outcome, "success"),
            target=f"incident={facts.ref},rule={result.rule}",
            detail={
                "outcome": result.outcome,
                "dry_run": result.dry_run,
                "what": result.what,
                "error": result.error,
            },
            at=now,
        )
        level = logging.WARNING if result.outcome in ("failed", "throttled") else logging.INFO
        log.log(
            level,
            "action %s (%s) of %s: %s: %s%s",
            result.rule, result.type, facts.ref, result.outcome, result.what,
            f": {result.error}" if result.error else "",
        )  # fmt: skip

    def preview(self, *, session: Session, incident: Incident, rule: str) -> ActionResult:
        """What ``rule`` would do for ``incident`` now, changing nothing: outcome
        ``dry_run``, with ``detail.decision`` what a run now would decide (``run``,
        ``dry_run``, ``throttled``, ``done``, ``no_match``).

        Raises:
            NotFoundError: no rule of that name.
        """
        found = self.rules.get(rule)
        if found is None:
            raise NotFoundError("action rule", rule)
        facts = _facts(incident, self.config.incidents.public_url)
        decision = decide(
            found,
            matched=found.matches(facts.labels, facts.severity, facts.status),
            done=self._done(session, facts.id, found.name, facts.status),
            recent=self._recent(session, found, self.clock()),
        )
        return ActionResult(
            found.name,
            found.do.type,
            "dry_run",
            True,
            f"would {self.doer.describe(found, facts)}",
            detail={"decision": decision, "status": facts.status},
        )


def runs_of(*, session: Session, incident: Incident) -> list[IncidentActionRun]:
    """The action runs of ``incident``, oldest first."""
    query = select(IncidentActionRun).where(IncidentActionRun.incident_id == incident.id)
    return list(session.scalars(query.order_by(IncidentActionRun.id)))
