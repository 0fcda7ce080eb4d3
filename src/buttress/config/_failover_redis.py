"""A Redis primary with a replica, as the failover actions see it."""

from __future__ import annotations

from buttress.config._base import Section

__all__ = ["RedisPairConfig"]


class RedisPairConfig(Section):
    """A Redis primary and its replica."""
