"""The state-store interfaces and the in-process store.

:class:`StateStore` is what every store is (memory or shared); :class:`SharedStateStore` is
every operation a policy or a domain calls on a store whose state every process shares: a
second backend, or a wrapper that injects faults (drills), is written against it alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from buttress.errors import ButtressError
from buttress.state.scripts import Script

__all__ = [
    "MemoryStore",
    "OnStoreFailure",
    "Op",
    "Participant",
    "SharedStateStore",
    "StateStore",
    "StoreAgent",
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


Op = tuple[Script, list[str], list[Any]]
"""One script run of a sync round: the script, its keys, its arguments (the store adds the
time argument)."""


class Participant(Protocol):
    """A policy (or the shared level) whose shared state the store's agent keeps in step."""

    #: ``(kind, name)``: notices on the store's channel are routed by it
    notice_key: tuple[str, str]

    def sync_ops(self) -> list[Op]:
        """Scripts to run this round (empty: nothing to do, e.g. while degraded)."""

    def synced(self, replies: list[Any]) -> None:
        """The replies, in order."""

    def sync_failed(self, error: BaseException) -> None:
        """The round failed: the store did not answer."""

    def notice(self, fields: list[str]) -> None:
        """A state-change notice from another process (the fields after the notice key)."""


class StoreAgent(Protocol):
    """A shared store's background work: every ``sync_interval`` one round runs the
    participants' :meth:`~Participant.sync_ops` together and hands back the replies; notices
    published on the store's channel reach the participant they name."""

    def register(self, member: Participant) -> None:
        """Take part in the rounds and receive notices (held weakly)."""

    def unregister(self, member: Participant) -> None:
        """Stop taking part (idempotent)."""

    def wake(self) -> None:
        """Run a round now rather than at the next interval."""

    def run_round(self) -> None:
        """Run one round in the calling thread."""


class SharedStateStore(StateStore, ABC):
    """A store whose state every process shares (:class:`~buttress.state.RedisStore`): the
    operations the shared policies, the fleet level and ``buttress state check`` call.

    Every operation that talks to the store raises :class:`StoreUnavailableError` when it does
    not answer (the policies apply their ``on_store_failure`` mode), and nothing else for a
    store failure. Scripts are :class:`~buttress.state.scripts.Script` objects; a backend runs
    them (Redis Lua), or implements them by name.
    """

    shared = True
    #: the channel notices are published on (``kind|name|...``, see :meth:`notice_name`)
    channel: str

    @abstractmethod
    def key(self, kind: str, name: str, key: str = "") -> str:
        """The store key of one logical state (``kind``: ``rl``, ``cb``, ``bh``, ``rb``,
        ``level``...; every key of one state lands on one cluster slot)."""

    @abstractmethod
    def notice_name(self, name: str) -> str:
        """``name`` as it appears in a notice on :attr:`channel` (``|`` escaped)."""

    @abstractmethod
    def eval(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run ``script`` on ``keys`` and ``args`` (the time argument is added) and return its
        reply."""

    @abstractmethod
    async def aeval(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """:meth:`eval` for asyncio."""

    @abstractmethod
    def limit(
        self,
        name: str,
        key: str,
        script: Script,
        args: tuple[float, ...],
        cost: float,
        reserve: bool,
    ) -> tuple[int, float, float, float]:
        """One rate-limit decision of limiter ``name`` for ``key``: (code, retry seconds,
        remaining, reset seconds); code 1 = taken, 2 = reserved (wait first), 0 = refused,
        -1 = never grantable."""

    @abstractmethod
    async def alimit(
        self,
        name: str,
        key: str,
        script: Script,
        args: tuple[float, ...],
        cost: float,
        reserve: bool,
    ) -> tuple[int, float, float, float]:
        """:meth:`limit` for asyncio."""

    @property
    @abstractmethod
    def agent(self) -> StoreAgent:
        """The store's agent (started on first use)."""

    @abstractmethod
    def unavailable(self, exc: BaseException) -> StoreUnavailableError:
        """The :class:`StoreUnavailableError` for a failure of the store's client (naming the
        store, never a secret)."""

    @abstractmethod
    def publish(self, channel: str, message: str) -> None:
        """Publish ``message`` on ``channel``."""

    @abstractmethod
    def server_time(self) -> float:
        """The store's clock, Unix seconds (what the scripts call ``now``)."""

    @abstractmethod
    def get(self, key: str) -> str | None:
        """The string at ``key``, or ``None``."""

    @abstractmethod
    def hash_items(self, key: str) -> dict[str, str]:
        """Every field of the hash at ``key`` (empty when there is none)."""

    @abstractmethod
    def hash_delete(self, key: str, field: str) -> None:
        """Remove ``field`` from the hash at ``key``."""

    @abstractmethod
    def check(self) -> dict[str, Any]:
        """Ask the store what a policy will need (``buttress state check``): at least
        ``store``, ``prefix``, ``round_trip_ms``, ``clock_offset_ms`` and ``scripts_loaded``."""

    async def aclose(self) -> None:
        """Close the running event loop's connections (default: nothing to close)."""


class MemoryStore(StateStore):
    """State in the process: each policy object holds its own (the default)."""

    def describe(self) -> str:
        return "memory"
