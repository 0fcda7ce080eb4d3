"""The post-mortem draft on its own: the template's sections, the summary, one line per
timeline event of each kind, and text that would break Markdown."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from buttress.incidents.postmortem_draft import PLACEHOLDER, draft, duration, render_event
from buttress.incidents.tables import Incident, IncidentActionItem, IncidentEvent

T0 = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)


def incident(**extra: Any) -> Incident:
    data: dict[str, Any] = {
        "year": 2026,
        "seq": 42,
        "title": "db down",
        "severity": "P1",
        "services": ["payments", "shop"],
        "impact": "checkout failed",
        "roles": {"commander": "ann"},
        "triggered_at": T0,
        "resolved_at": T0 + dt.timedelta(hours=1, minutes=23),
    }
    data.update(extra)
    return Incident(**data)


def event(kind: str, minutes: int = 0, actor: str = "ann", **detail: Any) -> IncidentEvent:
    return IncidentEvent(
        at=T0 + dt.timedelta(minutes=minutes), kind=kind, actor=actor, detail=detail
    )


def headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


def test_the_draft_has_the_template_sections_in_order() -> None:
    """Title, Summary, Timeline, Root cause, Contributing factors, Lessons learned, Action
    items; the three written by people hold the placeholder."""
    text = draft(incident(), [], [])
    assert headings(text) == [
        "# Post-mortem: INC-2026-0042 — db down",
        "## Summary",
        "## Timeline",
        "## Root cause",
        "## Contributing factors",
        "## Lessons learned",
        "## Action items",
    ]
    assert text.count(PLACEHOLDER) == 3
    assert "_No events._" in text
    assert "_None yet._" in text


def test_the_summary_has_id_date_duration_severity_services_impact_roles() -> None:
    """Each summary row says what the incident was."""
    text = draft(incident(), [], [])
    rows = dict(re.findall(r"^\| ([^|]+) \| (.*) \|$", text, re.MULTILINE))
    assert rows["Incident"] == "INC-2026-0042"
    assert rows["Date"] == "2026-12-04 (UTC)"
    assert rows["Duration"] == "1 h 23 min (2026-12-04 10:00:00 → 2026-12-04 11:23:00 UTC)"
    assert rows["Severity"] == "P1"
    assert rows["Services"] == "payments, shop"
    assert rows["Customer impact"] == "checkout failed"
    assert rows["Roles"] == "commander: ann"


def test_an_unresolved_incident_is_ongoing_and_empty_fields_show_a_dash() -> None:
    """No resolution: "ongoing"; no services, impact or roles: a dash, not an empty cell."""
    text = draft(incident(resolved_at=None, services=[], impact="", roles={}), [], [])
    assert "| Duration | ongoing |" in text
    assert "| Services | — |" in text
    assert "| Customer impact | — |" in text
    assert "| Roles | — |" in text


def test_times_are_utc_whatever_zone_they_come_in() -> None:
    """An event stamped in another zone is shown in UTC."""
    berlin = dt.timezone(dt.timedelta(hours=1))
    at = dt.datetime(2026, 12, 4, 11, 30, tzinfo=berlin)
    row = IncidentEvent(at=at, kind="note", actor="ann", detail={"text": "x"})
    assert "- 2026-12-04 10:30:00 · ann · Note: x" in draft(incident(), [row], [])


def test_every_event_is_one_line_in_order_with_its_actor() -> None:
    """The timeline lists each event oldest first as time · actor · text."""
    events = [
        event("triggered", 0, "alertmanager", severity="P1"),
        event("alert_firing", 0, "alertmanager", fingerprint="f1", alertname="DbDown"),
        event("acknowledged", 3),
        event("note", 5, text="failing over\nto the replica"),
        event("alert_resolved", 80, "alertmanager", fingerprint="f1", alertname="DbDown"),
        event("resolved", 83, "alertmanager", reason="all alerts resolved"),
    ]
    text = draft(incident(), events, [])
    timeline = [line for line in text.splitlines() if line.startswith("- ")]
    assert timeline == [
        "- 2026-12-04 10:00:00 · alertmanager · Opened from Alertmanager (P1)",
        "- 2026-12-04 10:00:00 · alertmanager · Alert DbDown firing",
        "- 2026-12-04 10:03:00 · ann · Status → acknowledged",
        "- 2026-12-04 10:05:00 · ann · Note: failing over to the replica",
        "- 2026-12-04 11:20:00 · alertmanager · Alert DbDown resolved",
        "- 2026-12-04 11:23:00 · alertmanager · Status → resolved (all alerts resolved)",
    ]


def test_escalations_notifications_and_breaches_have_their_own_lines() -> None:
    """Escalations name level, policy, people and channels; notifications their channel and
    outcome; breaches their target and lateness."""
    assert (
        render_event(
            "escalated",
            {
                "kind": "escalated",
                "level": 2,
                "policy": "db",
                "recipients": ["bo", "cy"],
                "channels": ["ops"],
            },
        )
        == "Escalated to level 2 of policy db: bo, cy via ops"
    )
    assert render_event("escalated", {"kind": "triggered", "level": 1}) == "Paged level 1"
    assert (
        render_event(
            "notification",
            {
                "kind": "triggered",
                "channel": "ops",
                "type": "slack",
                "outcome": "failed",
                "attempts": 3,
                "error": "HTTP 500",
            },
        )
        == "Notification (triggered) on ops (slack): failed after 3 attempts — HTTP 500"
    )
    assert (
        render_event("target_breached", {"target": "respond", "severity": "P1", "late_s": 90.0})
        == "Response target respond breached (P1), 1 min 30 s late"
    )
    assert (
        render_event("notify_resolved", {"kind": "resolved", "channels": ["ops"]})
        == "Escalation: resolved via ops"
    )
    assert render_event("roles", {"roles": {"commander": "ann", "tech_lead": None}}) == (
        "Roles: commander → ann, tech_lead cleared"
    )


def test_an_unknown_kind_is_its_name_and_its_detail() -> None:
    """A kind the template does not know shows its name and key=value pairs, sorted."""
    assert (
        render_event("runbook_ran", {"runbook": "failover", "ok": True, "steps": [1, 2]})
        == "runbook_ran: ok=true, runbook=failover, steps=[1, 2]"
    )
    assert render_event("mystery", {}) == "mystery"


def test_a_known_kind_with_an_odd_detail_does_not_break_the_draft() -> None:
    """A detail of an unexpected shape falls back to the generic line."""
    assert render_event("target_breached", {"late_s": "soon"}) == "target_breached: late_s=soon"


def test_action_items_are_a_table_and_pipes_do_not_break_it() -> None:
    """Action items are rows of #, action, owner, due, status; a pipe in any text is
    escaped and a newline becomes a space."""
    items = [
        IncidentActionItem(
            id=7, title="alert on a|b", owner="ann", due=dt.date(2026, 12, 18), status="open"
        ),
        IncidentActionItem(id=8, title="docs", owner="bo", due=None, status="done"),
    ]
    text = draft(incident(title="db | down\nhard"), [], items)
    assert text.startswith("# Post-mortem: INC-2026-0042 — db | down hard\n")
    assert "| 7 | alert on a\\|b | ann | 2026-12-18 | open |" in text
    assert "| 8 | docs | bo | — | done |" in text


def test_the_draft_is_the_same_for_the_same_input() -> None:
    """No clock and no randomness: drafting twice gives the same text."""
    events = [event("note", 1, text="x"), event("mystery", 2, a=1)]
    assert draft(incident(), events, []) == draft(incident(), events, [])


def test_durations_read_for_people() -> None:
    """Seconds, minutes, hours and days, two units at most."""
    assert [duration(s) for s in (0, 42, 600, 605, 3600, 5000, 86400, 90000)] == [
        "0 s",
        "42 s",
        "10 min",
        "10 min 5 s",
        "1 h",
        "1 h 23 min",
        "1 d",
        "1 d 1 h",
    ]
