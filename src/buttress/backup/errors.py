"""Backup errors: each names what failed and where, never a password."""

from __future__ import annotations

from buttress.errors import ButtressError

__all__ = ["BackupBusyError", "BackupError", "CorruptBackupError", "RestoreError"]


class BackupError(ButtressError):
    """A backup could not be taken (source unreachable, dump tool failed, destination full...)."""


class CorruptBackupError(BackupError):
    """A stored backup does not match its manifest (missing, truncated or altered object; wrong
    key); the message names the object and the destination."""


class RestoreError(BackupError):
    """A restore could not be done (target not empty without ``force``, tool failed...).

    ``target_state`` says what the failure left the target in, when whoever raised it knows
    (``"untouched"``...); empty when it is for the caller to find out."""

    def __init__(self, message: str, *, target_state: str = "") -> None:
        super().__init__(message)
        self.target_state = target_state


class BackupBusyError(BackupError):
    """A run of the target is already in progress (a target is never backed up twice at once)."""
