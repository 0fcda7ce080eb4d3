"""The escalation decision, pure: given where an incident's escalation stands, the incident's
status and the time, what to send now, which response targets are newly breached, where the
escalation stands next and when to look again.

:mod:`buttress.incidents.escalation` runs it from a job runner timer and does the sending; the
decision knows nothing of the catalog, channels or people, so every rule below is tested on
its own (tests/incidents/test_escalation_plan.py).

- A new incident (``triggered``) notifies level 1 at once (kind ``triggered``); each later
  timer that finds it still ``triggered`` notifies the next level (``escalated``), the wait
  between being the level's ``wait``, else the severity's ``escalate`` delay, else the next
  business day's start (targets that say so), else the ``respond`` target. After the last level
  the policy starts again, up to ``repeat`` times; then the escalation is ``exhausted`` (no more
  sends; the incident is still open and its breaches still reported).
- An acknowledgement (``acknowledged`` or ``mitigated``) stops it and is sent to every channel
  used so far (PagerDuty's acknowledge). If the policy re-notifies, a reminder goes to the
  last level notified every ``renotify_acknowledged_after`` until it is resolved.
- A resolution (``resolved``/``closed``) is sent once to every channel used so far.
- A reopened incident (``triggered`` again after ``resolved``) escalates afresh from level 1.
- The ``respond`` target is breached when the incident is still ``triggered`` at
  ``triggered_at + respond``; it is reported once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Literal

from buttress.config._escalation import EscalationPolicy
from buttress.config._incidents import ResponseTarget

__all__ = ["Position", "Send", "Step", "decide", "level_wait"]

Kind = Literal["triggered", "escalated", "acknowledged", "resolved", "reminder"]
State = Literal["new", "escalating", "acknowledged", "exhausted", "resolved"]


@dataclass(frozen=True, slots=True)
class Position:
    """Where an escalation stands (a row of ``incident_escalations``)."""

    state: State = "new"
    level: int = -1
    cycle: int = 0
    next_at: dt.datetime | None = None
    breaches: tuple[str, ...] = ()
    reminders: int = 0


@dataclass(frozen=True, slots=True)
class Send:
    """A notification to send: ``level`` is the policy level whose people and channels get it;
    None for acknowledgement and resolution, which go to every channel used so far."""

    kind: Kind
    level: int | None


@dataclass(frozen=True, slots=True)
class Step:
    """The decision: the new position, what to send (if anything), the response targets newly
    breached, and when to decide again (None: only a status change will)."""

    position: Position
    send: Send | None
    breached: tuple[str, ...]
    wake: dt.datetime | None


def level_wait(
    policy: EscalationPolicy, level: int, target: ResponseTarget, now: dt.datetime
) -> dt.datetime:
    """When the level notified at ``now`` gives way to the next."""
    wait = policy.levels[level].wait
    if wait is None:
        if target.escalate is not None:
            wait = target.escalate
        elif target.escalate_next_business_day:
            return policy.business_hours.next_start(now, policy.time_zone)
        else:
            wait = target.respond
    return now + dt.timedelta(seconds=wait)


def _soonest(*times: dt.datetime | None) -> dt.datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None


def decide(
    *,
    policy: EscalationPolicy | None,
    target: ResponseTarget,
    status: str,
    triggered_at: dt.datetime,
    acknowledged_at: dt.datetime | None,
    position: Position,
    now: dt.datetime,
) -> Step:
    """The next step of one incident's escalation (see the module docstring)."""
    pos = position
    if status in ("resolved", "closed"):
        if pos.state in ("resolved", "new"):
            return Step(replace(pos, state="resolved", next_at=None), None, (), None)
        return Step(replace(pos, state="resolved", next_at=None), Send("resolved", None), (), None)
    if status == "triggered" and pos.state in ("resolved", "acknowledged"):
        pos = Position(breaches=pos.breaches)  # reopened: escalate afresh
    breached: tuple[str, ...] = ()
    respond_at = triggered_at + dt.timedelta(seconds=target.respond)
    pending_respond: dt.datetime | None = None
    if status == "triggered" and "respond" not in pos.breaches:
        if now >= respond_at:
            breached = ("respond",)
            pos = replace(pos, breaches=(*pos.breaches, "respond"))
        else:
            pending_respond = respond_at
    if status == "triggered":
        if policy is None:  # stays "new": a policy configured later starts from level 1
            return Step(replace(pos, next_at=None), None, breached, pending_respond)
        due = pos.state == "new" or (
            pos.state == "escalating" and pos.next_at is not None and now >= pos.next_at
        )
        if not due:
            return Step(pos, None, breached, _soonest(pos.next_at, pending_respond))
        first = pos.state == "new"
        level, cycle = (0, 0) if first else (pos.level + 1, pos.cycle)
        if level >= len(policy.levels):  # past the last (or a policy shortened since)
            level, cycle = 0, cycle + 1
        if cycle > policy.repeat:
            pos = replace(pos, state="exhausted", next_at=None)
            return Step(pos, None, breached, pending_respond)
        next_at = level_wait(policy, level, target, now)
        pos = replace(pos, state="escalating", level=level, cycle=cycle, next_at=next_at)
        send = Send("triggered" if first else "escalated", level)
        return Step(pos, send, breached, _soonest(next_at, pending_respond))
    # acknowledged or mitigated
    renotify = policy.renotify_acknowledged_after if policy is not None else None
    if pos.state != "acknowledged":
        since = acknowledged_at or now
        # reminders go to the last level notified: none when nobody was (acknowledged first)
        until = since + dt.timedelta(seconds=renotify) if renotify and pos.level >= 0 else None
        told = Send("acknowledged", None) if pos.level >= 0 else None
        pos = replace(pos, state="acknowledged", next_at=until, reminders=0)
        return Step(pos, told, breached, until)
    if renotify and pos.next_at is not None and now >= pos.next_at:
        next_at = now + dt.timedelta(seconds=renotify)
        pos = replace(pos, next_at=next_at, reminders=pos.reminders + 1)
        return Step(pos, Send("reminder", pos.level), breached, next_at)
    return Step(pos, None, breached, pos.next_at)
