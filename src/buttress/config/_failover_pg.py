"""A PostgreSQL primary with a streaming replica, as the failover actions see it."""

from __future__ import annotations

from buttress.config._base import Section

__all__ = ["PostgresPairConfig"]


class PostgresPairConfig(Section):
    """A PostgreSQL primary and its streaming replica."""
