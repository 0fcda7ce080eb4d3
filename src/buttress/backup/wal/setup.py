"""The server settings WAL archiving needs (``buttress backup postgres-setup``): what they
should be for a target, what the server has, and applying them with ``ALTER SYSTEM``."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buttress.backup.errors import BackupError
from buttress.secrets import mask_dsn, redact

if TYPE_CHECKING:
    import psycopg

    from buttress.config import PostgresqlTargetConfig

__all__ = [
    "Setting",
    "apply",
    "archive_drift",
    "buttress_command",
    "connect",
    "current",
    "server_drift",
    "wanted",
]


@dataclass(frozen=True)
class Setting:
    name: str
    value: str
    why: str
    restart: bool  # takes effect only after a server restart
    now: str | None = None  # the server's value, when read

    @property
    def ok(self) -> bool:
        if self.now is None:
            return False
        if self.name == "wal_level":
            return self.now in ("replica", "logical")
        if self.name == "max_wal_senders":
            return int(self.now) >= int(self.value)
        return self.now == self.value


def buttress_command() -> str:
    """How the server should call this buttress: the console script, by its absolute path,
    when that is what runs; else this interpreter with ``-m buttress``."""
    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "buttress" and script.is_file():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m buttress"


def wanted(target: PostgresqlTargetConfig, config_file: Path | None) -> list[Setting]:
    """The settings target's WAL archiving needs, with why."""
    wal = target.wal
    timeout = int(wal.archive_timeout) if wal is not None else 60
    where = f" --config {shlex.quote(str(config_file.resolve()))}" if config_file else ""
    command = f"{buttress_command()}{where} wal push {target.name} %p"
    if wal is not None and wal.mode == "async" and wal.spool_dir is not None:
        # the spool on the command line: the push reads no configuration (wal/fast.py)
        spool = shlex.quote(str(wal.spool_dir.resolve()))
        command += f" --spool {spool} --spool-max-mb {wal.spool_max_mb}"
    return [
        Setting(
            "wal_level", "replica", "WAL holds what a base backup and archive replay need", True
        ),
        Setting("archive_mode", "on", "completed segments are handed to archive_command", True),
        Setting(
            "archive_command",
            command,
            f"each segment goes into target {target.name}'s destinations; a failure is retried",
            False,
        ),
        Setting(
            "archive_timeout",
            f"{timeout}s" if timeout % 60 else f"{timeout // 60}min",
            "a segment switch at least this often: the RPO while writes are rare",
            False,
        ),
        Setting("max_wal_senders", "2", "pg_basebackup takes a replication connection", True),
    ]


def connect(dsn: str, **overrides: Any) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection to ``dsn`` (``overrides``: libpq keywords that win over it);
    BackupError naming the server, never its password, when it fails."""
    import psycopg

    try:
        return psycopg.connect(dsn, **{"autocommit": True, "connect_timeout": 10, **overrides})
    except psycopg.Error as exc:
        said = redact(str(exc)).strip()
        raise BackupError(f"cannot connect to {mask_dsn(dsn)}: {said}") from None


def _normal(name: str, value: str, unit: str | None) -> str:
    if name == "archive_timeout" and unit == "s":
        seconds = int(value)
        return f"{seconds}s" if seconds % 60 else f"{seconds // 60}min"
    return value


def current(dsn: str, settings: list[Setting]) -> list[Setting]:
    """``settings`` with the server's values read into ``now``."""
    with connect(dsn) as conn:
        rows = conn.execute(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)",
            ([s.name for s in settings],),
        ).fetchall()
    found = {name: _normal(name, value, unit) for name, value, unit in rows}
    return [Setting(s.name, s.value, s.why, s.restart, found.get(s.name)) for s in settings]


def apply(dsn: str, settings: list[Setting]) -> list[str]:
    """``ALTER SYSTEM SET`` each setting that is not as wanted, then reload; the names of
    those that wait for a restart."""
    import psycopg
    from psycopg import sql

    with connect(dsn) as conn:
        try:
            for s in settings:
                if s.ok:
                    continue
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(s.name), sql.Literal(s.value)
                    )
                )
            conn.execute("SELECT pg_reload_conf()")
            rows = conn.execute(
                "SELECT name FROM pg_settings WHERE pending_restart AND name = ANY(%s)",
                ([s.name for s in settings],),
            ).fetchall()
        except psycopg.Error as exc:
            raise BackupError(
                f"{mask_dsn(dsn)}: cannot change the settings: {redact(str(exc)).strip()} "
                "(ALTER SYSTEM needs a superuser)"
            ) from None
    pending = [r[0] for r in rows]
    restart = {s.name for s in settings if s.restart and not s.ok}
    return sorted(set(pending) | restart)


def archive_drift(target: PostgresqlTargetConfig, archive_command: str) -> str | None:
    """What is wrong between the server's ``archive_command`` and ``target``'s ``wal:``
    settings, or None when they agree. The command carries the spool (``--spool DIR``) so
    that an asynchronous push reads no configuration; a configuration changed afterwards
    (async to sync, another spool_dir) leaves segments spooled where no pusher looks."""
    fix = f"run `buttress backup postgres-setup {target.name} --apply`"
    try:
        words = shlex.split(archive_command)
    except ValueError:
        words = archive_command.split()
    pushes = any(
        words[i : i + 3] == ["wal", "push", target.name] for i in range(max(len(words) - 2, 0))
    )
    if not pushes:
        return (
            f"the server's archive_command does not run `wal push {target.name}`: its WAL is "
            f"not archived into target {target.name} ({fix})"
        )
    spool = words[words.index("--spool") + 1] if "--spool" in words[:-1] else None
    wal = target.wal
    if wal is None:
        return None
    wanted_spool = wal.spool_dir if wal.mode == "async" else None
    if spool is None:
        if wanted_spool is None:
            return None
        return (
            f"wal.mode is async but the server's archive_command pushes synchronously (no "
            f"--spool): each segment waits for the upload ({fix})"
        )
    if wanted_spool is None:
        return (
            f"the server's archive_command spools into {spool} but target {target.name}'s "
            f"wal.mode is {wal.mode}: no pusher uploads what is spooled there, and that WAL "
            f"is not archived ({fix})"
        )
    if Path(spool).resolve() != wanted_spool.resolve():
        return (
            f"the server's archive_command spools into {spool} but the pusher drains "
            f"wal.spool_dir {wanted_spool}: what is spooled there is never uploaded ({fix})"
        )
    return None


def server_drift(target: PostgresqlTargetConfig, *, connect_timeout: int = 3) -> str | None:
    """:func:`archive_drift` against the running server's ``archive_command``; None too when
    the server cannot be asked (unreachable is reported by the backups themselves)."""
    try:
        with connect(target.dsn, connect_timeout=connect_timeout) as conn:
            rows = conn.execute(
                "SELECT name, setting FROM pg_settings"
                " WHERE name IN ('archive_mode', 'archive_command')"
            ).fetchall()
    except BackupError:
        return None
    found = {str(name): str(value) for name, value in rows}
    if found.get("archive_mode") == "off":
        return (
            f"the server's archive_mode is off: no WAL is archived into target {target.name} "
            f"(run `buttress backup postgres-setup {target.name} --apply` and restart it)"
        )
    command = found.get("archive_command")
    if command is None or command == "<insufficient privilege>":
        return None  # not readable by this role (pg_read_all_settings grants it)
    return archive_drift(target, command)
