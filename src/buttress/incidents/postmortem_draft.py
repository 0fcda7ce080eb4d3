"""A post-mortem's first draft as a pure function: the incident, its timeline and its action
items in, Markdown out (no I/O, no clock: the same inputs give the same text).

The draft follows one template: a title line, a Summary table (id, date, duration from
triggered to resolved or "ongoing", severity, services, customer impact, roles), the
Timeline (every event, oldest first, in UTC, with its actor and one line per event), then
Root cause, Contributing factors and Lessons learned to be written by people, and the
Action items table.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

__all__ = ["PLACEHOLDER", "draft", "duration", "render_event"]

PLACEHOLDER = "_To be written._"
"""What the sections people write hold in a draft."""


class _Incident(Protocol):
    @property
    def ref(self) -> str: ...

    title: str
    severity: str
    services: list[str]
    impact: str
    roles: dict[str, str]
    triggered_at: dt.datetime
    resolved_at: dt.datetime | None


class _Event(Protocol):
    at: dt.datetime
    kind: str
    actor: str
    detail: dict[str, Any]


class _ActionItem(Protocol):
    id: int
    title: str
    owner: str
    due: dt.date | None
    status: str


def _line(text: object) -> str:
    """``text`` on one line (newlines and runs of blanks become one space)."""
    return " ".join(str(text).split())


def _cell(text: object) -> str:
    """``text`` safe in a Markdown table cell: one line, pipes escaped, never empty."""
    return _line(text).replace("|", "\\|") or "—"


def _utc(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float) -> str:
    """A length of time for people: ``42 s``, ``12 min``, ``1 h 23 min``, ``2 d 3 h``."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def _generic(detail: Mapping[str, Any]) -> str:
    parts = []
    for key in sorted(detail):
        value = detail[key]
        if value is None or value == [] or value == {}:
            continue
        shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        parts.append(f"{key}={shown}")
    return ", ".join(parts)


def _names(values: object) -> str:
    return ", ".join(str(v) for v in values) if isinstance(values, list) else ""


def _status(kind: str) -> Callable[[Mapping[str, Any]], str]:
    def render(detail: Mapping[str, Any]) -> str:
        reason = detail.get("reason")
        return f"Status → {kind}" + (f" ({reason})" if reason else "")

    return render


def _escalated(d: Mapping[str, Any]) -> str:
    level = d.get("level")
    what = "Paged" if d.get("kind") == "triggered" else "Escalated to"
    text = f"{what} level {level}" if level is not None else f"Escalation: {d.get('kind', '?')}"
    if d.get("policy"):
        text += f" of policy {d['policy']}"
    if d.get("recipients"):
        text += f": {_names(d['recipients'])}"
    if d.get("channels"):
        text += f" via {_names(d['channels'])}"
    return text


def _notified(d: Mapping[str, Any]) -> str:
    text = f"Notification ({d.get('kind', '?')}) on {d.get('channel', '?')}"
    if d.get("type"):
        text += f" ({d['type']})"
    text += f": {d.get('outcome', '?')}"
    if d.get("attempts") and d["attempts"] != 1:
        text += f" after {d['attempts']} attempts"
    if d.get("error"):
        text += f" — {d['error']}"
    return text


def _roles(d: Mapping[str, Any]) -> str:
    roles = d.get("roles")
    if not isinstance(roles, dict) or not roles:
        return "Roles changed"
    changes = [
        f"{role} → {person}" if person else f"{role} cleared" for role, person in roles.items()
    ]
    return "Roles: " + ", ".join(changes)


def _breached(d: Mapping[str, Any]) -> str:
    text = f"Response target {d.get('target', '?')!s} breached"
    if d.get("severity"):
        text += f" ({d['severity']})"
    if d.get("late_s") is not None:
        text += f", {duration(float(d['late_s']))} late"
    return text


def _item(verb: str) -> Callable[[Mapping[str, Any]], str]:
    def render(d: Mapping[str, Any]) -> str:
        text = f"Action item #{d.get('id', '?')} {verb}: {d.get('title', '')}"
        changes = d.get("changes")
        if isinstance(changes, dict) and changes:
            text += " (" + ", ".join(f"{k} → {v[1]}" for k, v in sorted(changes.items())) + ")"
        elif d.get("owner"):
            text += f" (owner {d['owner']}" + (f", due {d['due']})" if d.get("due") else ")")
        return text

    return render


_RENDER: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "declared": lambda d: f"Declared by hand ({d.get('severity', '?')})",
    "triggered": lambda d: f"Opened from Alertmanager ({d.get('severity', '?')})",
    "reopened": lambda d: "Reopened: its alerts fire again",
    "alert_firing": lambda d: f"Alert {d.get('alertname') or d.get('fingerprint', '?')} firing",
    "alert_resolved": lambda d: f"Alert {d.get('alertname') or d.get('fingerprint', '?')} resolved",
    "note": lambda d: f"Note: {d.get('text', '')}",
    "roles": _roles,
    "escalated": _escalated,
    "notification": _notified,
    "target_breached": _breached,
    "timer_late": lambda d: str(d.get("note") or f"Escalation timer late ({_generic(d)})"),
    "postmortem_created": lambda d: "Post-mortem drafted",
    "postmortem_updated": lambda d: f"Post-mortem {d.get('how', 'edited')}",
    "postmortem_published": lambda d: "Post-mortem published",
    "action_item_added": _item("added"),
    "action_item_updated": _item("updated"),
    **{kind: _status(kind) for kind in ("acknowledged", "mitigated", "resolved", "closed")},
}


def render_event(kind: str, detail: Mapping[str, Any]) -> str:
    """One timeline event as one line of text; a kind this module does not know is shown as
    its name and its detail's ``key=value`` pairs."""
    render = _RENDER.get(kind)
    if render is None and kind.startswith("notify_"):
        render = _escalated
    if render is None:
        rest = _generic(detail)
        return _line(f"{kind}: {rest}" if rest else kind)
    try:
        return _line(render(detail))
    except (TypeError, ValueError, KeyError):  # a detail of an unexpected shape
        return _line(f"{kind}: {_generic(detail)}")


def draft(
    incident: _Incident, events: Sequence[_Event], action_items: Sequence[_ActionItem]
) -> str:
    """The post-mortem draft of ``incident`` in Markdown (see the module docstring)."""
    triggered = incident.triggered_at.astimezone(dt.UTC)
    if incident.resolved_at is None:
        lasted = "ongoing"
    else:
        resolved = incident.resolved_at.astimezone(dt.UTC)
        lasted = (
            f"{duration((resolved - triggered).total_seconds())} "
            f"({_utc(triggered)} → {_utc(resolved)} UTC)"
        )
    roles = ", ".join(f"{role}: {person}" for role, person in sorted(incident.roles.items()))
    summary = [
        ("Incident", incident.ref),
        ("Date", f"{triggered:%Y-%m-%d} (UTC)"),
        ("Duration", lasted),
        ("Severity", incident.severity),
        ("Services", ", ".join(incident.services)),
        ("Customer impact", incident.impact),
        ("Roles", roles),
    ]
    out = [f"# Post-mortem: {incident.ref} — {_line(incident.title)}", "", "## Summary", ""]
    out += ["| | |", "|---|---|"]
    out += [f"| {name} | {_cell(value)} |" for name, value in summary]
    out += ["", "## Timeline", "", "All times UTC.", ""]
    out += [
        f"- {_utc(e.at)} · {_line(e.actor)} · {render_event(e.kind, e.detail or {})}"
        for e in events
    ] or ["_No events._"]
    for heading in ("Root cause", "Contributing factors", "Lessons learned"):
        out += ["", f"## {heading}", "", PLACEHOLDER]
    out += ["", "## Action items", ""]
    if action_items:
        out += ["| # | Action | Owner | Due | Status |", "|---|---|---|---|---|"]
        out += [
            f"| {a.id} | {_cell(a.title)} | {_cell(a.owner)} | "
            f"{a.due.isoformat() if a.due else '—'} | {a.status} |"
            for a in action_items
        ]
    else:
        out.append("_None yet._")
    return "\n".join(out) + "\n"
