"""``buttress wal push TARGET PATH --spool DIR``: the asynchronous push without the CLI.

PostgreSQL runs ``archive_command`` once per segment, so its cost is the archiving rate's
ceiling. The spool needs neither the configuration nor the catalog, so when the command line
names the spool (``backup postgres-setup`` writes it so for ``wal.mode: async`` targets),
:mod:`buttress._entry` runs this before importing the CLI: the push costs an interpreter start
and the spool's few imports (about 0.1 s) instead of the whole CLI's (about 0.6 s). The typer
command of the same name does the same for the same arguments.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["SPOOL_OPTION", "parse", "run", "spool_push"]

SPOOL_OPTION = "--spool"
MAX_OPTION = "--spool-max-mb"
DEFAULT_MAX_MB = 4096
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # config._base.NAME_PATTERN
_GLOBAL_WITH_VALUE = ("-c", "--config", "--data-dir")


def parse(args: list[str]) -> tuple[str, Path, Path, int] | None:
    """``(target, path, spool_dir, max_mb)`` when ``args`` (``sys.argv[1:]``) are a
    ``wal push`` naming the spool; None for anything else (the CLI handles it, and its
    errors)."""
    if SPOOL_OPTION not in args or "-h" in args or "--help" in args:
        return None
    words = iter(args)
    positional: list[str] = []
    spool: str | None = None
    max_mb = DEFAULT_MAX_MB
    for word in words:
        if word in _GLOBAL_WITH_VALUE:
            next(words, None)
        elif word == SPOOL_OPTION:
            spool = next(words, None)
        elif word == MAX_OPTION:
            value = next(words, "")
            if not value.isdigit() or int(value) < 1:
                return None  # the CLI says what is wrong with it
            max_mb = int(value)
        elif word.startswith("--spool=") or word.startswith(f"{MAX_OPTION}="):
            return None
        elif word.startswith("-"):
            if word != "--debug":
                return None
        else:
            positional.append(word)
    if len(positional) != 4 or positional[:2] != ["wal", "push"] or not spool:
        return None
    target, path = positional[2], positional[3]
    if not _NAME.match(target):
        return None
    return target, Path(path), Path(spool), max_mb


def spool_push(target: str, path: Path, spool_dir: Path, max_mb: int) -> None:
    """Spool ``path`` durably for ``target``'s pusher (raises SpoolError when it cannot)."""
    from buttress.backup.wal.spool import Spool

    if not _NAME.match(target):
        from buttress.errors import UsageError

        raise UsageError(f"wal push: {target!r} is not a target name")
    Spool(spool_dir, target, max_mb << 20).put(path)


def run(args: list[str]) -> int | None:
    """The exit code of the fast push, or None when ``args`` are not one."""
    parsed = parse(args)
    if parsed is None:
        return None
    from buttress.errors import ButtressError

    try:
        spool_push(*parsed)
    except ButtressError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    except OSError as exc:
        sys.stderr.write(f"error: wal push to target {parsed[0]}: {exc.strerror or exc}\n")
        return 1
    return 0
