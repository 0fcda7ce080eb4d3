"""/status/feed.atom is Atom 1.0 that parses: the feed's and each entry's required elements,
absolute links, and text that XML cannot carry replaced rather than written raw."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from buttress.catalog import Catalog
from tests.incidents.status_support import COMPONENTS, status_app

A = "{http://www.w3.org/2005/Atom}"


def parse(body: bytes) -> ET.Element:
    """The feed's root element (the feed is the app's own output; strict parsing is the test)."""
    return ET.fromstring(body)  # noqa: S314


def test_the_feed_is_valid_atom_with_an_entry_per_incident(catalog: Catalog) -> None:
    """Feed: id, title, updated, author, self link; each entry: id, title, updated, link,
    content with its public updates; markup and control characters arrive as text."""
    with status_app(catalog, COMPONENTS) as app:
        open_ref = app.declare("checkout <b>errors</b> & \x0b retries", "P2", "payments")
        assert app.update(open_ref, "identified", "Rolled back <script>x</script>").status_code
        past_ref = app.declare("search slow", "P3", "search")
        app.act(past_ref, "resolve")
        answer = app.client.get("/status/feed.atom")
        assert answer.headers["content-type"].startswith("application/atom+xml")
        feed = parse(answer.content)
        assert feed.tag == f"{A}feed"
        for tag in ("id", "title", "updated", "author"):
            assert feed.find(f"{A}{tag}") is not None, tag
        assert feed.findtext(f"{A}title") == "Example status"
        assert feed.findtext(f"{A}id") == "http://testserver/status"
        links = {link.get("rel"): link.get("href") for link in feed.findall(f"{A}link")}
        assert links["self"] == "http://testserver/status/feed.atom"
        entries = feed.findall(f"{A}entry")
        assert len(entries) == 2
        for entry in entries:
            for tag in ("id", "title", "updated", "content"):
                assert entry.findtext(f"{A}{tag}"), tag
        first, second = entries
        assert first.findtext(f"{A}id") == f"http://testserver/status#{open_ref}"
        assert first.findtext(f"{A}title") == "checkout <b>errors</b> & \ufffd retries (Identified)"
        content = first.findtext(f"{A}content") or ""
        assert "Rolled back <script>x</script>" in content
        assert "Partial outage of Checkout" in content
        assert second.findtext(f"{A}title") == "search slow (Resolved)"
        assert feed.findtext(f"{A}updated") == max(e.findtext(f"{A}updated") or "" for e in entries)


def test_the_feed_links_to_public_url_when_set(catalog: Catalog) -> None:
    """With incidents.public_url, ids and links use it whatever the request's Host."""
    text = COMPONENTS.replace("incidents:\n", "incidents:\n  public_url: https://status.example/\n")
    with status_app(catalog, text) as app:
        app.declare("x", "P4")
        feed = parse(app.client.get("/status/feed.atom", headers={"Host": "evil"}).content)
        assert feed.findtext(f"{A}id") == "https://status.example/status"
        entry = feed.find(f"{A}entry")
        assert entry is not None
        assert (entry.findtext(f"{A}id") or "").startswith("https://status.example/status#INC-")


def test_the_html_escapes_what_it_shows(catalog: Catalog) -> None:
    """Titles and updates with markup are escaped in the HTML page."""
    with status_app(catalog, COMPONENTS) as app:
        ref = app.declare("<img src=x onerror=alert(1)>", "P3")
        app.update(ref, "identified", "<script>alert(2)</script>")
        html = app.client.get("/status").text
        assert "<img" not in html
        assert "<script" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
