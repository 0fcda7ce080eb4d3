"""Restoring to a point: the recovery target, which base backup it starts from, the settings a
restored data directory gets, and what the server's log says about how recovery ended.

Pure but for :func:`write_recovery` (it writes two files). Starting and watching the server is
:mod:`.postmaster`'s.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from buttress.backup.wal.names import Lsn, format_lsn, parse_lsn
from buttress.errors import UsageError

__all__ = [
    "Action",
    "BaseBackup",
    "RecoveryOutcome",
    "RecoveryTarget",
    "TargetKind",
    "choose_base",
    "fetch_command",
    "prefetch_spool",
    "read_outcome",
    "when_text",
    "window",
    "write_recovery",
]

TargetKind = Literal["time", "lsn", "xid", "name", "immediate"]
Action = Literal["promote", "pause", "shutdown"]
_ACTIONS = ("promote", "pause", "shutdown")


@dataclass(frozen=True)
class RecoveryTarget:
    """Where recovery stops (PostgreSQL's ``recovery_target_*``).

    Args:
        kind: ``time`` (a time with its zone), ``lsn``, ``xid``, ``name`` (a restore point made
            with ``pg_create_restore_point``) or ``immediate`` (the end of the base backup: the
            earliest consistent point; needs no archived WAL).
        value: the time, LSN, transaction id or name (``""`` for ``immediate``).
        inclusive: stop just after the target (else just before it).
        action: what the server does there: ``promote`` (open for writes), ``pause`` (stay
            read-only in recovery; ``pg_wal_replay_resume()`` promotes) or ``shutdown``.
        timeline: ``recovery_target_timeline`` (``latest``, ``current`` or a number).
    """

    kind: TargetKind
    value: str = ""
    inclusive: bool = True
    action: Action = "promote"
    timeline: str = "latest"

    def __post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise UsageError(
                f"target action {self.action!r}: one of {', '.join(_ACTIONS)} (--target-action)"
            )
        if self.kind == "time":
            self.at  # noqa: B018  # parsed now: a bad time is refused before anything
        elif self.kind == "lsn":
            try:
                parse_lsn(self.value)
            except ValueError as exc:
                raise UsageError(f"--target-lsn: {exc}") from None
        elif self.kind == "xid" and not self.value.isdigit():
            raise UsageError(f"--target-xid {self.value!r}: a transaction id is a number")
        elif self.kind == "name" and not self.value:
            raise UsageError("--target-name: the name of a restore point is empty")
        if self.timeline not in ("latest", "current") and not self.timeline.isdigit():
            raise UsageError(f"timeline {self.timeline!r}: latest, current or a number")

    @classmethod
    def choose(
        cls,
        *,
        time: str | None = None,
        lsn: str | None = None,
        xid: str | None = None,
        name: str | None = None,
        immediate: bool = False,
        inclusive: bool = True,
        action: str = "promote",
    ) -> RecoveryTarget:
        """The one target the options name (UsageError when none or several)."""
        options: list[tuple[TargetKind, str | None]] = [
            ("time", time), ("lsn", lsn), ("xid", xid), ("name", name),
        ]  # fmt: skip
        given = [(kind, value) for kind, value in options if value is not None]
        if immediate:
            given.append(("immediate", ""))
        if len(given) != 1:
            what = "none" if not given else ", ".join(k for k, _ in given)
            raise UsageError(
                "a restore to a point needs exactly one of --target-time, --target-lsn, "
                f"--target-xid, --target-name, --immediate (given: {what})"
            )
        kind, value = given[0]
        return cls(kind, value.strip(), inclusive, action)  # type: ignore[arg-type]  # checked

    @property
    def at(self) -> dt.datetime | None:
        """A ``time`` target as an aware datetime (UsageError: not a time, or no zone)."""
        if self.kind != "time":
            return None
        try:
            when = dt.datetime.fromisoformat(self.value)
        except ValueError:
            raise UsageError(
                f"--target-time {self.value!r} is not a time like '2026-12-02 14:35:00+00'"
            ) from None
        if when.tzinfo is None:
            raise UsageError(
                f"--target-time {self.value!r} has no time zone: add one ('+00' for UTC), "
                "the server's and this machine's may differ"
            )
        return when

    @property
    def lsn(self) -> Lsn | None:
        return parse_lsn(self.value) if self.kind == "lsn" else None

    def describe(self) -> str:
        if self.kind == "immediate":
            return "the end of the base backup (--immediate)"
        if self.kind == "time":
            at = self.at
            assert at is not None
            return f"time {at.astimezone(dt.UTC).isoformat(sep=' ')}"
        return f"{self.kind} {self.value}"

    def settings(self) -> dict[str, str]:
        """The ``recovery_target*`` settings for PostgreSQL."""
        out: dict[str, str] = {}
        if self.kind == "immediate":
            out["recovery_target"] = "immediate"
        elif self.kind == "time":
            at = self.at
            assert at is not None
            out["recovery_target_time"] = at.isoformat(sep=" ")
        else:
            out[f"recovery_target_{self.kind}"] = self.value
        if self.kind != "immediate":
            out["recovery_target_inclusive"] = "on" if self.inclusive else "off"
        out["recovery_target_action"] = self.action
        out["recovery_target_timeline"] = self.timeline
        return out


@dataclass(frozen=True)
class BaseBackup:
    """A physical base backup as the catalog records it (``detail["physical"]``)."""

    id: str
    start_lsn: Lsn
    stop_lsn: Lsn
    stop_time: dt.datetime
    timeline: int

    @classmethod
    def from_facts(cls, backup_id: str, facts: dict[str, Any]) -> BaseBackup:
        return cls(
            backup_id,
            parse_lsn(str(facts["start_lsn"])),
            parse_lsn(str(facts["stop_lsn"])),
            dt.datetime.fromisoformat(str(facts["stop_time"])),
            int(facts["timeline"]),
        )


def when_text(t: dt.datetime) -> str:
    """A time as messages show it: ``2026-12-02 14:35:00+00`` (what --target-time takes)."""
    return f"{t.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}+00"


def window(bases: Sequence[BaseBackup]) -> str:
    """The recoverable window as far as base backups tell it, for messages."""
    if not bases:
        return "empty (no base backup)"
    oldest = min(bases, key=lambda b: b.stop_time)
    return (
        f"from {when_text(oldest.stop_time)} (the end of the "
        f"oldest base backup, {oldest.id}; LSN {format_lsn(oldest.stop_lsn)}) to the newest "
        "archived WAL"
    )


def choose_base(
    bases: Sequence[BaseBackup], target: RecoveryTarget, backup_id: str | None = None
) -> BaseBackup:
    """The base backup a restore to ``target`` starts from: ``backup_id`` when given, else the
    newest that ended before the target (time, LSN), or the newest (xid, name, immediate).

    Raises:
        UsageError: no base backup, the target is before the oldest one's end (the window is
            shown), or the one asked for ends after the target.
    """
    if not bases:
        raise UsageError("no base backup to restore from (run `buttress backup run TARGET`)")
    at, lsn = target.at, target.lsn

    def ends_before(base: BaseBackup) -> bool:
        if at is not None:
            return base.stop_time <= at
        if lsn is not None:
            return base.stop_lsn <= lsn
        return True

    if backup_id is not None:
        chosen = [b for b in bases if b.id == backup_id]
        if not chosen:
            raise UsageError(
                f"--backup {backup_id}: not a good base backup of this target (have: "
                + ", ".join(b.id for b in sorted(bases, key=lambda b: b.stop_lsn))
                + ")"
            )
        if not ends_before(chosen[0]):
            raise UsageError(
                f"--backup {backup_id} ends at {chosen[0].stop_time.isoformat(sep=' ')} (LSN "
                f"{format_lsn(chosen[0].stop_lsn)}), after the target {target.describe()}: "
                "recovery cannot stop before the end of its base backup"
            )
        return chosen[0]
    fit = [b for b in bases if ends_before(b)]
    if not fit:
        raise UsageError(
            f"the target {target.describe()} is before the end of the oldest base backup: "
            f"nothing was restored; the recoverable window is {window(bases)}"
        )
    return max(fit, key=lambda b: (b.stop_lsn, b.stop_time))


def prefetch_spool(target: object) -> Path | None:
    """The spool a restore of ``target`` fetches through (its ``wal.spool_dir`` when
    ``wal.prefetch`` is on), for :func:`fetch_command`; None otherwise."""
    wal = getattr(target, "wal", None)
    return wal.spool_dir if wal is not None and wal.prefetch > 0 else None


def fetch_command(
    python: str,
    config_file: Path,
    target: str,
    data_dir: Path | None = None,
    spool: Path | None = None,
) -> str:
    """The ``restore_command`` that fetches archived WAL of ``target`` with buttress; with
    ``spool`` (a target with ``wal.prefetch``), segments already prefetched there are served
    without loading the CLI (:mod:`buttress.backup.wal.fast`)."""
    args = [python, "-m", "buttress", "--config", str(config_file.absolute())]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir.absolute())]
    args += ["wal", "fetch", target]
    tail = ["--spool", str(spool)] if spool is not None else []
    return (
        " ".join(shlex.quote(a) for a in args)
        + " %f %p"
        + "".join(" " + shlex.quote(a) for a in tail)
    )


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def write_recovery(
    datadir: Path,
    target: RecoveryTarget,
    restore_command: str,
    extra: dict[str, str] | None = None,
    note: str = "",
) -> list[Path]:
    """Make ``datadir`` (a restored base backup) recover to ``target`` when it starts:
    ``recovery.signal`` (no ``standby.signal``) and the settings appended to
    ``postgresql.auto.conf`` (later lines win), with ``extra`` ones (``port``...). Returns the
    files written."""
    (datadir / "standby.signal").unlink(missing_ok=True)
    signal = datadir / "recovery.signal"
    signal.write_bytes(b"")
    settings = {"restore_command": restore_command, **target.settings(), **(extra or {})}
    auto = datadir / "postgresql.auto.conf"
    lines = [f"# buttress restore{': ' + note if note else ''}"]
    lines += [f"{key} = {_quoted(value)}" for key, value in settings.items()]
    with auto.open("a") as f:
        f.write("\n" + "\n".join(lines) + "\n")
    return [signal, auto]


@dataclass(frozen=True)
class RecoveryOutcome:
    """How recovery went, as the server's log tells it.

    ``state``: ``running`` (not over yet), ``promoted``, ``paused``, ``shutdown`` (the
    ``shutdown`` action) or ``failed`` (``error`` says why)."""

    state: Literal["running", "promoted", "paused", "shutdown", "failed"]
    stopping: str = ""  # the "recovery stopping ..." line
    last_transaction: str = ""  # "last completed transaction was at log time ..."
    redo_done: str = ""  # the LSN replayed up to
    timeline: int | None = None  # the new timeline of a promotion
    error: str = ""
    last_fatal: str = ""  # the last FATAL/PANIC message (a client's, too: not a failure alone)
    command_error: str = ""  # the last "error: ..." line of a restore_command (buttress's)

    @property
    def done(self) -> bool:
        return self.state != "running"

    def reached(self) -> str:
        """The point reached, in words."""
        parts = []
        if self.last_transaction:
            parts.append(f"last replayed transaction at {self.last_transaction}")
        if self.stopping:
            parts.append(self.stopping)
        if self.redo_done:
            parts.append(f"WAL replayed up to {self.redo_done}")
        if self.timeline is not None:
            parts.append(f"new timeline {self.timeline}")
        return "; ".join(parts) or "no point reported in the log"


_FAILURES = (
    "recovery ended before configured recovery target was reached",
    "requested recovery stop point is before consistent recovery point",
    "could not locate required checkpoint record",
    "could not locate a valid checkpoint record",
    "aborting startup due to startup process failure",
    "database files are incompatible with server",
)
_MESSAGE = re.compile(r"(?:LOG|FATAL|PANIC|ERROR):\s+(.*)$")


def _message(line: str) -> str:
    m = _MESSAGE.search(line)
    return m.group(1).strip() if m else line.strip()


def read_outcome(log: str) -> RecoveryOutcome:
    """Read a recovering server's log (its lines in ``lc_messages=C``)."""
    stopping = last = redo = error = ""
    timeline: int | None = None
    paused = promoted = shutdown = recovering = False
    fatal: list[str] = []
    command = ""
    for line in log.splitlines():
        if line.startswith("error: "):  # what `wal fetch` said on its stderr (in the log)
            command = line.removeprefix("error: ").strip()
            continue
        msg = _message(line)
        if "FATAL:" in line or "PANIC:" in line:
            fatal.append(msg)
        if msg.startswith("recovery stopping"):
            stopping = msg
        elif msg.startswith("last completed transaction was at log time"):
            last = msg.removeprefix("last completed transaction was at log time").strip()
        elif msg.startswith("redo done at"):
            redo = msg.removeprefix("redo done at").split()[0]
        elif msg.startswith("selected new timeline ID:"):
            timeline = int(msg.split(":", 1)[1].split()[0])
        elif msg.startswith("starting point-in-time recovery") or msg.startswith(
            "starting archive recovery"
        ):
            recovering = True
        elif msg.startswith("pausing at the end of recovery") or msg.startswith(
            "recovery has paused"
        ):
            paused = True
        elif msg.startswith("archive recovery complete"):
            promoted = True
        elif msg.startswith("shutdown at recovery target"):
            shutdown = True
        elif (
            msg.startswith("database system is ready to accept connections")
            and promoted
            and recovering
        ):
            return RecoveryOutcome(
                "promoted", stopping, last, redo, timeline, command_error=command
            )
        for failure in _FAILURES:
            if failure in msg and not error:
                error = msg
    worst = fatal[-1] if fatal else ""
    state: Literal["running", "paused", "shutdown", "failed"] = "running"
    if error:
        state = "failed"
    elif shutdown:
        state = "shutdown"
    elif paused:
        state = "paused"
    return RecoveryOutcome(state, stopping, last, redo, timeline, error, worst, command)
