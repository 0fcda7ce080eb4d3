"""Escalation at run time: each incident's escalation is moved by one job runner timer
(``incident:<id>``, handler ``incidents.escalate``) and remembered in ``incident_escalations``,
so a restart loses nothing and, with several replicas, only the leader fires it, once.

Every change of an incident (opened, reopened, acknowledged, resolved...) calls :func:`kick`
in the same transaction, which sets the timer due now; the timer's handler
(:meth:`Escalations.run`) reads the incident and its escalation row, asks
:func:`~buttress.incidents.escalation_plan.decide` what to do, stores the new position with its
timeline events (``escalated``, ``target_breached``, ``timer_late``) and sets the next timer,
then sends the notification outside the transaction and records each channel's delivery as a
``notification`` event. A timer that fires late (the control plane was down) says how late in
the timeline and still fires once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, literal
from sqlalchemy.orm import Session

from buttress.catalog import Catalog, claims
from buttress.config._incidents import IncidentsConfig, ResponseTarget
from buttress.incidents.escalation_plan import Position, Send, Step, decide
from buttress.incidents.notify.dispatch import Delivery
from buttress.incidents.notify.message import Notification, Recipient
from buttress.incidents.oncall import resolve_targets
from buttress.incidents.tables import Incident, IncidentEscalation, IncidentEvent
from buttress.incidents.wake import HANDLER, kick, timer_key
from buttress.jobs import JobContext, set_timer

__all__ = ["HANDLER", "LATE_AFTER", "Escalations", "kick", "timer_key"]

log = logging.getLogger("buttress.incidents")

ACTOR = "escalation"
LATE_AFTER = 5.0
"""Seconds late beyond which a timer says, in the timeline, that it fired late."""
RETRY_AFTER = 30.0
"""Seconds before a step that failed is tried again."""
LOST_AFTER = 120.0
"""Seconds overdue, with no timer, after which :meth:`Escalations.sweep` sets one again."""
SWEEP_HANDLER = "incidents.escalation_sweep"

Sender = Callable[[Notification, Sequence[str]], Sequence[Delivery]]


def _event(
    session: Session, incident_id: int, now: dt.datetime, what: str, /, **detail: Any
) -> None:
    session.add(
        IncidentEvent(incident_id=incident_id, at=now, kind=what, actor=ACTOR, detail=detail)
    )


@dataclass(frozen=True, slots=True)
class _Outbox:
    """A notification decided in the transaction, sent after it."""

    incident_id: int
    notification: Notification
    channels: tuple[str, ...]


class Escalations:
    """Runs the escalation timers of one control plane.

    Args:
        catalog: the catalog the incidents and timers are in.
        config: the ``incidents:`` section.
        send: sends one notification on named channels and says how each went (the
            notifiers' :meth:`~buttress.incidents.notify.dispatch.Dispatcher.send_sync`).
        on_breach: called with (severity, target) for each response target breached (the
            metric).
        on_escalate: called with (severity, kind) for each notification decided (the metric).
        after_step: called with the incident's id after each step's transaction (and its
            sends): what else follows an incident's changes (automated actions) runs here,
            on the same timer, once across replicas. Its failure is logged, never raised.
        clock: the time now (tests move it).
    """

    def __init__(
        self,
        catalog: Catalog,
        config: IncidentsConfig,
        send: Sender,
        *,
        on_breach: Callable[[str, str], None] | None = None,
        on_escalate: Callable[[str, str], None] | None = None,
        after_step: Callable[[int], None] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.catalog = catalog
        self.config = config
        self.send = send
        self.on_breach = on_breach
        self.on_escalate = on_escalate
        self.after_step = after_step
        self._clock = clock

    def clock(self) -> dt.datetime:
        """The time now: the given clock's, else this machine's (outside a transaction)."""
        return self._clock() if self._clock is not None else dt.datetime.now(dt.UTC)

    def sweep(self, ctx: JobContext | None = None) -> list[int]:
        """Set again the timer of every escalation that lost its own: one whose next step is
        over :data:`LOST_AFTER` seconds overdue with no timer, or an open incident with no
        step and no timer (a replica killed in the middle of a step took the timer's row with
        it). Runs as a recurring job; returns the incidents it woke."""
        from sqlalchemy import and_, or_, select

        from buttress.jobs.tables import JobRow

        with self.catalog.begin() as session:
            if ctx is not None:
                ctx.fence(session)
            now = claims.catalog_now(session)
            key = literal("incident:") + cast(Incident.id, String)
            timer = select(JobRow.key).where(JobRow.key == key).exists()
            late = now - dt.timedelta(seconds=LOST_AFTER)
            query = (
                select(Incident.id)
                .outerjoin(IncidentEscalation, IncidentEscalation.incident_id == Incident.id)
                .where(
                    Incident.status.in_(("triggered", "acknowledged", "mitigated")),
                    ~timer,
                    or_(
                        IncidentEscalation.incident_id.is_(None),
                        and_(
                            IncidentEscalation.next_at.is_not(None),
                            IncidentEscalation.next_at < late,
                        ),
                    ),
                )
                .limit(500)
            )
            woken = list(session.scalars(query))
            for incident_id in woken:
                set_timer(session, timer_key(incident_id), now, HANDLER, {"incident": incident_id})
        if woken:
            log.warning("escalation timers set again for incidents %s (lost)", woken)
        return woken

    def run(self, ctx: JobContext) -> None:
        """The timer handler: one step of the incident named by the payload. A step that
        fails (the catalog went away mid-step) is tried again :data:`RETRY_AFTER` seconds
        later, so an escalation is never left without a timer; the run is still recorded as
        failed, with its error."""
        incident_id = int(ctx.payload["incident"])
        try:
            self.step(incident_id, late=ctx.late, ctx=ctx)
        except Exception:  # a superseded leader's too: its run took the timer's row
            try:
                with self.catalog.begin() as session:
                    set_timer(
                        session,
                        timer_key(incident_id),
                        self.clock() + dt.timedelta(seconds=RETRY_AFTER),
                        HANDLER,
                        {"incident": incident_id},
                        earliest=True,
                    )
            except Exception:  # the catalog is down: the next change of the incident kicks it
                log.exception(
                    "incident %d: its escalation timer could not be set again", incident_id
                )
            raise

    def step(
        self, incident_id: int, *, late: float = 0.0, ctx: JobContext | None = None
    ) -> Step | None:
        """Decide, store and send one step of ``incident_id``'s escalation; None when the
        incident is gone."""
        with self.catalog.begin() as session:
            if ctx is not None:
                ctx.fence(session)  # a superseded leader's step must not land
            # the catalog's clock, as the runner's due times: a replica whose own clock lags
            # would otherwise find its wake-up not due yet, again and again
            now = self._clock() if self._clock is not None else claims.catalog_now(session)
            incident = session.get(Incident, incident_id)
            if incident is None:
                return None
            row = session.get(IncidentEscalation, incident_id)
            if row is None:
                row = IncidentEscalation(
                    incident_id=incident_id,
                    policy=self.config.policy_for(incident.labels, incident.severity),
                    state="new",
                    level=-1,
                    cycle=0,
                    next_at=None,
                    channels=[],
                    breaches=[],
                    reminders=0,
                    updated_at=now,
                )
                session.add(row)
            if row.policy not in self.config.escalation_policies:
                # first step, or the policy is gone from the configuration (renamed): the
                # rules as they are now pick it
                chosen = self.config.policy_for(incident.labels, incident.severity)
                if row.policy is not None and chosen != row.policy:
                    _event(
                        session, incident_id, now, "escalation_policy", old=row.policy, new=chosen
                    )
                row.policy = chosen
            policy = self.config.escalation_policies.get(row.policy) if row.policy else None
            target = self.config.response_targets.get(incident.severity)  # type: ignore[call-overload]
            if target is None:  # a severity without a target: only the policy's waits count
                target = ResponseTarget(respond=10 * 365 * 86400)
            step = decide(
                policy=policy,
                target=target,
                status=incident.status,
                triggered_at=incident.triggered_at,
                acknowledged_at=incident.acknowledged_at,
                position=Position(
                    state=row.state,  # type: ignore[arg-type]
                    level=row.level,
                    cycle=row.cycle,
                    next_at=row.next_at,
                    breaches=tuple(row.breaches),
                    reminders=row.reminders,
                ),
                now=now,
            )
            if late > LATE_AFTER:
                _event(
                    session,
                    incident_id,
                    now,
                    "timer_late",
                    late_s=round(late, 1),
                    note=f"escalation timer fired {late:.0f} s late (was the control plane down?)",
                )
            for name in step.breached:
                due = incident.triggered_at + dt.timedelta(seconds=target.respond)
                _event(
                    session,
                    incident_id,
                    now,
                    "target_breached",
                    target=name,
                    severity=incident.severity,
                    due=due.isoformat(),
                    late_s=round((now - due).total_seconds(), 1),
                )
                if self.on_breach is not None:
                    self.on_breach(incident.severity, name)
            outbox = None
            if step.send is not None:
                outbox = self._outbox(session, incident, row, step.send, now)
            pos = step.position
            row.state, row.level, row.cycle = pos.state, pos.level, pos.cycle
            row.next_at, row.breaches, row.reminders = (
                pos.next_at,
                list(pos.breaches),
                pos.reminders,
            )
            row.updated_at = now
            if step.wake is not None:
                set_timer(
                    session,
                    timer_key(incident_id),
                    step.wake,
                    HANDLER,
                    {"incident": incident_id},
                    earliest=True,
                )
        if outbox is not None:
            self._deliver(outbox)
        if self.after_step is not None:
            try:
                self.after_step(incident_id)
            except Exception:  # what follows must not undo the step
                log.exception("after the escalation step of incident %d", incident_id)
        return step

    def _outbox(
        self,
        session: Session,
        incident: Incident,
        row: IncidentEscalation,
        send: Send,
        now: dt.datetime,
    ) -> _Outbox | None:
        """The notification ``send`` stands for, with its ``escalated`` timeline event; the
        channels it uses join the row's, so later news reaches them too."""
        policy = self.config.escalation_policies.get(row.policy or "")
        recipients: list[Recipient] = []
        if send.level is None:
            channels = list(row.channels)
        else:
            if policy is None:  # pragma: no cover - decide() sends levels only with a policy
                return None
            level = policy.levels[min(send.level, len(policy.levels) - 1)]  # shortened since
            channels = list(level.channels if level.channels is not None else policy.channels)
            oncall = self.config.oncall
            names = resolve_targets(
                oncall,
                users=level.notify.users,
                schedules=level.notify.schedules,
                teams=level.notify.teams,
                at=now,
            )
            for name in names:
                user = oncall.users[name]
                recipients.append(
                    Recipient(name, email=user.email, slack=user.slack, phone=user.phone)
                )
            row.channels = sorted({*row.channels, *channels})
        _event(
            session,
            incident.id,
            now,
            "escalated" if send.kind in ("triggered", "escalated") else f"notify_{send.kind}",
            kind=send.kind,
            level=None if send.level is None else send.level + 1,
            cycle=row.cycle if send.level is None else None,
            policy=row.policy,
            recipients=[r.name for r in recipients],
            channels=channels,
        )
        if self.on_escalate is not None:
            self.on_escalate(incident.severity, send.kind)
        if not channels:
            return None
        return _Outbox(incident.id, self._notification(incident, send, recipients), tuple(channels))

    def _notification(
        self, incident: Incident, send: Send, recipients: list[Recipient]
    ) -> Notification:
        base = self.config.public_url
        url = f"{base.rstrip('/')}/#/incidents?ref={incident.ref}" if base else None
        return Notification(
            kind=send.kind,
            ref=incident.ref,
            title=incident.title,
            severity=incident.severity,  # type: ignore[arg-type]
            status=incident.status,
            services=list(incident.services),
            impact=incident.impact,
            url=url,
            ack_url=f"{url}&action=ack" if url else None,
            resolve_url=f"{url}&action=resolve" if url else None,
            recipients=recipients,
            level=None if send.level is None else send.level + 1,
        )

    def _deliver(self, outbox: _Outbox) -> None:
        """Send, then record every channel's outcome in the timeline (a send never raises)."""
        try:
            deliveries = list(self.send(outbox.notification, outbox.channels))
        except Exception as exc:
            log.exception("notification of incident %s failed", outbox.notification.ref)
            deliveries = [
                Delivery(name, "unknown", False, 0, None, f"{type(exc).__name__}", 0.0)
                for name in outbox.channels
            ]
        with self.catalog.begin() as session:
            now = self.clock() if self._clock is not None else claims.catalog_now(session)
            for delivery in deliveries:
                _event(
                    session,
                    outbox.incident_id,
                    now,
                    "notification",
                    kind=outbox.notification.kind,
                    channel=delivery.channel,
                    type=delivery.type,
                    outcome=delivery.outcome,
                    attempts=delivery.attempts,
                    status=delivery.status,
                    error=delivery.error,
                    elapsed_s=round(delivery.elapsed_s, 3),
                )
