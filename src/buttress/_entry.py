"""The ``buttress`` command's entry point (console script and ``python -m buttress``).

A command's imports (typer, pydantic models, SQLAlchemy, psycopg...) make some 85,000 objects
that live as long as the process. Two things keep the garbage collector from walking them for
nothing, which cost a third of a second of every command:

- collection is off while the CLI is imported (no cycle is made there that must be freed),
  then those objects are frozen (``gc.freeze``: out of the collector's sight) and collection
  goes on as usual for the command itself;
- before exiting, everything is frozen again, so Python's shutdown does not walk it all in its
  final collections. Files are closed and atexit handlers run as before; only cycles still
  alive at exit go uncollected, as the process ends anyway.

This module stays outside :mod:`buttress.cli` so that importing the CLI from code (tests, an
application embedding it) never changes that process's collector.
"""

from __future__ import annotations

import gc
import importlib
import sys

__all__ = ["run"]


_PRELOAD = {
    "backup": ("buttress.backup.service", "buttress.server.run"),
}
"""What a command group imports anyway, imported with the CLI (collector off)."""


def run() -> None:
    """Run the CLI with ``sys.argv`` and exit with its code."""
    gc.disable()
    try:
        from buttress.cli import main

        for module in _PRELOAD.get(_group(sys.argv[1:]), ()):
            importlib.import_module(module)
    finally:
        gc.enable()
    gc.freeze()
    code = main()
    gc.freeze()
    sys.exit(code)


def _group(args: list[str]) -> str:
    """The command group named in ``args`` (after the global options), or ""."""
    words = iter(args)
    for word in words:
        if word in ("-c", "--config", "--data-dir"):
            next(words, None)  # the option's value
        elif not word.startswith("-"):
            return word
    return ""
