"""What can go wrong archiving or fetching WAL (each a BackupError, so the CLI prints it)."""

from __future__ import annotations

from buttress.backup.errors import BackupError

__all__ = ["WalConflictError", "WalError", "WalIdentityError", "WalMissingError"]


class WalError(BackupError):
    """A WAL file could not be archived or fetched (storage, or too few destinations)."""


class WalConflictError(WalError):
    """The archive already holds this name with other content: never overwritten."""


class WalIdentityError(WalError):
    """The file belongs to another cluster (system identifier) or another WAL format than the
    archive's: two servers archiving into one target by mistake, or a foreign file."""


class WalMissingError(WalError):
    """No destination holds the file: the normal end of recovery (``restore_command`` exits
    non-zero and PostgreSQL moves on)."""
