"""Progress of long backup work (dump, restore, verify), for whoever shows it.

The pipeline reports to the reporter of the current context, if any: ``start`` once per phase
(``total`` in bytes when known, for an ETA) and ``advance`` per chunk. Nothing is reported,
and nothing costs more than a context-variable read per MiB, when no reporter is set (the
scheduler, the API); the CLI sets a Rich one on a terminal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Protocol

__all__ = ["Reporter", "advance", "reporting", "start"]


class Reporter(Protocol):
    def start(self, description: str, total: int | None) -> None: ...
    def advance(self, n: int) -> None: ...


_current: ContextVar[Reporter | None] = ContextVar("buttress_backup_progress", default=None)


@contextlib.contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Report the work done inside the block to ``reporter`` (None: to nobody)."""
    token = _current.set(reporter)
    try:
        yield
    finally:
        _current.reset(token)


def start(description: str, total: int | None = None) -> None:
    reporter = _current.get()
    if reporter is not None:
        reporter.start(description, total)


def advance(n: int) -> None:
    reporter = _current.get()
    if reporter is not None:
        reporter.advance(n)
