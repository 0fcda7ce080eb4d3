"""Post-mortems and action items on the real catalog (SQLite and PostgreSQL): drafting once,
redrafting, editing, publishing, the close rule, and the overdue list."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from buttress.catalog import Catalog
from buttress.errors import ConflictError, NotFoundError, UsageError
from buttress.incidents import postmortem as pm
from buttress.incidents import service

T0 = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 10)


def resolved(session: Session, severity: str = "P1") -> str:
    ref = service.declare(
        session=session, title="db down", severity=severity, actor="ann", now=T0
    ).ref
    service.act(session=session, ref=ref, action="resolve", actor="ann", now=T0)
    return ref


def kinds(session: Session, ref: str) -> list[tuple[str, str]]:
    incident = service.get(session=session, ref=ref)
    return [(e.kind, e.actor) for e in service.timeline(session=session, incident=incident)]


def test_a_draft_is_made_once_then_refused_unless_regenerated(catalog: Catalog) -> None:
    """The first create drafts from the timeline; a second is 409; regenerate redrafts a
    draft (losing its edits); each is a timeline event with its actor."""
    with catalog.begin() as session:
        ref = resolved(session)
        made = pm.create_postmortem(session=session, ref=ref, actor="bo", now=T0)
        assert made.status == "draft"
        assert made.body.startswith(f"# Post-mortem: {ref} — db down\n")
        assert "Status → resolved" in made.body
        with pytest.raises(ConflictError, match="already has a post-mortem draft"):
            pm.create_postmortem(session=session, ref=ref, actor="bo")
        pm.update_postmortem(session=session, ref=ref, body="# mine\n", actor="cy")
        again = pm.create_postmortem(session=session, ref=ref, actor="bo", regenerate=True)
        assert again.body.startswith("# Post-mortem:")
        assert (again.created_by, again.updated_by) == ("bo", "bo")
        assert kinds(session, ref)[-3:] == [
            ("postmortem_created", "bo"),
            ("postmortem_updated", "cy"),
            ("postmortem_updated", "bo"),
        ]


def test_a_published_post_mortem_is_not_redrafted_but_can_be_edited(catalog: Catalog) -> None:
    """Regenerating a published post-mortem is 409; editing it is allowed and the timeline
    says it was edited after publication; publishing twice records once."""
    with catalog.begin() as session:
        ref = resolved(session)
        pm.create_postmortem(session=session, ref=ref, actor="bo")
        pm.publish_postmortem(session=session, ref=ref, actor="bo")
        pm.publish_postmortem(session=session, ref=ref, actor="bo")
        with pytest.raises(ConflictError, match="published"):
            pm.create_postmortem(session=session, ref=ref, actor="bo", regenerate=True)
        edited = pm.update_postmortem(session=session, ref=ref, body="# final\n", actor="cy")
        assert (edited.status, edited.body, edited.updated_by) == ("published", "# final\n", "cy")
        incident = service.get(session=session, ref=ref)
        events = service.timeline(session=session, incident=incident)
        assert [e.kind for e in events].count("postmortem_published") == 1
        assert events[-1].detail["how"] == "edited after publication"


def test_an_unchanged_or_empty_body_and_an_unknown_incident(catalog: Catalog) -> None:
    """The same body records nothing; an empty one is a usage error; an incident without a
    post-mortem, or unknown, is not found."""
    with catalog.begin() as session:
        ref = resolved(session)
        with pytest.raises(NotFoundError, match="post-mortem"):
            pm.get_postmortem(session=session, ref=ref)
        made = pm.create_postmortem(session=session, ref=ref, actor="bo")
        before = len(kinds(session, ref))
        pm.update_postmortem(session=session, ref=ref, body=made.body, actor="bo")
        assert len(kinds(session, ref)) == before
        with pytest.raises(UsageError, match="empty"):
            pm.update_postmortem(session=session, ref=ref, body=" \n", actor="bo")
        with pytest.raises(NotFoundError, match="INC-2026-9999"):
            pm.create_postmortem(session=session, ref="INC-2026-9999", actor="bo")


def test_closing_a_p1_needs_a_published_post_mortem(catalog: Catalog) -> None:
    """Closing a P1 is refused with no post-mortem, and with a draft, naming why; allowed
    once it is published."""
    with catalog.begin() as session:
        ref = resolved(session)
        with pytest.raises(ConflictError, match="it has none"):
            service.act(session=session, ref=ref, action="close", actor="ann")
        pm.create_postmortem(session=session, ref=ref, actor="ann")
        with pytest.raises(ConflictError, match="still a draft"):
            service.act(session=session, ref=ref, action="close", actor="ann")
        assert service.get(session=session, ref=ref).status == "resolved"
        pm.publish_postmortem(session=session, ref=ref, actor="ann")
        closed = service.act(session=session, ref=ref, action="close", actor="ann")
        assert closed.status == "closed"


def test_the_rule_follows_the_configured_severities(catalog: Catalog) -> None:
    """A P3 closes without one by default; with postmortem_required [] a P1 does too, and
    with [P3] a P3 does not."""
    with catalog.begin() as session:
        p3 = resolved(session, "P3")
        p1 = resolved(session, "P1")
        other = resolved(session, "P3")
        service.act(session=session, ref=p3, action="close", actor="ann")
        service.act(session=session, ref=p1, action="close", actor="ann", postmortem_required=[])
        with pytest.raises(ConflictError, match="P3 incident needs a published post-mortem"):
            service.act(
                session=session, ref=other, action="close", actor="ann", postmortem_required=["P3"]
            )


def test_action_items_are_added_changed_and_on_the_timeline(catalog: Catalog) -> None:
    """Adding and changing an item are timeline events with [old, new]; changing nothing
    records nothing; a due date can be cleared."""
    with catalog.begin() as session:
        ref = resolved(session)
        item = pm.add_action_item(
            session=session,
            ref=ref,
            title="  alert on\nerror rate ",
            owner="ann",
            due=dt.date(2026, 12, 18),
            actor="bo",
            now=T0,
        )
        assert (item.title, item.status) == ("alert on error rate", "open")
        pm.update_action_item(session=session, item_id=item.id, status="done", actor="cy")
        pm.update_action_item(session=session, item_id=item.id, status="done", actor="cy")
        pm.update_action_item(session=session, item_id=item.id, due=None, actor="cy")
        incident = service.get(session=session, ref=ref)
        events = service.timeline(session=session, incident=incident)[-3:]
        assert [(e.kind, e.actor) for e in events] == [
            ("action_item_added", "bo"),
            ("action_item_updated", "cy"),
            ("action_item_updated", "cy"),
        ]
        assert events[0].detail["due"] == "2026-12-18"
        assert events[1].detail["changes"] == {"status": ["open", "done"]}
        assert events[2].detail["changes"] == {"due": ["2026-12-18", None]}
        body = pm.create_postmortem(session=session, ref=ref, actor="bo").body
        assert f"| {item.id} | alert on error rate | ann | — | done |" in body


def test_bad_action_items_are_refused(catalog: Catalog) -> None:
    """No title, no owner, an unknown status or item: usage and not-found errors."""
    with catalog.begin() as session:
        ref = resolved(session)
        with pytest.raises(UsageError, match="title"):
            pm.add_action_item(session=session, ref=ref, title=" ", owner="ann", actor="bo")
        with pytest.raises(UsageError, match="owner"):
            pm.add_action_item(session=session, ref=ref, title="x", owner="", actor="bo")
        item = pm.add_action_item(session=session, ref=ref, title="x", owner="a", actor="bo")
        with pytest.raises(UsageError, match="'closed'"):
            pm.update_action_item(session=session, item_id=item.id, status="closed", actor="b")
        with pytest.raises(NotFoundError, match="action item"):
            pm.update_action_item(session=session, item_id=10**6, status="done", actor="b")


def test_overdue_lists_open_items_due_before_today(catalog: Catalog) -> None:
    """Overdue: open and due strictly before today, soonest first; done, undated, due today
    and future ones are left out; other filters by incident and status."""
    with catalog.begin() as session:
        one, two = resolved(session), resolved(session, "P2")

        def add(ref: str, title: str, due: dt.date | None) -> int:
            return pm.add_action_item(
                session=session, ref=ref, title=title, owner="ann", due=due, actor="bo"
            ).id

        add(one, "late", dt.date(2026, 12, 9))
        add(two, "later", dt.date(2026, 12, 1))
        add(one, "today", TODAY)
        add(one, "future", dt.date(2027, 1, 1))
        add(two, "undated", None)
        done = add(one, "done late", dt.date(2026, 11, 1))
        pm.update_action_item(session=session, item_id=done, status="done", actor="bo")

        def titles(
            ref: str | None = None, status: str | None = None, overdue: bool = False
        ) -> list[str]:
            rows = pm.list_action_items(
                session=session, ref=ref, status=status, overdue=overdue, today=TODAY
            )
            return [item.title for item, _ in rows]

        assert titles(overdue=True) == ["later", "late"]
        assert [inc.ref for _, inc in pm.list_action_items(session=session, ref=two)] == [two, two]
        assert titles(status="done") == ["done late"]
        assert titles(ref=one, status="open") == ["late", "today", "future"]
        with pytest.raises(UsageError, match="'late'"):
            titles(status="late")
