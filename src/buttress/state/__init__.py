"""Where stateful policies keep their state: in the process (the default) or in Redis, shared
by every process and replica (see docs/shared-state.md).

Importing this package loads no Redis client; :class:`RedisStore` imports redis-py when it is
first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from buttress.state._base import (
    MemoryStore,
    OnStoreFailure,
    StateStore,
    StoreUnavailableError,
    check_on_store_failure,
)

if TYPE_CHECKING:
    from buttress.state.redis_store import RedisStore

__all__ = [
    "MemoryStore",
    "OnStoreFailure",
    "RedisStore",
    "StateStore",
    "StoreUnavailableError",
    "check_on_store_failure",
]


def __getattr__(name: str) -> Any:
    if name == "RedisStore":
        from buttress.state.redis_store import RedisStore

        return RedisStore
    raise AttributeError(f"module 'buttress.state' has no attribute {name!r}")
