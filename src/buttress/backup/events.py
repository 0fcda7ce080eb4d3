"""What the backup service reports (see :mod:`buttress.events`)."""

from __future__ import annotations

from dataclasses import dataclass

from buttress.events import DomainEvent

__all__ = ["BackupFinished", "BackupVerified"]


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
