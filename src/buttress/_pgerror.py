"""libpq's error text (through psycopg) on one line, and whether the server answered at all.

libpq puts a hint on a line of its own (``\\tIs the server running on that host and accepting
TCP/IP connections?``), a server error may add ``HINT:``/``DETAIL:`` lines, and a DSN with
several hosts adds a list of every attempt: every message buttress shows is one line, so the
first line is kept with the useful hint after it, and the list of attempts is left out.
Redacting secrets is the caller's business (it knows the DSN).
"""

from __future__ import annotations

import re

__all__ = ["one_line", "refusal"]

_SEVERITY = re.compile(r"\b(FATAL|ERROR|WARNING):\s+")
_PREFIX = "connection failed: "
_ATTEMPTS = "Multiple connection attempts failed"
_REFUSED = re.compile(r"^connection to server (?:at|on) .*? failed: FATAL:\s+")


def one_line(text: str) -> str:
    """``text`` (an exception's ``str``) as one line: the first line, then its hints."""
    lines = [line for line in str(text).splitlines() if line.strip()]
    if not lines:
        return ""
    head = lines[0].strip()
    if head.startswith(_PREFIX + "connection to server"):
        head = head.removeprefix(_PREFIX)  # psycopg's prefix before libpq's own
    hints: list[str] = []
    for line in lines[1:]:
        if line.startswith(_ATTEMPTS):
            break  # each attempt again, one per line: the first one is said already
        if line.startswith("\t"):
            hints.append(line.strip())  # libpq's own hint: "\tIs the server running ..."
        elif line.startswith(("HINT:", "DETAIL:")):
            label, _, rest = line.partition(":")
            hints.append(f"{label.lower()}: {rest.strip()}")
        # other lines (LINE 1: ..., the caret under it) repeat the statement: left out
    message = " ".join([head, *(f"({hint})" for hint in hints)])
    return _SEVERITY.sub(lambda m: f"{m[1]}: ", message)


def refusal(text: str) -> str | None:
    """What the server answered when it refused a connection (``role "x" does not exist``,
    ``password authentication failed for user "x"``), one line; None when it did not answer
    (refused by the OS, timed out, unknown host)."""
    line = one_line(text)
    match = _REFUSED.match(line)
    return line[match.end() :] if match else None
