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
    Op,
    Participant,
    SharedStateStore,
    StateStore,
    StoreAgent,
    StoreUnavailableError,
    check_on_store_failure,
)
from buttress.state.scripts import Script

if TYPE_CHECKING:
    from buttress.config import StateConfig
    from buttress.state.redis_store import RedisStore

__all__ = [
    "MemoryStore",
    "OnStoreFailure",
    "Op",
    "Participant",
    "RedisStore",
    "Script",
    "SharedStateStore",
    "StateStore",
    "StoreAgent",
    "StoreUnavailableError",
    "check_on_store_failure",
    "open_store",
]


def open_store(config: StateConfig) -> StateStore:
    """The store the ``state:`` section of buttress.yaml describes (no connection is opened
    until a policy first uses it)."""
    if config.backend == "memory":
        return MemoryStore()
    from buttress.state.redis_store import DEFAULT_URL, RedisStore

    tls = config.tls
    return RedisStore(
        config.url or DEFAULT_URL,
        prefix=config.prefix,
        connect_timeout=config.connect_timeout,
        command_timeout=config.command_timeout,
        pool_size=config.pool_size,
        retry_interval=config.retry_interval,
        sync_interval=config.sync_interval,
        ssl_ca_file=str(tls.ca_file) if tls and tls.ca_file else None,
        ssl_cert_file=str(tls.cert_file) if tls and tls.cert_file else None,
        ssl_key_file=str(tls.key_file) if tls and tls.key_file else None,
        ssl_verify=tls.verify if tls else True,
        cluster=None if config.cluster == "auto" else config.cluster,
    )


def __getattr__(name: str) -> Any:
    if name == "RedisStore":
        from buttress.state.redis_store import RedisStore

        return RedisStore
    raise AttributeError(f"module 'buttress.state' has no attribute {name!r}")
