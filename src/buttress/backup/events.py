"""What the backup service reports (see :mod:`buttress.events`)."""

from __future__ import annotations

from dataclasses import dataclass

from buttress.events import DomainEvent

__all__ = ["BackupFinished", "BackupVerified", "WalArchiveStalled", "WalGapFound"]


@dataclass(frozen=True, slots=True)
class BackupFinished(DomainEvent):
    """A run of ``target`` ended: ``status`` is ``succeeded`` or ``failed`` (``error`` says why,
    without secrets); sizes in bytes, ``seconds`` of wall time; ``trigger`` is ``cli``,
    ``schedule`` or ``api``."""

    target: str
    backup_id: str
    status: str
    seconds: float
    raw_size: int = 0
    stored_size: int = 0
    error: str = ""
    trigger: str = "cli"


@dataclass(frozen=True, slots=True)
class BackupVerified(DomainEvent):
    """A verify (``restore_test`` False) or restore test of ``backup_id`` ended."""

    target: str
    backup_id: str
    ok: bool
    restore_test: bool
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WalGapFound(DomainEvent):
    """Segments ``first`` to ``last`` (``count`` of them) are missing from ``target``'s WAL
    archive after its oldest good base backup: no restore reaches past ``first``'s start from
    a base backup before the gap (reported once per gap and process)."""

    target: str
    first: str
    last: str
    count: int


@dataclass(frozen=True, slots=True)
class WalArchiveStalled(DomainEvent):
    """No WAL segment of ``target`` was handed over for ``lag_seconds`` (above
    ``threshold_seconds``): archiving is failing, or the server is idle (reported once per
    stall; ``newest`` is the newest archived segment's name, "" when none)."""

    target: str
    lag_seconds: float
    threshold_seconds: float
    newest: str
