"""Backups: streamed, compressed (zstd), encrypted (age), checksummed, split into objects, stored
in one or more destinations, described by a manifest written last (see docs/backup.md).

Importing this package loads neither zstandard nor pyrage; the modules that stream do.
"""

from __future__ import annotations

from buttress.backup.errors import BackupError, CorruptBackupError, RestoreError

__all__ = ["BackupError", "CorruptBackupError", "RestoreError"]
