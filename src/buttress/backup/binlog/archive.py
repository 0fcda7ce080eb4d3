"""The binlog files archived for a target, as the destinations hold them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from buttress.backup.binlog.layout import BinlogName, parse_key, prefix
from buttress.backup.destinations import Destination
from buttress.backup.errors import BackupError

__all__ = ["ArchivedFile", "list_archived"]


@dataclass(frozen=True)
class ArchivedFile:
    """The fullest stored copy of one binlog file (and a destination holding it)."""

    name: BinlogName
    key: str
    sha256: str
    size: int  # stored bytes (encrypted, compressed): the fuller file is the larger
    destination: Destination
    copies: tuple[Destination, ...] = ()  # every destination holding this key (first: the above)


def list_archived(
    target: str, destinations: Sequence[Destination], problems: list[str] | None = None
) -> list[ArchivedFile]:
    """Every binlog file archived for ``target`` in any of ``destinations``, by number; of
    several copies of one name, the largest (a file stored while being written, then again
    whole). A destination that cannot be listed is left out (its error in ``problems``)."""
    best: dict[str, ArchivedFile] = {}
    for dest in destinations:
        try:
            keys = dest.keys(prefix(target))
            for key in keys:
                parsed = parse_key(target, key)
                if parsed is None:
                    continue
                name, sha = parsed
                size = dest.size(key) or 0
                known = best.get(name.name)
                if known is not None and known.key == key:
                    best[name.name] = replace(known, copies=(*known.copies, dest))
                elif known is None or size > known.size:
                    best[name.name] = ArchivedFile(name, key, sha, size, dest, (dest,))
        except BackupError as exc:
            if problems is not None:
                problems.append(str(exc))
    return sorted(best.values(), key=lambda a: (a.name.base, a.name.number))
