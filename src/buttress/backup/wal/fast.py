"""``buttress wal push|fetch ... --spool DIR``: what PostgreSQL runs once per segment, without
the CLI.

PostgreSQL runs ``archive_command`` and ``restore_command`` once per segment and waits for each,
so their cost is the ceiling of archiving and of recovery. With the spool named on the command
line (``backup postgres-setup`` writes it so for ``wal.mode: async`` targets, and a restore for
targets with ``wal.prefetch``), :mod:`buttress._entry` runs this before importing the CLI:

- ``wal push TARGET PATH --spool DIR [--spool-max-mb N]``: the asynchronous push (the file
  copied into the spool, durably), which needs neither the configuration nor the catalog;
- ``wal fetch TARGET NAME OUT --spool DIR``: a segment the prefetch already downloaded is moved
  into place (its SHA-256 checked) and the next prefetch started; one that is not there goes
  to the CLI, which reads the archive.

Either costs an interpreter start and a few imports (about 0.1 s) instead of the whole CLI's
(0.6 s and more). The typer commands take the same arguments and do the same.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SPOOL_OPTION", "FastCall", "parse", "run", "spool_push"]

SPOOL_OPTION = "--spool"
MAX_OPTION = "--spool-max-mb"
DEFAULT_MAX_MB = 4096
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # config._base.NAME_PATTERN
_GLOBAL_WITH_VALUE = ("-c", "--config", "--data-dir")


@dataclass(frozen=True)
class FastCall:
    command: str  # push / fetch
    target: str
    paths: tuple[str, ...]  # push: (PATH,); fetch: (NAME, OUT)
    spool: Path
    max_mb: int
    globals: tuple[str, ...]  # --config/--data-dir and their values, for a spawned prefetch


def parse(args: list[str]) -> FastCall | None:
    """The call ``args`` (``sys.argv[1:]``) make when they are a ``wal push`` or ``wal fetch``
    naming the spool; None for anything else (the CLI handles it, and its errors)."""
    if SPOOL_OPTION not in args or "-h" in args or "--help" in args:
        return None
    words = iter(args)
    positional: list[str] = []
    globals_: list[str] = []
    spool: str | None = None
    max_mb = DEFAULT_MAX_MB
    for word in words:
        if word in _GLOBAL_WITH_VALUE:
            value = next(words, None)
            if value is None:
                return None
            globals_ += [word, value]
        elif word == SPOOL_OPTION:
            spool = next(words, None)
        elif word == MAX_OPTION:
            value = next(words, "")
            if not value.isdigit() or int(value) < 1:
                return None  # the CLI says what is wrong with it
            max_mb = int(value)
        elif word.startswith("-"):
            if word != "--debug":
                return None
        else:
            positional.append(word)
    if not spool or positional[:1] != ["wal"] or len(positional) < 3:
        return None
    command, target, rest = positional[1], positional[2], tuple(positional[3:])
    if not _NAME.match(target):
        return None
    if (command, len(rest)) not in (("push", 1), ("fetch", 2)):
        return None
    return FastCall(command, target, rest, Path(spool), max_mb, tuple(globals_))


def spool_push(target: str, path: Path, spool_dir: Path, max_mb: int) -> None:
    """Spool ``path`` durably for ``target``'s pusher (raises SpoolError when it cannot)."""
    from buttress.backup.wal.spool import Spool

    if not _NAME.match(target):
        from buttress.errors import UsageError

        raise UsageError(f"wal push: {target!r} is not a target name")
    Spool(spool_dir, target, max_mb << 20).put(path)


def take_prefetched(call: FastCall) -> bool:
    """``wal fetch`` from the prefetched segments: True when ``NAME`` was there (moved into
    ``OUT``, the next prefetch started)."""
    from buttress.backup.wal.names import parse_name
    from buttress.backup.wal.prefetch import start_prefetch, take
    from buttress.backup.wal.spool import Spool

    name, out = call.paths
    spool = Spool(call.spool, call.target, 1 << 62)
    if not take(spool, name, Path(out)):
        return False
    sys.stderr.write(f"wal fetch: {name} from the prefetched copy in the spool (fast path)\n")
    try:
        segment = parse_name(name).is_segment
    except ValueError:
        segment = False
    if segment:
        try:
            start_prefetch(spool, [*call.globals, "wal", "fetch", "--prefetch", call.target, name])
        except OSError as exc:
            sys.stderr.write(f"warning: no prefetch after {name}: {exc}\n")
    return True


def run(args: list[str]) -> int | None:
    """The exit code of the fast call, or None when ``args`` are not one (or the fetched
    segment is not prefetched: the CLI reads the archive)."""
    call = parse(args)
    if call is None:
        return None
    from buttress.errors import ButtressError

    try:
        if call.command == "push":
            spool_push(call.target, Path(call.paths[0]), call.spool, call.max_mb)
            return 0
        return 0 if take_prefetched(call) else None
    except ButtressError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code if call.command == "push" else 126
    except OSError as exc:
        sys.stderr.write(
            f"error: wal {call.command} of target {call.target}: {exc.strerror or exc}\n"
        )
        return 1 if call.command == "push" else 126
