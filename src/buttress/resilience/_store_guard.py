"""StoreGuard: one policy's view of its shared store's health, and its failure mode.

While the store answers, the policy uses it. When a call to it fails, the guard counts the
error, switches the policy to its ``on_store_failure`` mode (logged once, as an event), and
lets one caller try the store again every ``retry_interval`` seconds; the first success
switches back (logged once). Between retries no caller waits on the store.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from buttress._clock import Clock, monotonic
from buttress.resilience import events
from buttress.state._base import OnStoreFailure, SharedStateStore, check_on_store_failure

__all__ = ["StoreGuard"]


class _Owner(Protocol):
    """What the guard needs of the policy (or retry budget) it serves."""

    name: str
    _listeners: tuple[events.Listener, ...]


log = logging.getLogger("buttress.state")


class StoreGuard:
    """Tracks whether ``owner`` (a policy) can use ``store`` now, and what to do when it
    cannot."""

    __slots__ = ("_clock", "_lock", "_retry_at", "degraded", "errors", "mode", "owner", "store")

    def __init__(
        self,
        owner: _Owner,
        store: SharedStateStore,
        mode: OnStoreFailure = "local",
        *,
        clock: Clock = monotonic,
    ) -> None:
        self.owner = owner
        self.store = store
        self.mode: OnStoreFailure = check_on_store_failure(mode)
        self.degraded = False
        self.errors = 0
        self._retry_at = 0.0
        self._lock = threading.Lock()
        self._clock = clock

    @property
    def current_mode(self) -> str:
        """``shared`` while the store answers, else the failure mode in force."""
        return self.mode if self.degraded else "shared"

    def usable(self) -> bool:
        """May this caller use the store now? While degraded, one caller per
        ``retry_interval`` gets True (and tries); everyone else gets False at once."""
        if not self.degraded:
            return True
        now = self._clock()
        with self._lock:
            if now >= self._retry_at:
                self._retry_at = now + self.store.retry_interval
                return True
        return False

    def failed(self, error: BaseException) -> None:
        """The store did not answer: count it and enter the failure mode (once)."""
        with self._lock:
            self.errors += 1
            entering = not self.degraded
            self.degraded = True
            self._retry_at = self._clock() + self.store.retry_interval
        name = self.owner.name
        events.emit(self.owner._listeners, events.StateStoreFailed(name, str(error)))
        if entering:
            log.warning(
                "policy %r: state store %s unavailable (%s); using on_store_failure=%s until it "
                "answers again",
                name,
                self.store.describe(),
                error,
                self.mode,
            )
            events.emit(
                self.owner._listeners, events.StateStoreModeChanged(name, "shared", self.mode)
            )

    def succeeded(self) -> None:
        """The store answered: leave the failure mode if in it (once)."""
        if not self.degraded:
            return
        with self._lock:
            if not self.degraded:
                return
            self.degraded = False
        log.warning(
            "policy %r: state store %s answers again; shared state resumed",
            self.owner.name,
            self.store.describe(),
        )
        events.emit(
            self.owner._listeners,
            events.StateStoreModeChanged(self.owner.name, self.mode, "shared"),
        )
