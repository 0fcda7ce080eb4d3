"""The public status page on the real app (SQLite and PostgreSQL): no token, the house's
security headers, component states from open incidents, public updates, past incidents."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import event

from buttress.catalog import Catalog
from buttress.incidents import service, status
from tests.incidents.status_support import COMPONENTS, status_app


def test_the_three_routes_answer_without_a_token_with_the_security_headers(
    catalog: Catalog,
) -> None:
    """/status, /status.json and /status/feed.atom need no token and send the CSP headers."""
    with status_app(catalog, COMPONENTS) as app:
        for path, kind in (
            ("/status", "text/html"),
            ("/status.json", "application/json"),
            ("/status/feed.atom", "application/atom+xml"),
            ("/status/style.css", "text/css"),
        ):
            answer = app.client.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-type"].startswith(kind), path
            assert answer.headers["content-security-policy"].startswith("default-src 'self'")
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "no-referrer"
        page = app.page()
        assert page["title"] == "Example status"
        assert page["state"] == "operational"
        assert [(c["name"], c["state"]) for c in page["components"]] == [
            ("Checkout", "operational"),
            ("Search", "operational"),
        ]
        assert page["incidents"] == page["past_incidents"] == []
        assert "<h1>Example status</h1>" in app.client.get("/status").text


def test_open_incidents_set_the_state_of_the_components_they_affect(catalog: Catalog) -> None:
    """P3 degrades, P2 is a partial outage, P1 a major one; the worst wins; overall is the
    worst component; a mitigated incident only degrades; a resolved one counts no more."""
    with status_app(catalog, COMPONENTS) as app:
        minor = app.declare("slow search", "P3", "search")
        assert app.states() == {"Checkout": "operational", "Search": "degraded"}
        assert app.page()["state"] == "degraded"
        app.declare("cart errors", "P2", "cart")
        assert app.states() == {"Checkout": "partial_outage", "Search": "degraded"}
        major = app.declare("payments down", "P1", "payments", "other")
        assert app.states() == {"Checkout": "major_outage", "Search": "degraded"}
        assert app.page()["state"] == "major_outage"
        app.act(major, "mitigate")
        assert app.states() == {"Checkout": "partial_outage", "Search": "degraded"}
        app.act(minor, "resolve")
        page = app.page()
        assert [c["state"] for c in page["components"]] == ["partial_outage", "operational"]
        assert [i["title"] for i in page["incidents"]] == ["payments down", "cart errors"]
        assert [i["impact"] for i in page["incidents"]] == ["major_outage", "partial_outage"]
        assert page["incidents"][0]["components"] == ["Checkout"]
        (past,) = page["past_incidents"]
        assert past["title"] == "slow search"
        assert past["status"] == "resolved"
        assert past["resolved_at"] is not None
        assert past["components"] == ["Search"]


def test_an_unannounced_incident_shows_as_investigating_with_its_title_only(
    catalog: Catalog,
) -> None:
    """An incident with no public update is listed: investigating, its title, no updates."""
    with status_app(catalog, COMPONENTS) as app:
        ref = app.declare("elevated errors", "P4")
        (shown,) = app.page()["incidents"]
        assert shown["ref"] == ref
        assert shown["status"] == "investigating"
        assert shown["updates"] == []
        assert shown["components"] == []
        assert shown["resolved_at"] is None
        assert app.page()["state"] == "operational"  # it affects no component
        assert "elevated errors" in app.client.get("/status").text


def test_public_updates_are_shown_newest_first_and_set_the_public_status(
    catalog: Catalog,
) -> None:
    """Each public update is listed (newest first); the latest's status is the incident's,
    until the incident is resolved."""
    with status_app(catalog, COMPONENTS) as app:
        ref = app.declare("checkout errors", "P2", "payments")
        first = app.update(ref, "investigating", "We are looking into failed payments.")
        assert first.status_code == 201, first.text
        assert first.json()["ref"] == ref
        assert app.update(ref, "identified", "A bad release; rolling back.").status_code == 201
        (shown,) = app.page()["incidents"]
        assert shown["status"] == "identified"
        assert [(u["status"], u["text"]) for u in shown["updates"]] == [
            ("identified", "A bad release; rolling back."),
            ("investigating", "We are looking into failed payments."),
        ]
        html = app.client.get("/status").text
        assert "A bad release; rolling back." in html
        app.act(ref, "resolve")
        (past,) = app.page()["past_incidents"]
        assert past["status"] == "resolved"
        assert len(past["updates"]) == 2


def test_public_update_errors(catalog: Catalog) -> None:
    """A viewer cannot post (403), nor anyone without a token (401); an unknown status or an
    empty text is 422; an unknown incident 404."""
    with status_app(catalog, COMPONENTS) as app:
        ref = app.declare("x", "P3")
        url = f"/api/v1/incidents/{ref}/updates"
        body = {"status": "identified", "text": "found it"}
        assert app.client.post(url, json=body).status_code == 401
        assert app.client.post(url, json=body, headers=app.auth(app.viewer)).status_code == 403
        assert app.update(ref, "fixed", "done").status_code == 422
        assert app.update(ref, "identified", "").status_code == 422
        assert app.update("INC-2026-9999", "identified", "x").status_code == 404
        assert app.page()["incidents"][0]["updates"] == []


def test_past_incidents_are_those_resolved_within_history_days(catalog: Catalog) -> None:
    """An incident resolved longer ago than history_days is not listed; updates per incident
    are bounded to the latest MAX_UPDATES."""
    with status_app(catalog, COMPONENTS) as app:
        old, recent = app.declare("old", "P3"), app.declare("recent", "P3")
        app.act(old, "resolve")
        app.act(recent, "resolve")
        with catalog.begin() as session:
            service.get(session=session, ref=old).resolved_at = dt.datetime.now(
                dt.UTC
            ) - dt.timedelta(days=31)
            for n in range(status.MAX_UPDATES + 3):
                status.public_update(
                    session=session, ref=recent, status="monitoring", text=f"u{n}", actor="t"
                )
        (past,) = app.page()["past_incidents"]
        assert past["title"] == "recent"
        texts = [u["text"] for u in past["updates"]]
        assert len(texts) == status.MAX_UPDATES
        assert texts[0] == f"u{status.MAX_UPDATES + 2}"


def test_a_disabled_status_page_is_not_served(catalog: Catalog) -> None:
    """status_page.enabled false: the three routes answer 404; public updates still post."""
    with status_app(catalog, "incidents:\n  status_page: {enabled: false}\n") as app:
        for path in ("/status", "/status.json", "/status/feed.atom"):
            assert app.client.get(path).status_code == 404, path
        ref = app.declare("x", "P3")
        assert app.update(ref, "identified", "found").status_code == 201


def test_the_page_is_cached_and_a_public_update_refreshes_it(catalog: Catalog) -> None:
    """With cache_seconds, a new incident is not read until the cache is stale, but a
    public update posted through the API shows at once."""
    text = COMPONENTS.replace("cache_seconds: 0", "cache_seconds: 300")
    with status_app(catalog, text) as app:
        assert app.page()["incidents"] == []
        ref = app.declare("cached", "P3")
        assert app.page()["incidents"] == []  # from the cache
        assert app.update(ref, "identified", "found").status_code == 201
        assert [i["title"] for i in app.page()["incidents"]] == ["cached"]


def test_a_request_costs_two_catalog_queries(catalog: Catalog) -> None:
    """However many incidents and updates there are, the page is read in two queries, and
    listed within its bounds."""
    with status_app(catalog, COMPONENTS) as app:
        refs = [app.declare(f"i{n}", "P3", "search") for n in range(status.MAX_OPEN + 2)]
        for ref in refs[:3]:
            app.update(ref, "identified", "found")
        statements: list[str] = []

        def seen(*args: object) -> None:
            if not threading.current_thread().name.startswith("buttress-job"):
                statements.append(str(args[2]))  # the request's, not the job runner's

        event.listen(catalog.engine, "before_cursor_execute", seen)
        try:
            page = app.page()
        finally:
            event.remove(catalog.engine, "before_cursor_execute", seen)
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2
        assert len(page["incidents"]) == status.MAX_OPEN
        assert page["incidents"][0]["title"] == f"i{status.MAX_OPEN + 1}"
