"""May the API restore into this place? The decision for restores asked through the control
plane (the CLI, run by a person on the host, is not limited by it).

- directory, sqlite and redis targets restore into a path: it must lie inside one of
  ``backup.restore_roots`` (default: ``restored`` in the data directory) once symlinks and
  ``..`` are resolved, and must not overlap a local destination; a relative path is taken
  inside the first root, never in the server's working directory.
- postgresql, mariadb and mongodb targets restore into a DSN: every server it connects to is
  the target's own server or one of ``backup.restore_servers``; options that read files on
  the server or pick another service are refused unless the target's own DSN sets them alike.
- database names (``database``, and the database inside ``to``) are plain identifiers:
  ASCII letters, digits, ``_`` and ``-``, not starting with ``-``, at most 63 bytes.

No connection is made here; paths are resolved (which reads the file system) and nothing is
written. A refusal is a :class:`UsageError` naming the field, why, and what is allowed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from buttress.backup.endpoints import Endpoint, Parsed, parse_dsn_endpoints, parse_server
from buttress.errors import UsageError

if TYPE_CHECKING:
    from buttress.config import BackupConfig, BackupTarget

__all__ = [
    "PATH_SOURCES",
    "Placement",
    "RestorePolicy",
    "check_database_name",
    "decide",
]

PATH_SOURCES = frozenset({"directory", "sqlite", "redis"})
"""Sources restored into a path on the server (the others into a DSN)."""

DEFAULT_ROOT = "restored"
"""The default restore root, inside the data directory."""

# ASCII only, so that 63 characters are 63 bytes (PostgreSQL's NAMEDATALEN - 1); no leading
# "-", which a command-line tool would take for an option.
_IDENTIFIER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}")

# libpq keywords a `to` may set freely; any other (passfile, sslkey, service...) must match the
# target's own DSN
_PG_FREE = frozenset(
    {
        "user",
        "password",
        "sslmode",
        "connect_timeout",
        "application_name",
        "target_session_attrs",
        "load_balance_hosts",
        "gssencmode",
        "channel_binding",
    }
)
_MONGO_FREE = frozenset(
    {
        "authsource",
        "authmechanism",
        "replicaset",
        "directconnection",
        "tls",
        "ssl",
        "readpreference",
        "retrywrites",
        "w",
        "appname",
        "connecttimeoutms",
        "serverselectiontimeoutms",
        "sockettimeoutms",
    }
)


def _shown(text: str, limit: int = 64) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def check_database_name(name: str, field: str = "database") -> None:
    """Refuse a database name that is not a plain identifier (see the module docstring).

    Raises:
        UsageError: naming ``field``, the name (shortened) and the rule.
    """
    if _IDENTIFIER.fullmatch(name):
        return
    if len(name.encode("utf-8", "surrogatepass")) > 63:
        why = f"is {len(name.encode('utf-8', 'surrogatepass'))} bytes long (at most 63)"
    elif name.startswith("-"):
        why = "starts with '-'"
    elif not name:
        why = "is empty"
    else:
        why = "holds characters other than ASCII letters, digits, '_' and '-'"
    raise UsageError(
        f"{field}: database name {_shown(name)} {why}; use letters, digits, '_' and '-' "
        "(not first), at most 63 bytes"
    )


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an allowed restore goes: ``to`` and ``database`` for ``Backups.restore``, and
    ``shown``, the same place described without any secret (for the audit record)."""

    to: str | None
    database: str | None
    shown: str


@dataclass(frozen=True, slots=True)
class RestorePolicy:
    """The places restores through the API may go.

    Args:
        roots: absolute, resolved directories that path restores go inside.
        servers: servers a DSN restore may reach besides the target's own.
        protected: (destination name, resolved path) of local destinations, never restored
            into or over.
    """

    roots: tuple[Path, ...]
    servers: tuple[Endpoint, ...] = ()
    protected: tuple[tuple[str, Path], ...] = ()

    @classmethod
    def from_config(cls, config: BackupConfig, data_dir: Path) -> RestorePolicy:
        """The policy of the ``backup`` section, ``data_dir`` giving the default root."""
        roots = list(config.restore_roots) or [data_dir / DEFAULT_ROOT]
        return cls(
            tuple(_resolve(root) for root in roots),
            tuple(parse_server(s) for s in config.restore_servers),
            tuple(
                (d.name, _resolve(d.path))
                for d in config.destinations
                if d.type == "local" and d.path is not None
            ),
        )

    def describe_roots(self) -> str:
        return ", ".join(str(root) for root in self.roots)


def _resolve(path: Path) -> Path:
    return Path(os.path.realpath(path.absolute()))


def _place_path(policy: RestorePolicy, to: str | None, default: Path) -> Path:
    if to is not None:
        if "\0" in to:
            raise UsageError("to: the path contains a NUL byte")
        if not to.strip():
            raise UsageError("to: the path is empty")
    wanted = Path(to) if to is not None else default
    place = _resolve(wanted if wanted.is_absolute() else policy.roots[0] / wanted)
    if not any(place != root and place.is_relative_to(root) for root in policy.roots):
        said = f"{_shown(to, 200)} resolves to {place}" if to is not None else str(place)
        raise UsageError(
            f"to: {said}, which is not inside a restore root; restores through the API write "
            f"only inside {policy.describe_roots()} (backup.restore_roots; a relative path is "
            "taken inside the first)"
        )
    for name, path in policy.protected:
        if place.is_relative_to(path) or path.is_relative_to(place):
            raise UsageError(
                f"to: {place} overlaps destination {name!r} ({path}); choose another path "
                "inside the restore roots"
            )
    return place


def _check_servers(
    parsed: Parsed, own: Parsed, policy: RestorePolicy, target: BackupTarget
) -> None:
    allowed = [*own.endpoints, *(s for s in policy.servers if s not in own.endpoints)]
    for endpoint in parsed.endpoints:
        if endpoint not in allowed:
            listed = ", ".join(str(e) for e in allowed)
            raise UsageError(
                f"to: connects to {endpoint}, which restores through the API may not reach; "
                f"allowed: {listed} (the server of target {target.name!r}, and "
                "backup.restore_servers)"
            )


def _check_options(parsed: Parsed, own: Parsed, source: str) -> None:
    if source == "postgresql":
        free, own_options = _PG_FREE, own.options
        options = parsed.options
    elif source == "mongodb":
        free = _MONGO_FREE
        own_options = {k.lower(): v for k, v in own.options.items()}
        options = {k.lower(): v for k, v in parsed.options.items()}
    else:
        return  # mariadb DSNs take no options (parse_dsn ignores the query)
    for key, value in options.items():
        if key not in free and own_options.get(key) != value:
            raise UsageError(
                f"to: option {_shown(key, 40)} is not accepted through the API unless the "
                f"target's own DSN sets it alike; accepted: {', '.join(sorted(free))}"
            )


def decide(
    policy: RestorePolicy,
    target: BackupTarget,
    run_id: str,
    *,
    to: str | None,
    database: str | None,
    env: Mapping[str, str],
) -> Placement:
    """Where a restore of ``target``'s run ``run_id`` asked through the API goes, or why not.

    Args:
        to: the request's ``to`` (a path or a DSN, by the target's source), or None.
        database: the request's ``database``, or None.
        env: the environment the server's clients read (PGHOST, PGPORT...).

    Raises:
        UsageError: the place is not allowed; the message names the field, why, and what is.
    """
    if to is not None and database is not None:
        raise UsageError("to, database: give one of them, not both")
    if target.source in PATH_SOURCES:
        if database is not None:
            raise UsageError(
                f"database: applies to postgresql, mariadb and mongodb targets; {target.name!r} "
                f"is a {target.source} target, restored into a path (to)"
            )
        folder = Path(target.name) / run_id
        default = folder / "restored.db" if target.source == "sqlite" else folder
        place = _place_path(policy, to, default)
        return Placement(str(place), None, str(place))
    if database is not None:
        check_database_name(database)
        return Placement(None, database, f"database {database} on the target's server")
    if to is None:
        return Placement(None, None, "a new database on the target's server")
    from buttress.config import DsnTargetConfig

    if not isinstance(target, DsnTargetConfig):  # every source but PATH_SOURCES reads a DSN
        raise UsageError(f"target {target.name!r} ({target.source}) has no DSN to restore near")
    parsed = parse_dsn_endpoints(target.source, to, env=env)
    own = parse_dsn_endpoints(
        target.source, target.dsn, field=f"target {target.name!r} dsn", env=env
    )
    _check_servers(parsed, own, policy, target)
    if parsed.database is None:
        raise UsageError("to: name the database to restore into (dbname=NAME, or .../NAME)")
    check_database_name(parsed.database, "to")
    _check_options(parsed, own, target.source)
    servers = ", ".join(str(e) for e in parsed.endpoints)
    return Placement(to, None, f"{target.source} database {parsed.database} on {servers}")
