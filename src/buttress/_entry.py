"""The ``buttress`` command's entry point (console script and ``python -m buttress``).

A command's imports (typer, pydantic models, SQLAlchemy, psycopg...) make some 85,000 objects
that live as long as the process. Two things keep the garbage collector from walking them for
nothing, which cost 0.2-0.25 s of every command:

- collection is off while the CLI is imported, with what the command will import anyway
  (the backup service and the catalog, for the backup commands that use them), as no cycle
  made there needs freeing; then those objects are frozen (``gc.freeze``: out of the
  collector's sight) and collection goes on as usual for the command itself;
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


_BACKUP = ("buttress.backup.service", "buttress.server.run")
_PRELOAD = {
    ("backup", command): _BACKUP
    for command in ("run", "list", "show", "verify", "restore", "prune", "copy")
}
"""What a command imports anyway, imported with the CLI (collector off)."""


def run() -> None:
    """Run the CLI with ``sys.argv`` and exit with its code."""
    if "--spool" in sys.argv:  # `wal push ... --spool DIR`: PostgreSQL's async archive_command
        from buttress.backup.wal.fast import run as fast_push

        fast = fast_push(sys.argv[1:])
        if fast is not None:
            sys.exit(fast)
    gc.disable()
    try:
        from buttress.cli import main

        for module in _PRELOAD.get(_command(sys.argv[1:]), ()):
            importlib.import_module(module)
    finally:
        gc.enable()
    gc.freeze()
    code = main()
    gc.freeze()
    sys.exit(code)


def _command(args: list[str]) -> tuple[str, str]:
    """The command group and command named in ``args`` (after the global options); empty
    strings for what is not there, and for a request for help."""
    if "-h" in args or "--help" in args:
        return "", ""
    words, named = iter(args), []
    for word in words:
        if word in ("-c", "--config", "--data-dir"):
            next(words, None)  # the option's value
        elif not word.startswith("-"):
            named.append(word)
            if len(named) == 2:
                break
    named += ["", ""]
    return named[0], named[1]
