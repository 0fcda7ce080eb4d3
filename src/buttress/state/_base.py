"""The state-store interface and the in-process store."""

from __future__ import annotations

from typing import Literal

from buttress.errors import ButtressError

__all__ = [
    "MemoryStore",
    "OnStoreFailure",
    "StateStore",
    "StoreUnavailableError",
    "check_on_store_failure",
]

OnStoreFailure = Literal["local", "allow", "deny"]
"""What a policy does while its shared store does not answer: ``local`` keeps going on
in-process state, ``allow`` lets every call through, ``deny`` refuses every call."""

_MODES = ("local", "allow", "deny")


def check_on_store_failure(value: object) -> OnStoreFailure:
    """Validate an ``on_store_failure`` value with a message naming the choices."""
    if value not in _MODES:
        raise ValueError(f"on_store_failure={value!r}: expected 'local', 'allow' or 'deny'")
    return value  # type: ignore[return-value]  # checked just above


class StoreUnavailableError(ButtressError):
    """The shared store did not answer (refused, timed out, or failed) within its timeouts.

    Policies catch it and apply their ``on_store_failure`` mode; it never reaches a caller of a
    policy. The message names the store (host and port, never the password) and the cause.
    """


class StateStore:
    """Where stateful policies (rate limiters, circuit breakers, bulkheads, retry budgets)
    keep their state.

    ``shared`` is false for a store whose state lives in each process (:class:`MemoryStore`):
    policies then use their own in-process state, the fastest path. A shared store
    (:class:`~buttress.state.RedisStore`) gives every process that names the same policy the
    same limits, breaker state, permits and budget.
    """

    shared: bool = False
    #: seconds a policy waits after a store failure before it asks the store again
    retry_interval: float = 1.0

    def describe(self) -> str:
        """A one-line description for logs and errors (no secrets)."""
        return type(self).__name__

    def close(self) -> None:
        """Release connections and background threads (idempotent)."""


class MemoryStore(StateStore):
    """State in the process: each policy object holds its own (the default)."""

    def describe(self) -> str:
        return "memory"
