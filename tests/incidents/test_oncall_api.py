"""``/api/v1/oncall``: who is on call now and at a time, the coming shifts, the iCalendar feed
(parsed with the ``icalendar`` package), 404 for an unknown schedule and the viewer token."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import icalendar
import pytest
from fastapi.testclient import TestClient

from buttress.catalog import Catalog, tokens
from buttress.config import load_text
from buttress.incidents.ical import MAX_OCTETS
from buttress.server.app import create_app

URL = "/api/v1/oncall"
CONFIG = """
incidents:
  oncall:
    users:
      alice: {email: alice@example.com}
      bob: {email: bob@example.com}
      alexandra-konstantinopoulou-of-the-database-team: {}
    schedules:
      dba:
        time_zone: Europe/Berlin
        layers:
          - {name: primary, users: [alice, bob], rotation: weekly, start: 2026-01-05T09:00}
        overrides:
          - user: alexandra-konstantinopoulou-of-the-database-team
            start: 2026-01-07T00:00
            end: 2026-01-08T00:00
      always:
        layers:
          - {name: only, users: [alice], rotation: daily, start: 2020-01-01T00:00}
      office:
        layers:
          - name: office
            users: [bob]
            rotation: daily
            start: 2020-01-01T00:00
            restrict: [{days: [mon], from: "09:00", to: "10:00"}]
"""


class Client:
    def __init__(self, client: TestClient, viewer: str) -> None:
        self.client, self.viewer = client, viewer

    def get(self, path: str, **params: str) -> Any:
        return self.client.get(
            f"{URL}{path}", params=params, headers={"Authorization": f"Bearer {self.viewer}"}
        )


@pytest.fixture
def api(catalog: Catalog) -> Iterator[Client]:
    """The control plane with the on-call config above and a viewer token."""
    with catalog.begin() as session:
        viewer = tokens.create(session=session, name="v", role="viewer", created_by="test")[1]
    app = create_app(catalog, load_text(CONFIG))
    with TestClient(app, client=("127.0.0.9", 50000)) as client:
        yield Client(client, viewer)


def test_overview_lists_every_schedule(api: Client) -> None:
    """Each schedule in config order with its zone, who is on call and the next hand-off."""
    answer = api.get("")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    rows = {r["schedule"]: r for r in body["schedules"]}
    assert list(rows) == ["dba", "always", "office"]
    assert rows["always"] == {
        "schedule": "always",
        "time_zone": "UTC",
        "on_call": "alice",
        "until": None,
    }
    assert rows["dba"]["on_call"] in {"alice", "bob"}
    assert dt.datetime.fromisoformat(rows["dba"]["until"]) > dt.datetime.fromisoformat(body["at"])


def test_one_schedule_at_a_time_has_its_shifts_and_gaps(api: Client) -> None:
    """?at= without an offset is the schedule's local time; 14 days of shifts follow."""
    body = api.get("/dba", at="2026-01-06T12:00").json()
    assert body["at"] == "2026-01-06T11:00:00Z"
    assert body["on_call"] == "alice"
    assert body["until"] == "2026-01-06T23:00:00Z"  # the override starts
    assert [(s["user"], s["layer"]) for s in body["shifts"]] == [
        ("alice", "primary"),
        ("alexandra-konstantinopoulou-of-the-database-team", "override"),
        ("alice", "primary"),
        ("bob", "primary"),
        ("alice", "primary"),
    ]
    assert body["shifts"][-1]["end"] == "2026-01-20T11:00:00Z"
    assert body["gaps"] == []
    office = api.get("/office", at="2026-01-05T09:30:00+00:00").json()
    assert office["on_call"] == "bob"
    assert office["until"] == "2026-01-05T10:00:00Z"
    assert office["gaps"][0] == {"start": "2026-01-05T10:00:00Z", "end": "2026-01-12T09:00:00Z"}


def test_unknown_schedule_is_404_naming_it(api: Client) -> None:
    """The schedule, its feed and a local ?at= of an unknown name all answer 404."""
    for path, params in (("/nope", {}), ("/nope.ics", {}), ("/nope", {"at": "2026-01-01T00:00"})):
        answer = api.get(path, **params)
        assert answer.status_code == 404, answer.text
        assert "unknown on-call schedule 'nope'" in answer.json()["message"]


def test_a_time_out_of_range_is_422(api: Client) -> None:
    """?at= in year 9999 (whose next 14 days do not exist) is refused, not a 500."""
    answer = api.get("/dba", at="9999-12-30T00:00:00Z")
    assert answer.status_code == 422
    assert "out of range" in answer.json()["message"]


def test_the_routes_need_a_token(api: Client) -> None:
    """Without a bearer token every route is 401, the feed included."""
    for path in ("", "/dba", "/dba.ics"):
        assert api.client.get(f"{URL}{path}").status_code == 401


def when(event: icalendar.cal.Component, key: str) -> dt.datetime:
    """An event's DTSTART or DTEND, as the aware datetime it must be."""
    value = event.decoded(key)
    assert isinstance(value, dt.datetime)
    return value


def test_long_lines_are_folded_at_75_octets(api: Client) -> None:
    """An override's long user name makes a SUMMARY past 75 octets: it is folded, and read
    back whole."""
    from buttress.config import load_text as _load
    from buttress.incidents.ical import schedule_calendar
    from buttress.incidents.oncall import shifts

    config = _load(CONFIG).incidents.oncall
    found = shifts(
        config,
        "dba",
        dt.datetime(2026, 1, 7, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 8, tzinfo=dt.UTC),
    )
    text = schedule_calendar("dba", found, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert "\r\n " in text
    summaries = [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(text).walk("VEVENT")]
    assert "On call: alexandra-konstantinopoulou-of-the-database-team (dba)" in summaries


def test_the_feed_is_icalendar_with_a_stable_event_per_shift(api: Client) -> None:
    """text/calendar with CRLF lines of at most 75 octets; icalendar reads one VEVENT per
    shift, in UTC, with a UID made of the schedule, start and user, equal on a second fetch."""
    answer = api.get("/dba.ics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    raw: bytes = answer.content
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= MAX_OCTETS for line in raw.split(b"\r\n"))
    calendar = icalendar.Calendar.from_ical(raw)
    assert str(calendar["VERSION"]) == "2.0"
    events = list(calendar.walk("VEVENT"))
    now = dt.datetime.now(dt.UTC)
    # weekly shifts over 120 days: 17 to 19 events, the first one begun before the window
    assert 17 <= len(events) <= 19
    first, last = events[0], events[-1]
    assert when(first, "DTSTART") <= now - dt.timedelta(days=30) < when(first, "DTEND")
    assert abs(when(last, "DTEND") - (now + dt.timedelta(days=90))) < dt.timedelta(minutes=1)
    for event in events:
        start = when(event, "DTSTART")
        assert start.utcoffset() == dt.timedelta(0)
        assert start.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ") in str(event["UID"])
        assert str(event["SUMMARY"]).startswith("On call: ")
    again = icalendar.Calendar.from_ical(api.get("/dba.ics").content)
    assert [str(e["UID"]) for e in again.walk("VEVENT")] == [str(e["UID"]) for e in events]
