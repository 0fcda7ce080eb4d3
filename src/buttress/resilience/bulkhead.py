"""Bulkhead: at most ``max_concurrent`` calls at once, plus a bounded, prioritised wait queue.

One core serves threads and asyncio (even mixed on one bulkhead). The free slots are items of
a list: taking one is ``list.pop()`` and giving it back ``list.append()``, each a single atomic
operation, so an uncontended call takes no lock. The lock guards only the heap of waiters:
a call that finds no free slot queues under it, and takes a slot given back in the meantime
itself; a released slot is handed straight to the best waiter (highest priority, then
oldest), which a thread waiter receives through a lock and an asyncio waiter through its event
loop. A waiter that times out or is cancelled leaves the queue, and a slot handed to it in that
instant is passed on, so no slot is ever lost.

When the queue is full, ``on_full`` decides: ``reject_newest`` (the arriving call fails with
:class:`BulkheadFullError`) or ``drop_oldest`` (the longest-waiting call of the lowest
priority fails instead, and the new one queues). ``max_wait`` bounds how long a queued call
waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from buttress.resilience import events
from buttress.resilience._policy import AsyncLink, Link, Policy, invoke
from buttress.resilience.errors import BulkheadFullError
from buttress.state._base import OnStoreFailure, StateStore

if TYPE_CHECKING:
    from buttress.resilience._shared_bulkhead import SharedBulkhead

__all__ = ["Bulkhead"]

T = TypeVar("T")

_WAITING, _GRANTED, _GONE = 0, 1, 2


class _Waiter:
    __slots__ = ("error", "future", "lock", "loop", "priority", "seq", "state")

    def __init__(self, priority: int, seq: int) -> None:
        self.priority = priority
        self.seq = seq
        self.state = _WAITING
        self.error: BulkheadFullError | None = None
        self.lock: threading.Lock | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.future: asyncio.Future[None] | None = None

    def __lt__(self, other: _Waiter) -> bool:  # heap order: higher priority first, then older
        return (-self.priority, self.seq) < (-other.priority, other.seq)

    def wake(self) -> None:
        if self.lock is not None:
            self.lock.release()
        elif self.loop is not None and self.future is not None:
            self.loop.call_soon_threadsafe(_resolve, self.future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Bulkhead(Policy):
    """Limits concurrent calls, queueing the excess by priority.

    >>> Bulkhead(max_concurrent=10, max_queue=100, max_wait=2.0).call(lambda: "ok")
    'ok'

    Args:
        max_concurrent: calls allowed at once (>= 1).
        max_queue: calls allowed to wait for a slot (>= 0; 0 = never wait).
        max_wait: seconds a queued call waits before failing (``None``: no limit).
        on_full: ``reject_newest`` or ``drop_oldest`` when the queue is full.

        store: ``None`` or an in-process store: slots counted in this process. For a
            ``max_concurrent`` that holds across processes, build it with :meth:`shared` (a
            :class:`SharedBulkhead`; see docs/shared-state.md).
        lease: with a shared store, seconds a permit outlives a holder that stopped renewing
            it (a crashed process); live holders renew theirs every ``lease / 3``.
        on_store_failure: while the shared store does not answer: ``local`` (count slots in
            this process), ``allow`` (run every call) or ``deny`` (reject every call).

    ``call``/``acall``/the decorator use priority 0; :meth:`slot` and :meth:`aslot` take one.

    .. versionadded:: 0.1
    """

    _shared_via: ClassVar[str | None] = "Bulkhead.shared"

    @classmethod
    def shared(
        cls,
        *,
        name: str,
        store: StateStore,
        lease: float = 30.0,
        on_store_failure: OnStoreFailure = "local",
        **kwargs: Any,
    ) -> SharedBulkhead:
        """A bulkhead whose ``max_concurrent`` holds across every process naming it: permits
        are leases in ``store``, a shared store (:class:`~buttress.state.RedisStore`); the
        other arguments are the constructor's. See docs/shared-state.md.

        Raises:
            ValueError: ``store`` keeps its state in this process (nothing to share).
        """
        from buttress.resilience._shared_bulkhead import SharedBulkhead

        return SharedBulkhead(
            name=name, store=store, lease=lease, on_store_failure=on_store_failure, **kwargs
        )

    def __init__(
        self,
        *,
        name: str | None = None,
        max_concurrent: int = 10,
        max_queue: int = 0,
        max_wait: float | None = None,
        on_full: Literal["reject_newest", "drop_oldest"] = "reject_newest",
        listeners: tuple[events.Listener, ...] = (),
        store: StateStore | None = None,
        lease: float = 30.0,
        on_store_failure: OnStoreFailure = "local",
    ) -> None:
        self._init_policy(name, "bulkhead", listeners)
        self._init_store(store, on_store_failure)
        if not lease > 0:
            raise ValueError(f"bulkhead lease={lease!r}: expected seconds > 0")
        self.lease = lease
        for field, value, low in (
            ("max_concurrent", max_concurrent, 1),
            ("max_queue", max_queue, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"bulkhead {field}={value!r}: expected an integer >= {low}")
        if max_wait is not None and not max_wait >= 0:
            raise ValueError(f"bulkhead max_wait={max_wait!r}: expected seconds >= 0 (or None)")
        if on_full not in ("reject_newest", "drop_oldest"):
            raise ValueError(
                f"bulkhead on_full={on_full!r}: expected 'reject_newest' or 'drop_oldest'"
            )
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.max_wait = max_wait
        self.on_full = on_full
        self._lock = threading.Lock()
        self._free: list[None] = [None] * max_concurrent  # one item per free slot
        self._queue: list[_Waiter] = []
        self._queued = 0  # waiters still waiting (the heap may hold gone ones, removed lazily)
        self._seq = itertools.count()
        # call() and acall() run through the in-process stage a pipeline links (one body each)
        self._run = self._local_link(invoke)
        self._arun = self._alocal_link(invoke)

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "max_concurrent": self.max_concurrent,
            "max_queue": self.max_queue,
            "max_wait": self.max_wait,
            "on_full": self.on_full,
        }
        if self._guard is not None:
            out["lease"] = self.lease
        return out

    @property
    def active(self) -> int:
        """Calls running now."""
        return self.max_concurrent - len(self._free)

    @property
    def queued(self) -> int:
        """Calls waiting for a slot now."""
        return self._queued

    def shared_active(self) -> int:
        """Calls running now in every process sharing this bulkhead (with a shared store, one
        round trip); in-process, the same as :attr:`active`."""
        return self.active

    # -- the core (no waiting here) ----------------------------------------------------------

    def _try_enter(self, priority: int) -> _Waiter | None:
        """Take a slot (``None``) or join the queue (the waiter to wait on); raises when full."""
        free = self._free
        if not self._queued:
            try:
                free.pop()
                return None
            except IndexError:
                pass
        with self._lock:
            if self._queued >= self.max_queue:
                if not self._queued:  # max_queue=0: never wait, but a slot may be free now
                    try:
                        free.pop()
                        return None
                    except IndexError:
                        pass
                victim = self._victim(priority) if self.on_full == "drop_oldest" else None
                if victim is None:
                    raise self._full("no free slot and the wait queue is full")
                victim.state = _GONE
                victim.error = BulkheadFullError(
                    self.name, "dropped from the wait queue for a newer call"
                )
                self._queued -= 1
                victim.wake()
            waiter = _Waiter(priority, next(self._seq))
            heapq.heappush(self._queue, waiter)
            self._queued += 1
            # a slot given back since our pop failed went unseen by its releaser if it read
            # _queued before we raised it: hand out whatever is free now (maybe to us)
            self._dispatch_locked()
            return waiter

    def _victim(self, priority: int) -> _Waiter | None:
        waiting = [w for w in self._queue if w.state == _WAITING and w.priority <= priority]
        if not waiting:
            return None
        return min(waiting, key=lambda w: (w.priority, w.seq))

    def _release(self) -> None:
        self._free.append(None)
        if self._queued:
            self._dispatch()

    def _dispatch_locked(self) -> None:
        """Hand free slots to the best waiters (under the lock)."""
        free, queue = self._free, self._queue
        while self._queued:
            try:
                free.pop()
            except IndexError:
                return
            while True:  # _queued > 0: the heap holds a waiting waiter (gone ones are skipped)
                waiter = heapq.heappop(queue)
                if waiter.state == _WAITING:
                    break
            waiter.state = _GRANTED  # the slot passes to it
            self._queued -= 1
            waiter.wake()

    def _stop_waiting(self, waiter: _Waiter) -> bool:
        """Leave the queue if still waiting (True); False when the wait already ended (a slot
        was handed over, or the waiter was dropped) in the same instant."""
        with self._lock:
            if waiter.state == _WAITING:
                waiter.state = _GONE
                self._queued -= 1
                return True
            return False

    def _full(self, reason: str) -> BulkheadFullError:
        if self._listeners or events.global_listeners:
            self._emit(events.CallRejected(self.name, "bulkhead_full", None))
        return BulkheadFullError(self.name, reason)

    # -- waiting, sync and async --------------------------------------------------------------

    def _enter_sync(self, priority: int, timeout: float | None) -> None:
        waiter = self._try_enter(priority)
        if waiter is None:
            return
        lock = threading.Lock()
        lock.acquire()
        waiter.lock = lock
        with self._lock:
            ready = waiter.state != _WAITING  # handed over before the lock was in place
        limit = self.max_wait if timeout is None else timeout
        got = ready or lock.acquire(timeout=-1 if limit is None else limit)
        if not got and self._stop_waiting(waiter):
            raise self._full(f"waited {limit}s for a slot")
        if waiter.error is not None:
            raise waiter.error

    async def _enter_async(self, priority: int, timeout: float | None) -> None:
        waiter = self._try_enter(priority)
        if waiter is None:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        waiter.loop, waiter.future = loop, future
        with self._lock:
            if waiter.state != _WAITING:
                future.set_result(None)
        limit = self.max_wait if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                await future
        except TimeoutError:
            if self._stop_waiting(waiter):
                raise self._full(f"waited {limit}s for a slot") from None
        except BaseException:
            # cancelled: never keep a slot handed over in the meantime, and never lose it
            if not self._stop_waiting(waiter) and waiter.error is None:
                self._release()
            raise
        if waiter.error is not None:
            raise waiter.error

    # -- faces --------------------------------------------------------------------------------

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` in a slot (waiting in the queue if allowed).

        Raises:
            BulkheadFullError: no slot, and no room or no time left to wait for one.
        """
        return self._run(partial(fn, *args, **kwargs) if args or kwargs else fn)  # type: ignore[no-any-return]  # fn's result

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn`` in a slot (waiting in the queue if allowed)."""
        return await self._arun(partial(fn, *args, **kwargs) if args or kwargs else fn)  # type: ignore[no-any-return]  # fn's result

    def _link(self, inner: Link) -> Link:
        if type(self) is not Bulkhead:  # a shared bulkhead: its call() asks the store
            return super()._link(inner)
        return self._local_link(inner)

    def _alink(self, inner: AsyncLink) -> AsyncLink:
        if type(self) is not Bulkhead:
            return super()._alink(inner)
        return self._alocal_link(inner)

    def _local_link(self, inner: Link) -> Link:
        """``inner`` in an in-process slot: the one body of call() and of a pipeline stage."""
        free = self._free

        def link(thunk: Callable[[], Any]) -> Any:
            taken = False
            if not self._queued:
                try:  # the uncontended path, inlined: one atomic pop in, one append out
                    free.pop()
                    taken = True
                except IndexError:
                    pass
            if not taken:  # (outside the except block: a rejection is not "during" IndexError)
                self._enter_sync(0, None)
            try:
                return inner(thunk)
            finally:
                free.append(None)
                if self._queued:
                    self._dispatch()

        return link

    def _alocal_link(self, inner: AsyncLink) -> AsyncLink:
        """:meth:`_local_link` for asyncio."""
        free = self._free

        async def link(thunk: Callable[[], Awaitable[Any]]) -> Any:
            taken = False
            if not self._queued:
                try:
                    free.pop()
                    taken = True
                except IndexError:
                    pass
            if not taken:
                await self._enter_async(0, None)
            try:
                return await inner(thunk)
            finally:
                free.append(None)
                if self._queued:
                    self._dispatch()

        return link

    def _dispatch(self) -> None:
        with self._lock:
            self._dispatch_locked()

    @contextlib.contextmanager
    def slot(self, priority: int = 0, timeout: float | None = None) -> Iterator[None]:
        """Hold a slot for a block: ``with bulkhead.slot(priority=5): ...``."""
        self._enter_sync(priority, timeout)
        try:
            yield
        finally:
            self._release()

    @contextlib.asynccontextmanager
    async def aslot(self, priority: int = 0, timeout: float | None = None) -> AsyncIterator[None]:
        """Hold a slot for an async block: ``async with bulkhead.aslot(priority=5): ...``."""
        await self._enter_async(priority, timeout)
        try:
            yield
        finally:
            self._release()

    def _enter(self) -> object:
        self._enter_sync(0, None)
        return None

    def _exit(self, token: object, exc: BaseException | None) -> None:
        self._release()

    async def _aenter(self) -> object:
        await self._enter_async(0, None)
        return None

    async def _aexit(self, token: object, exc: BaseException | None) -> None:
        self._release()
