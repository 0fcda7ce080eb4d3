"""Backup sources: what can be backed up, how it is dumped, restored and compared."""

from __future__ import annotations

from buttress.backup.sources.base import Source, compare_metadata

__all__ = ["Source", "compare_metadata"]
