"""A retry budget shared through a store (Redis): every process's calls earn retries for all.

Calls are counted locally (one increment) and sent by the store's agent in batches; a retry
asks Redis (one round trip, with the calls not sent yet), so the ratio holds across replicas:
a failing dependency sees at most ``ratio`` x the calls of all of them, plus the floor.
"""

from __future__ import annotations

from typing import Any

from buttress.resilience._store_guard import StoreGuard
from buttress.resilience.budget import RetryBudget
from buttress.state import scripts
from buttress.state._base import (
    OnStoreFailure,
    SharedStateStore,
    StateStore,
    StoreUnavailableError,
)

__all__ = ["SharedRetryBudget"]

#: its scripts: <name>.lua next to this module
_BUDGET_SYNC = scripts.load("buttress.resilience", "budget_sync", include=["budget"])
_BUDGET_WITHDRAW = scripts.load("buttress.resilience", "budget_withdraw", include=["budget"])


class SharedRetryBudget(RetryBudget):
    """A :class:`RetryBudget` drawn from by every process naming it, through a shared store:
    built by :meth:`RetryBudget.shared` (or directly, with the same arguments)."""

    def __init__(
        self,
        *,
        store: StateStore | None = None,
        on_store_failure: OnStoreFailure = "local",
        name: str = "retry_budget",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, on_store_failure=on_store_failure, **kwargs)
        if not isinstance(store, SharedStateStore):
            raise ValueError(
                f"shared retry budget {name!r}: store= must be a shared store (RedisStore); "
                "without one, use RetryBudget(...)"
            )
        shared = store
        self._store = shared
        self._guard = StoreGuard(self, store, on_store_failure)
        self._key = [shared.key("rb", name)]
        self.notice_key = ("rb", name)
        self._pending = 0  # calls counted lock-free (monotonic)
        self._sent = 0
        self._shared = (0, 0)
        shared.agent.register(self)

    @property
    def store_mode(self) -> str:
        """``shared``, or the ``on_store_failure`` mode in force."""
        return self._guard.current_mode

    def deposit(self) -> None:
        """Count one call (sent to the store with the next batch)."""
        self._pending += 1
        super().deposit()  # in-process too: on_store_failure=local continues from it

    def _unsent(self) -> int:
        pending = self._pending
        calls, self._sent = pending - self._sent, pending
        return calls

    def try_withdraw(self) -> bool:
        """Take one retry from the shared budget (one round trip)."""
        guard = self._guard
        if guard.usable():
            o = self.options
            try:
                ok, calls, retries = self._store.eval(
                    _BUDGET_WITHDRAW,
                    self._key,
                    [self._unsent(), o.ttl, o.ratio, o.min_per_second],
                )
            except StoreUnavailableError as exc:
                guard.failed(exc)
            else:
                if guard.degraded:
                    guard.succeeded()
                self._shared = (int(calls), int(retries))
                if ok:
                    super().try_withdraw()  # keep the in-process view in step
                return bool(ok)
        if guard.mode == "allow":
            return True
        if guard.mode == "deny":
            return False
        return super().try_withdraw()

    def snapshot(self) -> dict[str, float]:
        """Calls and retries of every process (as of the last exchange with the store)."""
        if self._guard.degraded:
            return super().snapshot()
        o = self.options
        calls, retries = self._shared
        return {
            "calls": calls,
            "retries": retries,
            "available": max(0.0, o.min_per_second * o.ttl + o.ratio * calls - retries),
        }

    # -- the agent --------------------------------------------------------------------------

    def sync_ops(self) -> list[Any]:
        guard = self._guard
        if guard.degraded and not guard.usable():
            return []
        return [(_BUDGET_SYNC, self._key, [self._unsent(), self.options.ttl])]

    def synced(self, replies: list[Any]) -> None:
        if self._guard.degraded:
            self._guard.succeeded()
        calls, retries = replies[0]
        self._shared = (int(calls), int(retries))

    def sync_failed(self, error: BaseException) -> None:
        self._guard.failed(error)

    def notice(self, fields: list[str]) -> None:
        return None
