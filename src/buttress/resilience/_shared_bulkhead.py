"""A bulkhead whose permits live in a shared store (Redis): a distributed semaphore of leases.

Each call takes a lease (one round trip) and gives it back (one more); the store's agent
thread renews the leases this process holds every ``lease / 3`` seconds, so a live holder
keeps its permit however long it runs, and a crashed one's comes back when its lease ends.
A caller allowed to wait (``max_queue`` > 0) polls at most every 50 ms and is woken early
when any process releases a permit (pub/sub). Priorities order nothing across processes:
waiters are served by whoever asks first after a release.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from buttress._clock import monotonic
from buttress.resilience.bulkhead import Bulkhead
from buttress.state import SharedStateStore, scripts
from buttress.state._base import StoreUnavailableError

if TYPE_CHECKING:
    from buttress.resilience._store_guard import StoreGuard

__all__ = ["SharedBulkhead"]

#: its scripts: <name>.lua next to this module
_BULKHEAD_COUNT = scripts.load("buttress.resilience", "bulkhead_count")
_BULKHEAD_ACQUIRE = scripts.load("buttress.resilience", "bulkhead_acquire")
_BULKHEAD_RELEASE = scripts.load("buttress.resilience", "bulkhead_release")
_BULKHEAD_RENEW = scripts.load("buttress.resilience", "bulkhead_renew")

T = TypeVar("T")
log = logging.getLogger("buttress.state")

_POLL = 0.05
_LOCAL = object()  # "use the in-process bulkhead" (degraded, on_store_failure=local)
_NONE = ""  # "run without a permit" (degraded, on_store_failure=allow)


class SharedBulkhead(Bulkhead):
    """A :class:`Bulkhead` whose permits are leases in a shared store, so ``max_concurrent``
    holds across processes: built by :meth:`Bulkhead.shared` (or directly, with the same
    arguments)."""

    _shared_via: ClassVar[str | None] = None
    _store: SharedStateStore  # set (checked) by __init__
    _guard: StoreGuard  # likewise

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        store = self._store
        if store is None or self._guard is None:
            raise ValueError(
                f"shared bulkhead {self.name!r}: store= must be a shared store (RedisStore); "
                "without one, use Bulkhead(...)"
            )
        self._key = [store.key("bh", self.name)]
        escaped = store.notice_name(self.name)
        self.notice_key = ("bh", escaped)
        self._notice = f"bh|{escaped}|released"
        self._held: dict[str, float] = {}
        self._held_lock = threading.Lock()
        self._released = threading.Condition()
        self._waiting = 0
        self._tokens = itertools.count()
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._renewed = monotonic()
        store.agent.register(self)

    @property
    def active(self) -> int:
        """Permits this process holds now (:meth:`shared_active` counts every process's)."""
        return len(self._held) + super().active

    @property
    def queued(self) -> int:
        return self._waiting + self._queued

    def shared_active(self) -> int:
        """Permits held now by every process (one round trip)."""
        return int(self._store.eval(_BULKHEAD_COUNT, self._key, []))

    # -- the agent: lease renewal and release notices -----------------------------------------

    def sync_ops(self) -> list[Any]:
        now = monotonic()
        with self._held_lock:
            if not self._held or now - self._renewed < self.lease / 3:
                return []
            self._renewed = now
            tokens = list(self._held)
        return [(_BULKHEAD_RENEW, self._key, [self.lease * 1e6, *tokens])]

    def synced(self, replies: list[Any]) -> None:
        guard = self._guard
        if guard.degraded:
            guard.succeeded()
        # Only a token sent for renewal, not found, and still held now has expired: a token
        # released (or acquired) while the renewal was on its way is not a lost lease.
        lost = [t.decode() if isinstance(t, bytes) else str(t) for t in replies[0]]
        with self._held_lock:
            expired = [t for t in lost if self._held.pop(t, None) is not None]
        if expired:  # said once per lease: it is no longer sent for renewal
            log.warning(
                "bulkhead %r: %d lease(s) expired before they were renewed (process stalled "
                "longer than lease=%ss?); their permits went back to the pool",
                self.name,
                len(expired),
                self.lease,
            )

    def sync_failed(self, error: BaseException) -> None:
        guard = self._guard
        guard.failed(error)

    def notice(self, fields: list[str]) -> None:
        with self._released:
            self._released.notify_all()

    # -- taking and giving back permits -------------------------------------------------------

    def _degraded(self) -> object:
        guard = self._guard
        if guard.mode == "local":
            return _LOCAL
        if guard.mode == "allow":
            return _NONE
        raise self._full("the shared state store is unavailable (on_store_failure=deny)")

    def _acquire_call(self, token: str) -> tuple[Any, list[str], list[Any]] | None:
        """The acquire script call, or ``None`` while the store is not to be asked."""
        guard = self._guard
        if not guard.usable():
            return None
        return (
            _BULKHEAD_ACQUIRE,
            self._key,
            [self.max_concurrent, self.lease * 1e6, token],
        )

    def _answered(self, token: str, reply: Any) -> tuple[bool, float]:
        """(got it, seconds until the first lease ends); a granted token is held from now."""
        guard = self._guard
        if guard.degraded:
            guard.succeeded()
        got, _held, retry = reply
        if got:
            with self._held_lock:
                self._held[token] = monotonic()
        return bool(got), float(retry) / 1e6

    def _try(self, token: str) -> tuple[bool, float] | None:
        call = self._acquire_call(token)
        if call is None:
            return None
        try:
            reply = self._store.eval(*call)
        except StoreUnavailableError as exc:
            self._store_failed(exc)
            return None
        return self._answered(token, reply)

    async def _atry(self, token: str) -> tuple[bool, float] | None:
        call = self._acquire_call(token)
        if call is None:
            return None
        try:
            reply = await self._store.aeval(*call)
        except StoreUnavailableError as exc:
            self._store_failed(exc)
            return None
        return self._answered(token, reply)

    def _store_failed(self, exc: StoreUnavailableError) -> None:
        guard = self._guard
        guard.failed(exc)

    def _token(self) -> str:
        return f"{self._holder}:{next(self._tokens)}"

    def _wait_plan(
        self, queued: bool, deadline: float | None, retry: float, limit: float | None
    ) -> tuple[bool, float]:
        if not queued and (self.max_queue == 0 or self._waiting >= self.max_queue):
            raise self._full("no free slot and the wait queue is full")
        left = None if deadline is None else deadline - monotonic()
        if left is not None and left <= 0:
            raise self._full(f"waited {limit}s for a slot")
        return True, min(_POLL, retry if retry > 0 else _POLL, _POLL if left is None else left)

    def _take(self, timeout: float | None) -> object:
        token = self._token()
        limit = self.max_wait if timeout is None else timeout
        deadline = None if limit is None else monotonic() + limit
        queued = False
        try:
            while True:
                answer = self._try(token)
                if answer is None:
                    return self._degraded()
                got, retry = answer
                if got:
                    return token
                first = not queued
                queued, wait = self._wait_plan(queued, deadline, retry, limit)
                if first:
                    self._waiting += 1
                with self._released:
                    self._released.wait(wait)
        finally:
            if queued:
                self._waiting -= 1

    async def _atake(self, timeout: float | None) -> object:
        token = self._token()
        limit = self.max_wait if timeout is None else timeout
        deadline = None if limit is None else monotonic() + limit
        queued = False
        try:
            while True:
                answer = await self._atry(token)
                if answer is None:
                    return self._degraded()
                got, retry = answer
                if got:
                    return token
                first = not queued
                queued, wait = self._wait_plan(queued, deadline, retry, limit)
                if first:
                    self._waiting += 1
                await asyncio.sleep(wait)
        finally:
            if queued:
                self._waiting -= 1

    def _release_call(self, token: object) -> tuple[Any, list[str], list[Any]] | None:
        """Stop holding ``token``: the release script call, or ``None`` when there is nothing
        to tell the store (an in-process slot, released here, or no permit at all)."""
        if token is _LOCAL:
            self._release()
            return None
        if not isinstance(token, str) or token == _NONE:
            return None
        with self._held_lock:
            self._held.pop(token, None)
        return _BULKHEAD_RELEASE, self._key, [token, self._store.channel, self._notice]

    def _wake_waiters(self) -> None:
        with self._released:
            self._released.notify_all()

    def _give(self, token: object) -> None:
        call = self._release_call(token)
        if call is None:
            return
        try:
            self._store.eval(*call)
        except StoreUnavailableError as exc:
            self._store_failed(exc)  # the lease ends by itself
        self._wake_waiters()

    async def _agive(self, token: object) -> None:
        call = self._release_call(token)
        if call is None:
            return
        try:
            await self._store.aeval(*call)
        except StoreUnavailableError as exc:
            self._store_failed(exc)  # the lease ends by itself
        self._wake_waiters()

    # -- faces --------------------------------------------------------------------------------

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` holding one of the shared permits (waiting if allowed)."""
        token = self._take(None)
        if token is _LOCAL:
            return super().call(fn, *args, **kwargs)
        try:
            return fn(*args, **kwargs)
        finally:
            self._give(token)

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn`` holding one of the shared permits (waiting if allowed)."""
        token = await self._atake(None)
        if token is _LOCAL:
            return await super().acall(fn, *args, **kwargs)
        try:
            return await fn(*args, **kwargs)
        finally:
            await self._agive(token)

    @contextlib.contextmanager
    def slot(self, priority: int = 0, timeout: float | None = None) -> Iterator[None]:
        """Hold a shared permit for a block (``priority`` orders only in-process waiters,
        while the store is down and ``on_store_failure=local``)."""
        token = self._take(timeout)
        if token is _LOCAL:
            self._enter_sync(priority, timeout)
        try:
            yield
        finally:
            self._give(token)

    @contextlib.asynccontextmanager
    async def aslot(self, priority: int = 0, timeout: float | None = None) -> AsyncIterator[None]:
        """Hold a shared permit for an async block."""
        token = await self._atake(timeout)
        if token is _LOCAL:
            await self._enter_async(priority, timeout)
        try:
            yield
        finally:
            await self._agive(token)

    def _enter(self) -> object:
        token = self._take(None)
        if token is _LOCAL:
            self._enter_sync(0, None)
        return token

    def _exit(self, token: object, exc: BaseException | None) -> None:
        self._give(token)

    async def _aenter(self) -> object:
        token = await self._atake(None)
        if token is _LOCAL:
            await self._enter_async(0, None)
        return token

    async def _aexit(self, token: object, exc: BaseException | None) -> None:
        await self._agive(token)

    def close(self) -> None:
        """Stop renewing leases (held permits then come back when their leases end)."""
        self._store.agent.unregister(self)
