"""Runbook links of generated alerts: an alert's ``runbook`` (a preset's, an SLO's
``links.runbook``) is a URL, or the name of a buttress runbook, which becomes the
``runbook_url`` annotation pointing at that runbook's page in the control plane's dashboard
(``incidents.public_url`` + ``/#/runbooks?name=NAME``): whoever is paged opens the
procedure, dry-runs and runs it there."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from buttress.config import ButtressConfig

__all__ = ["RUNBOOK_PAGE", "is_runbook_name", "runbook_problem", "runbook_url"]

RUNBOOK_PAGE = "/#/runbooks?name="
"""The dashboard route of one runbook, after the control plane's public URL."""


def is_runbook_name(value: str) -> bool:
    """A value written as a runbook's name rather than a URL (no scheme, no slash)."""
    return "://" not in value and "/" not in value


def runbook_url(config: ButtressConfig, value: str) -> str:
    """``value`` as the ``runbook_url`` annotation: a URL as written; a runbook's name as its
    page in the dashboard (:func:`runbook_problem` has refused a name it cannot link)."""
    if not is_runbook_name(value):
        return value
    base = (config.incidents.public_url or "").rstrip("/")
    return f"{base}{RUNBOOK_PAGE}{quote(value, safe='')}"


def runbook_problem(config: ButtressConfig, value: str) -> str | None:
    """Why ``value`` cannot be linked: a runbook name that no runbook has, or a name while
    ``incidents.public_url`` (where people open the control plane) is not set."""
    if not is_runbook_name(value):
        return None
    names = [r.name for r in config.runbooks.all]
    if value not in names:
        close = difflib.get_close_matches(value, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(names) or "none"
        return f"no runbook {value!r}{hint} (a URL, or one of the runbooks: {known})"
    if not config.incidents.public_url:
        return (
            f"runbook {value!r} is linked at the control plane's address: set "
            "incidents.public_url (e.g. https://buttress.internal), or give a URL"
        )
    return None
