"""``runbooks.failover``: the primary/replica pairs the failover actions work on, by name
(``postgresql.orders``, ``redis.cache``)."""

from __future__ import annotations

from pydantic import Field

from buttress.config._base import Section
from buttress.config._failover_pg import PostgresPairConfig
from buttress.config._failover_redis import RedisPairConfig

__all__ = ["FailoverConfig"]


class FailoverConfig(Section):
    """Named primary/replica pairs for the failover and failback actions."""

    postgresql: dict[str, PostgresPairConfig] = Field(
        default_factory=dict,
        description="PostgreSQL primaries with a streaming replica, by name.",
    )
    redis: dict[str, RedisPairConfig] = Field(
        default_factory=dict,
        description="Redis primaries with a replica, by name.",
    )
