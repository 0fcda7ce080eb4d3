"""The status page as HTML (every value escaped with :func:`html.escape`) and as an Atom 1.0
feed (built with :mod:`xml.etree.ElementTree`, which escapes text and attributes), from the
:class:`~buttress.incidents.status_page.StatusPageRead` the JSON route answers too."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from html import escape

from buttress.incidents.status_page import PublicIncidentRead, StatusPageRead

__all__ = ["CSS", "atom", "page_html"]

ATOM = "http://www.w3.org/2005/Atom"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
STATE_TEXT = {
    "operational": "Operational",
    "degraded": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
}
OVERALL_TEXT = {**STATE_TEXT, "operational": "All systems operational"}
STATUS_TEXT = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
}

CSS = """\
body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:46rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem}h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem;margin:0 0 .3rem}
.overall{padding:1rem;border-radius:.4rem;color:#fff;font-weight:600}
.components{list-style:none;padding:0;background:#fff;border-radius:.4rem}
.components li{padding:.7rem 1rem;border-bottom:1px solid #e3e6eb}
.components .state{float:right;font-weight:600}
.description{margin:.2rem 0 0;color:#5b6475;font-size:.9rem}
article{background:#fff;border-radius:.4rem;padding:.8rem 1rem;margin:.6rem 0}
.meta{color:#5b6475;font-size:.85rem;margin:0 0 .4rem}
.updates{margin:0;padding-left:1.1rem}.updates li{margin:.3rem 0}
footer{margin-top:2rem;color:#5b6475;font-size:.85rem}
.state-operational .state{color:#1f883d}.overall.state-operational{background:#1f883d}
.state-degraded .state{color:#b08800}.overall.state-degraded{background:#b08800}
.state-partial_outage .state{color:#d1570b}.overall.state-partial_outage{background:#d1570b}
.state-major_outage .state{color:#cf222e}.overall.state-major_outage{background:#cf222e}
"""


def _time(at: dt.datetime) -> str:
    text = at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f'<time datetime="{escape(at.isoformat())}">{escape(text)}</time>'


def _incident(incident: PublicIncidentRead) -> str:
    meta = [STATE_TEXT[incident.impact], f"started {_time(incident.started_at)}"]
    if incident.resolved_at is not None:
        meta.append(f"resolved {_time(incident.resolved_at)}")
    if incident.components:
        meta.append("affects " + escape(", ".join(incident.components)))
    updates = (
        "".join(
            f"<li><strong>{STATUS_TEXT[u.status]}</strong> — {escape(u.text)} {_time(u.at)}</li>"
            for u in incident.updates
        )
        or f"<li><strong>{STATUS_TEXT[incident.status]}</strong></li>"
    )
    return (
        f'<article id="{escape(incident.ref)}"><h3>{escape(incident.title)}</h3>'
        f'<p class="meta">{" · ".join(meta)}</p><ol class="updates">{updates}</ol></article>'
    )


def page_html(page: StatusPageRead, *, history_days: int) -> str:
    """The status page, a whole HTML document (its style sheet is ``/status/style.css``)."""
    title = escape(page.title)
    components = "".join(
        f'<li class="state-{c.state}"><span class="name">{escape(c.name)}</span>'
        f'<span class="state">{STATE_TEXT[c.state]}</span>'
        + (f'<p class="description">{escape(c.description)}</p>' if c.description else "")
        + "</li>"
        for c in page.components
    )
    current = "".join(_incident(i) for i in page.incidents) or "<p>No open incidents.</p>"
    past = "".join(_incident(i) for i in page.past_incidents) or "<p>No incidents.</p>"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>"
        '<link rel="stylesheet" href="/status/style.css">'
        f'<link rel="alternate" type="application/atom+xml" title="{title}" '
        'href="/status/feed.atom"></head>'
        f"<body><main><h1>{title}</h1>"
        f'<p class="overall state-{page.state}">{OVERALL_TEXT[page.state]}</p>'
        + (f'<ul class="components">{components}</ul>' if components else "")
        + f"<h2>Open incidents</h2>{current}"
        + f"<h2>Past incidents (last {history_days} days)</h2>{past}"
        + f"<footer>Updated {_time(page.updated_at)} · "
        '<a href="/status/feed.atom">Atom feed</a> · <a href="/status.json">JSON</a>'
        "</footer></main></body></html>\n"
    )


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (control characters, lone
    surrogates, U+FFFE/U+FFFF), which ElementTree would write as they are."""
    return _NOT_XML.sub("\ufffd", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _xml_text(text)
    return element


def _last_change(incident: PublicIncidentRead) -> dt.datetime:
    times = [incident.started_at, *(u.at for u in incident.updates)]
    if incident.resolved_at is not None:
        times.append(incident.resolved_at)
    return max(times)


def atom(page: StatusPageRead, *, base_url: str) -> bytes:
    """The incidents and their public updates as an Atom 1.0 feed: one entry per incident
    (open ones first), its updates in the content, newest first. ``base_url`` (no trailing
    slash) makes the ids and links absolute."""
    incidents = [*page.incidents, *page.past_incidents]
    feed = ET.Element("feed", xmlns=ATOM)
    _sub(feed, "id", f"{base_url}/status")
    _sub(feed, "title", page.title)
    updated = max((_last_change(i) for i in incidents), default=page.updated_at)
    _sub(feed, "updated", _iso(updated))
    author = _sub(feed, "author")
    _sub(author, "name", page.title)
    _sub(feed, "link", rel="self", type="application/atom+xml", href=f"{base_url}/status/feed.atom")
    _sub(feed, "link", rel="alternate", type="text/html", href=f"{base_url}/status")
    for incident in incidents:
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"{base_url}/status#{incident.ref}")
        _sub(entry, "title", f"{incident.title} ({STATUS_TEXT[incident.status]})")
        _sub(entry, "updated", _iso(_last_change(incident)))
        _sub(entry, "published", _iso(incident.started_at))
        _sub(
            entry,
            "link",
            rel="alternate",
            type="text/html",
            href=f"{base_url}/status#{incident.ref}",
        )
        lines = [f"{STATUS_TEXT[u.status]} ({_iso(u.at)}): {u.text}" for u in incident.updates] or [
            STATUS_TEXT[incident.status]
        ]
        impact = STATE_TEXT[incident.impact]
        if incident.components:
            impact += " of " + ", ".join(incident.components)
        _sub(entry, "content", "\n".join([impact, *lines]), type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
