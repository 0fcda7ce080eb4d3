"""A circuit breaker whose state and window live in a shared store (Redis).

The call path stays local: a closed breaker counts outcomes in this process (a success is
one integer increment), and the store's agent thread sends the counts in batches every
``sync_interval`` (at once after a failure). Redis judges the shared window and opens the
breaker for everyone; every process learns it from the pub/sub notice (about one round trip),
or at its next sync when a notice was missed. Half-open probes are handed out by Redis (at
most ``half_open_calls`` across all processes) and their results judged there.

While the store does not answer, ``on_store_failure`` decides: ``local`` (this process's own
breaker judges its own calls), ``allow`` (no call is rejected) or ``deny`` (every call is).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from buttress.resilience._policy import AsyncLink, Link
from buttress.resilience.circuit_breaker import _SLOW, CircuitBreaker, CircuitState
from buttress.state import SharedStateStore, scripts
from buttress.state._base import StoreUnavailableError

if TYPE_CHECKING:
    from buttress.resilience._store_guard import StoreGuard

__all__ = ["SharedCircuitBreaker"]

#: its scripts: <name>.lua next to this module
_BREAKER_SYNC = scripts.load("buttress.resilience", "breaker_sync", include=["breaker"])
_BREAKER_PROBE = scripts.load("buttress.resilience", "breaker_probe", include=["breaker"])
_BREAKER_PROBE_RESULT = scripts.load(
    "buttress.resilience", "breaker_probe_result", include=["breaker"]
)
_BREAKER_SET = scripts.load("buttress.resilience", "breaker_set", include=["breaker"])

T = TypeVar("T")

_STATES: dict[str, CircuitState] = {
    s: s for s in ("closed", "open", "half_open", "forced_open", "forced_closed", "disabled")
}


class SharedCircuitBreaker(CircuitBreaker):
    """A :class:`CircuitBreaker` whose state and window are shared through a store: built by
    :meth:`CircuitBreaker.shared` (or directly, with the same arguments).

    The core differs from the base class's: admission (probes handed out by Redis), recording
    (outcomes counted here and sent in batches) and the controls. So does the fast path: a
    success is one lock-free count for the shared window, in every face (generated from
    ``acall`` and ``_awrap``, see scripts/gen_faces.py).
    """

    _shared_via: ClassVar[str | None] = None
    _store: SharedStateStore  # set (checked) by __init__
    _guard: StoreGuard  # likewise

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        store, guard = self._store, self._guard
        if store is None or guard is None:
            raise ValueError(
                f"shared circuit breaker {self.name!r}: store= must be a shared store "
                "(RedisStore); without one, use CircuitBreaker(...)"
            )
        self._sgen = -1  # the shared generation this view reflects (-1: not known yet)
        self._pend_ok = 0  # successes counted lock-free on the fast path (monotonic)
        self._sent_ok = 0
        self._pend = [0, 0, 0]  # other outcomes (calls, failures, slow), under the lock
        self._totals = (0, 0, 0)  # the shared window at the last sync
        self._local = False  # degraded with on_store_failure=local: the base class judges
        o = self.options
        escaped = store.notice_name(self.name)
        self.notice_key = ("cb", escaped)
        base = store.key("cb", self.name)
        self._keys = [base, base + ":w"]
        cap = o.max_wait if o.max_wait is not None else 10 * o.wait
        self._judge = [
            o.window,
            o.window_size,
            o.minimum_calls,
            o.failure_rate,
            o.slow_call_rate,
            o.wait * 1e6,
            o.wait_multiplier,
            cap * 1e6,
            store.channel,
            escaped,
        ]
        # >= 0: the generation of a closed, healthy, simple breaker: a success is one lock-free
        # count (sent in the next batch); -1: successes take the recording path
        self._count_gen = -1
        self._fast_gen = -1  # the base class's "nothing to record" path: disabled, or allow
        self._read_shared()
        store.agent.register(self)

    def _read_shared(self) -> None:
        """Learn the shared state now (at construction: the breaker may be open elsewhere)."""
        try:
            reply = self._store.eval(_BREAKER_SYNC, self._keys, [self._sgen, 0, 0, 0, *self._judge])
        except StoreUnavailableError as exc:
            self._store_failed(exc)
            return
        self.synced([reply])

    # -- applying the shared state -------------------------------------------------------------

    def _apply(self, state: str, sgen: int, remaining: float, force: bool = False) -> None:
        new = _STATES.get(state)
        if new is None:
            return
        with self._lock:
            if self._local and not force:
                return
            if sgen < self._sgen or (sgen == self._sgen and not force):
                return  # stale, or already known
            if self._sgen >= 0:  # counted under the old generation: no longer applies
                self._pend = [0, 0, 0]
                self._sent_ok = self._pend_ok
            self._sgen = sgen
            if new == "open":
                self._open_until = self._clock() + remaining
            elif new != "half_open":
                self._open_until = 0.0
            self._transition(new, "shared state")
            self._set_fast()

    def _transition(self, new: CircuitState, reason: str) -> None:
        self._count_gen = -1  # until _set_fast() judges the new state
        super()._transition(new, reason)

    def _set_fast(self) -> None:
        guard = self._guard
        counting = self._state == "closed" and self._simple and not guard.degraded
        self._count_gen = self._gen if counting else -1
        if guard.degraded and guard.mode == "allow":
            self._fast_gen = self._gen  # nothing is recorded while the store is away
        elif self._state != "disabled":
            self._fast_gen = -1

    def _from_reply(self, reply: Any, force: bool = False) -> int:
        admitted, state, sgen, remaining = reply[0], reply[1], reply[2], reply[3]
        state = state.decode() if isinstance(state, bytes) else state
        self._apply(state, int(sgen), float(remaining) / 1e6, force)
        return int(admitted)

    # -- the agent's side (a background thread) ------------------------------------------------

    def sync_ops(self) -> list[Any]:
        guard = self._guard
        if guard.degraded and not guard.usable():
            return []
        with self._lock:
            calls, failures, slows = self._pend
            self._pend = [0, 0, 0]
            ok = self._pend_ok
            calls += ok - self._sent_ok
            self._sent_ok = ok
            sgen = self._sgen
        args = [sgen, calls, failures, slows, *self._judge]
        return [(_BREAKER_SYNC, self._keys, args)]

    def synced(self, replies: list[Any]) -> None:
        reply = replies[0]
        guard = self._guard
        recovering = guard.degraded
        if recovering:
            guard.succeeded()
            with self._lock:
                self._local = False
        self._totals = (int(reply[4]), int(reply[5]), int(reply[6]))
        self._from_reply(reply, force=recovering)
        if recovering:
            with self._lock:
                self._set_fast()

    def sync_failed(self, error: BaseException) -> None:
        self._store_failed(error)

    def notice(self, fields: list[str]) -> None:
        if len(fields) >= 3:
            self._apply(fields[0], int(fields[1]), float(fields[2]) / 1e6)

    def _store_failed(self, error: BaseException) -> None:
        guard = self._guard
        # make the failure mode ready before it becomes visible: a call that sees the store
        # degraded must go through _admit (deny rejects it), never around the fast path, and
        # with on_store_failure=local its outcome must land in the local window (set up and
        # emptied here, not after: outcomes recorded in between would be lost)
        with self._lock:
            self._fast_gen = self._count_gen = -1
            if guard.mode == "local" and not self._local:
                self._local = True  # judge with this process's own calls, from its state
                self._window.reset()
        guard.failed(error)
        if guard.mode != "local":
            with self._lock:
                self._set_fast()

    # -- the call path -------------------------------------------------------------------------

    def _admit(self) -> int:
        gen = self._count_gen
        if gen >= 0:
            return gen  # closed and healthy: the common case, no lock
        if self._local:
            return super()._admit()
        guard = self._guard
        if guard.degraded:
            if guard.mode == "allow":
                return self._gen
            if guard.mode == "deny":
                raise self._rejected(guard.store.retry_interval)
        state = self._state
        if state in ("closed", "forced_closed", "disabled"):
            return self._gen
        if state == "forced_open":
            raise self._rejected(None)
        if state == "open":
            left = self._open_until - self._clock()
            if left > 0:
                raise self._rejected(left)
        # the wait is over (or half-open): Redis hands out the probe permits
        try:
            reply = self._store.eval(
                _BREAKER_PROBE,
                self._keys,
                [self.options.half_open_calls, self._judge[8], self._judge[9]],
            )
        except StoreUnavailableError as exc:
            self._store_failed(exc)
            return self._admit()
        if guard.degraded:
            self.synced([[*reply[:4], *self._totals]])
        admitted = self._from_reply(reply)
        if admitted:
            return self._gen
        left = max(0.0, self._open_until - self._clock()) if self._state == "open" else 0.0
        raise self._rejected(left)

    # -- drivers: the shared fast path counts each success for the shared window --------------
    #
    # Written by hand in acall() and _awrap(); scripts/gen_faces.py writes call(), _wrap() and
    # the pipeline stages from them, as for the base class. Anything but a closed, healthy,
    # simple breaker goes to the base class's drivers (and the core below).

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn`` if the shared breaker allows it; see :meth:`CircuitBreaker.acall`."""
        gen = self._count_gen
        if gen >= 0:
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                self._failed(gen, exc, 0.0)
                raise
            self._pend_ok += 1  # lock-free: a rare lost increment only under thread contention
            return result
        return await super().acall(fn, *args, **kwargs)

    def _awrap(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """The decorator's wrapper: the counting fast path inlined, anything else the
        driver's."""
        failed, acall = self._failed, self.acall

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            gen = self._count_gen
            if gen >= 0:
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    failed(gen, exc, 0.0)
                    raise
                self._pend_ok += 1
                return result
            return await acall(fn, *args, **kwargs)

        return wrapper

    # --- generated by scripts/gen_faces.py from acall and _awrap: do not edit ---

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` if the shared breaker allows it; see :meth:`CircuitBreaker.call`."""
        gen = self._count_gen
        if gen >= 0:
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                self._failed(gen, exc, 0.0)
                raise
            self._pend_ok += 1  # lock-free: a rare lost increment only under thread contention
            return result
        return super().call(fn, *args, **kwargs)

    def _wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The decorator's wrapper: the counting fast path inlined, anything else the
        driver's."""
        failed, call = self._failed, self.call

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            gen = self._count_gen
            if gen >= 0:
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    failed(gen, exc, 0.0)
                    raise
                self._pend_ok += 1
                return result
            return call(fn, *args, **kwargs)

        return wrapper

    def _alink(self, inner: AsyncLink) -> AsyncLink:
        """A pipeline stage: :meth:`_awrap` for a stage's one argument (generated)."""
        failed, acall = self._failed, self.acall

        async def link(thunk: Callable[[], Awaitable[Any]]) -> Any:
            gen = self._count_gen
            if gen >= 0:
                try:
                    result = await inner(thunk)
                except BaseException as exc:
                    failed(gen, exc, 0.0)
                    raise
                self._pend_ok += 1
                return result
            return await acall(inner, thunk)

        return link

    def _link(self, inner: Link) -> Link:
        """A pipeline stage: :meth:`_wrap` for a stage's one argument (generated)."""
        failed, call = self._failed, self.call

        def link(thunk: Callable[[], Any]) -> Any:
            gen = self._count_gen
            if gen >= 0:
                try:
                    result = inner(thunk)
                except BaseException as exc:
                    failed(gen, exc, 0.0)
                    raise
                self._pend_ok += 1
                return result
            return call(inner, thunk)

        return link

    # --- end of generated faces ---

    def _returned(self, gen: int, result: object, started: float) -> None:
        # a call admitted on the counting path just before another thread left it
        if gen == self._count_gen:  # only a simple breaker counts: no result check, no timing
            self._pend_ok += 1  # lock-free: a rare lost increment only under thread contention
            return
        super()._returned(gen, result, started)

    def _record(self, gen: int, outcome: int | None, started: float) -> None:
        if self._local:
            super()._record(gen, outcome, started)
            return
        with self._lock:
            if gen != self._gen:
                return
            state = self._state
            guard = self._guard
            if state == "disabled" or guard.degraded:
                return
            if (
                outcome is not None
                and self._slow is not None
                and self._clock() - started > (self._slow)
            ):
                outcome |= _SLOW
            if state == "half_open":
                sgen = self._sgen
            else:
                if outcome is None or state not in ("closed", "forced_closed"):
                    return
                pend = self._pend
                pend[0] += 1
                pend[1] += outcome & 1
                pend[2] += outcome >> 1
                if outcome & 1 and state == "closed":
                    self._fast_gen = self._count_gen = -1
                    failed = True
                else:
                    failed = False
        if state != "half_open":
            if failed:
                self._store.agent.wake()  # failures travel at once, not at the next interval
            return
        try:
            reply = self._store.eval(
                _BREAKER_PROBE_RESULT,
                self._keys,
                [
                    sgen,
                    -1 if outcome is None else outcome,
                    self.options.half_open_calls,
                    *self._judge[3:],
                ],
            )
        except StoreUnavailableError as exc:
            self._store_failed(exc)
            return
        self._from_reply(reply)

    # -- state and controls --------------------------------------------------------------------

    @property
    def state(self) -> CircuitState:
        """This process's view of the shared state (an open breaker whose wait is over
        reports ``half_open``: the next call asks Redis for a probe permit)."""
        if self._local:
            return super().state
        state = self._state
        if state == "open" and self._clock() >= self._open_until:
            return "half_open"
        return state

    def metrics(self) -> dict[str, float]:
        """The shared window as of the last sync (every process's calls)."""
        if self._local:
            return super().metrics()
        calls, failures, slows = self._totals
        return {
            "calls": calls,
            "failures": failures,
            "slow_calls": slows,
            "failure_rate": 100.0 * failures / calls if calls else 0.0,
            "slow_call_rate": 100.0 * slows / calls if calls else 0.0,
        }

    def sync(self) -> None:
        """Send pending outcomes and read the shared state now (normally the agent does it
        every ``sync_interval``)."""
        self._store.agent.run_round()

    def _set_shared(self, state: CircuitState, reset: bool) -> None:
        try:
            reply = self._store.eval(
                _BREAKER_SET, self._keys, [state, 1 if reset else 0, *self._judge[8:]]
            )
        except StoreUnavailableError as exc:
            self._store_failed(exc)
            # this process obeys at once; the others cannot be told while the store is down
            with self._lock:
                if reset:
                    self._opens = 0
                self._transition(state, "manual (store unavailable: this process only)")
            return
        self._from_reply(reply)

    def force_open(self) -> None:
        """Reject every call in every process until :meth:`reset`."""
        self._set_shared("forced_open", False)

    def force_closed(self) -> None:
        """Run every call in every process, never open, until :meth:`reset`."""
        self._set_shared("forced_closed", False)

    def disable(self) -> None:
        """Run every call and record nothing, in every process, until :meth:`reset`."""
        self._set_shared("disabled", False)

    def reset(self) -> None:
        """Closed with an empty shared window, in every process."""
        self._set_shared("closed", True)

    def close(self) -> None:
        """Stop taking part in the store's sync rounds."""
        self._store.agent.unregister(self)
