"""RateLimiter: one algorithm (or one per tier), state per key, allow- and deny-lists."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

from buttress import _clock
from buttress._clock import AsyncSleep, Clock, Sleep
from buttress.resilience import events
from buttress.resilience._mutex import Mutex
from buttress.resilience._policy import AsyncLink, Link, Policy, plain
from buttress.resilience.errors import RateLimitedError
from buttress.resilience.rate_limit._algorithm import Algorithm
from buttress.resilience.rate_limit.fixed_window import FixedWindow
from buttress.resilience.rate_limit.gcra import GCRA
from buttress.resilience.rate_limit.leaky_bucket import LeakyBucket
from buttress.resilience.rate_limit.sliding_window import SlidingWindowCounter, SlidingWindowLog
from buttress.resilience.rate_limit.token_bucket import TokenBucket
from buttress.state._base import OnStoreFailure, StateStore, StoreUnavailableError

if TYPE_CHECKING:
    from buttress.resilience._store_guard import StoreGuard

__all__ = ["Decision", "RateLimiter"]

T = TypeVar("T")

DEFAULT_MAX_KEYS = 100_000
_SWEEP_EVERY = 4096
_INF = float("inf")
_OWED = (GCRA, TokenBucket)  # kept as permits owed: try_acquire inlines their grant


class Decision(NamedTuple):
    """The answer to one request for permits (a value: do not modify it).

    ``retry_after`` is 0 when allowed, else the seconds until the permits would be available
    (``inf`` for a denied key). ``reset_after`` is the seconds until the key's limit is whole
    again. ``reason`` is ``ok``, ``limited``, ``denied`` (deny-list), ``allowed`` (allow-list),
    or, while a shared store does not answer, ``store_allow`` / ``store_deny`` (the limiter's
    ``on_store_failure`` mode; ``local`` answers ``ok``/``limited`` from in-process state).

    A named tuple rather than a slotted class or a frozen dataclass: it is built on every
    ``try_acquire``, and the hot paths build it with ``tuple.__new__`` (no Python-level
    ``__init__``: a third of the slotted class's cost, a tenth of a frozen dataclass's).
    """

    allowed: bool
    key: str
    limit: float
    remaining: float
    reset_after: float
    retry_after: float
    reason: Literal["ok", "limited", "denied", "allowed", "store_allow", "store_deny"]

    def __repr__(self) -> str:
        return (
            f"Decision(allowed={self.allowed}, key={self.key!r}, limit={self.limit:g}, "
            f"remaining={self.remaining:g}, reset_after={self.reset_after:.3f}, "
            f"retry_after={self.retry_after:.3f}, reason={self.reason!r})"
        )


_new = tuple.__new__  # Decision without its Python-level __new__: _new(Decision, (fields))


class RateLimiter(Policy):
    """Limits how often calls run, per key (user id, client address, API key).

    Build one with a named constructor::

        RateLimiter.token_bucket(rate=100, per=1.0, burst=100)
        RateLimiter.gcra(rate=10, per=1.0, burst=5)
        RateLimiter.fixed_window(limit=1000, window=60)
        RateLimiter.sliding_window(limit=1000, window=60)            # exact log
        RateLimiter.sliding_window(limit=1000, window=60, exact=False)  # two counters
        RateLimiter.leaky_bucket(rate=50, per=1.0, capacity=100)     # waits instead of rejecting

    ``call``/``acall`` and the decorator use the key ``""`` (one global limit); use
    :meth:`try_acquire` / :meth:`acquire` for per-key limits.

    Args:
        tiers: per-tier algorithms, e.g. ``{"free": GCRA(10, 60), "premium": GCRA(1000, 60)}``.
        tier_of: maps a key to its tier name (``None`` or unknown: the default algorithm).
        allow: keys never limited. deny: keys always refused.
        max_keys: at most this many keys are tracked; idle keys are dropped first, then the
            oldest (a dropped key starts again with a whole limit).
        clock, sleep, asleep: injectable time, for tests (a shared store decides on the Redis
            server's clock, not this one).
        store: where the per-key state lives: ``None`` (in this process) or a shared
            :class:`~buttress.state.RedisStore`, so every process naming this limiter shares
            its limits (needs ``name=``).
        on_store_failure: while the shared store does not answer: ``local`` (limit with
            in-process state), ``allow`` (let everything through) or ``deny`` (refuse).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        algorithm: Algorithm,
        *,
        name: str | None = None,
        tiers: Mapping[str, Algorithm] | None = None,
        tier_of: Callable[[str], str | None] | None = None,
        allow: Iterable[str] = (),
        deny: Iterable[str] = (),
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        asleep: AsyncSleep | None = None,
        listeners: tuple[events.Listener, ...] = (),
        store: StateStore | None = None,
        on_store_failure: OnStoreFailure = "local",
    ) -> None:
        self._init_policy(name, "rate_limiter", listeners)
        self._init_store(store, on_store_failure)
        for algo in (algorithm, *(tiers or {}).values()):
            if not (hasattr(algo, "take") and hasattr(algo, "decide")):
                raise TypeError(
                    f"rate limiter: expected a rate-limit algorithm (take, remaining, "
                    f"reset_after and decide: subclass rate_limit.DecidesByParts for decide), "
                    f"got {algo!r}"
                )
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError(f"rate limiter max_keys={max_keys!r}: expected an integer >= 1")
        self.algorithm = algorithm
        self._tiers = dict(tiers or {})
        if self._tiers and tier_of is None:
            raise ValueError("rate limiter: tiers need tier_of=, a function from key to tier name")
        self._tier_of = tier_of
        self._allow = frozenset(allow)
        self._deny = frozenset(deny)
        overlap = self._allow & self._deny
        if overlap:
            raise ValueError(f"rate limiter: keys both allowed and denied: {sorted(overlap)}")
        self._max_keys = max_keys
        self._clock = clock or _clock.monotonic
        reading = self._clock()
        if isinstance(reading, bool) or not isinstance(reading, int | float):
            raise TypeError(f"rate limiter clock: expected seconds as a float, got {reading!r}")
        self._sleep = sleep
        self._asleep = asleep
        self._states: dict[str, tuple[Algorithm, Any]] = {}
        self._lock = Mutex()
        self._ops = 0
        self._simple = not (self._tiers or self._allow or self._deny)
        self._local_only = self._store is None
        # the global key's permits are taken (or refused) at once from in-process state: no
        # store to ask, no shaping wait (set_rate keeps the algorithm's kind, so this holds)
        self._immediate = self._local_only and not algorithm.shaping
        # the global key "" has its state at hand: call()/acall() skip the dict lookup
        self._default = algorithm.new(reading)
        self._states[""] = (algorithm, self._default)

    def tracked_keys(self, limit: int = 100) -> list[tuple[str, float]]:
        """The keys this process holds state for (not the global key ``""``), with the permits
        each has left now, fewest first; at most ``limit``. With a shared store the shared
        counts live there: these are the in-process states kept for ``on_store_failure:
        local``."""
        with self._lock:
            now = self._clock()
            left = [(k, a.remaining(s, now)) for k, (a, s) in self._states.items() if k]
        left.sort(key=lambda kv: (kv[1], kv[0]))
        return left[:limit]

    @property
    def tracked(self) -> int:
        """How many keys this process holds state for (the global key ``""`` not counted)."""
        return len(self._states) - 1

    # -- named constructors -------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {
            "algorithm": plain(self.algorithm),
            "tiers": {name: plain(alg) for name, alg in self._tiers.items()},
            "allow": len(self._allow),
            "deny": len(self._deny),
            "max_keys": self._max_keys,
        }

    @classmethod
    def token_bucket(
        cls, *, rate: float, per: float = 1.0, burst: float | None = None, **kw: Any
    ) -> RateLimiter:
        """``rate`` permits per ``per`` seconds, bursts of up to ``burst`` (default ``rate``)."""
        return cls(TokenBucket(rate, per, burst), **kw)

    @classmethod
    def gcra(
        cls, *, rate: float, per: float = 1.0, burst: float | None = None, **kw: Any
    ) -> RateLimiter:
        """GCRA: exact token-bucket behaviour in one timestamp per key."""
        return cls(GCRA(rate, per, burst), **kw)

    @classmethod
    def fixed_window(cls, *, limit: float, window: float = 1.0, **kw: Any) -> RateLimiter:
        """At most ``limit`` permits per fixed window of ``window`` seconds."""
        return cls(FixedWindow(limit, window), **kw)

    @classmethod
    def sliding_window(
        cls, *, limit: float, window: float = 1.0, exact: bool = True, **kw: Any
    ) -> RateLimiter:
        """At most ``limit`` permits in any ``window`` seconds (exact log, or two counters)."""
        algo: Algorithm = (
            SlidingWindowLog(limit, window) if exact else SlidingWindowCounter(limit, window)
        )
        return cls(algo, **kw)

    @classmethod
    def leaky_bucket(
        cls, *, rate: float, per: float = 1.0, capacity: float | None = None, **kw: Any
    ) -> RateLimiter:
        """A shaper: calls wait for their turn at ``rate`` per ``per``; up to ``capacity`` wait."""
        return cls(LeakyBucket(rate, per, capacity), **kw)

    # -- the core (under the lock; no I/O) -------------------------------------------------------

    def set_rate(self, *, rate: float, per: float = 1.0, burst: float | None = None) -> None:
        """Change the default limit to ``rate`` permits per ``per`` seconds (``burst``: the
        bucket or queue size where the algorithm has one), keeping the algorithm and every key's
        current state; tiers keep theirs. A degradation level's limit feeds this
        (``DegradationController.follow_limit``)."""
        kind = type(self.algorithm)
        if kind in (TokenBucket, GCRA, LeakyBucket):
            new: Algorithm = kind(rate, per, burst)
        else:
            new = kind(rate, per)  # type: ignore[call-arg]  # windows: `rate` per `per` seconds
        carry = getattr(new, "carry", None)  # algorithms that can keep "what was used"
        with self._lock:
            old = self.algorithm
            now = self._clock()
            for key, (algo, state) in list(self._states.items()):
                if algo is old:
                    if carry is not None:
                        carry(state, old, now)
                    self._states[key] = (new, state)
            self.algorithm = new

    def _algo_of(self, key: str) -> Algorithm:
        """The key's tier's algorithm (the default one without a tier)."""
        if self._tier_of is not None:
            tier = self._tier_of(key)
            if tier is not None:
                return self._tiers.get(tier, self.algorithm)
        return self.algorithm

    def _state(self, key: str, now: float) -> tuple[Algorithm, Any]:
        entry = self._states.get(key)
        if entry is None:
            algo = self._algo_of(key)
            entry = (algo, algo.new(now))
            self._states[key] = entry
            self._ops += 1
            if self._ops >= _SWEEP_EVERY or len(self._states) > self._max_keys:
                self._sweep(now, keep=key)
        return entry

    def _sweep(self, now: float, keep: str) -> None:
        """Drop keys whose state is whole again; then, if still too many, the oldest."""
        self._ops = 0
        idle = [
            k
            for k, (a, s) in self._states.items()
            if k not in (keep, "") and a.reset_after(s, now) <= 0
        ]
        for k in idle:
            del self._states[k]
        excess = len(self._states) - self._max_keys
        if excess > 0:
            for k in [k for k in self._states if k not in (keep, "")][:excess]:
                del self._states[k]

    def _decide(self, key: str, cost: float, reserve: bool) -> tuple[float, Decision | None]:
        """(wait, refusal): wait 0 = go now; > 0 with no refusal = reserved, wait this long
        first (shaping); a refusal carries its retry-after."""
        if not cost > 0:
            raise ValueError(f"rate limiter cost={cost!r}: expected > 0")
        if not self._simple:
            if key in self._deny:
                return _INF, Decision(False, key, 0.0, 0.0, _INF, _INF, "denied")
            if key in self._allow:
                return 0.0, None
        with self._lock:
            now = self._clock()
            algo, state = self._state(key, now)
            if reserve and algo.shaping:
                wait = algo.reserve(state, now, cost)  # type: ignore[attr-defined]  # shaping algorithms have reserve
                if wait is not None:
                    return wait, None
            retry = algo.take(state, now, cost)
            if retry == 0.0:
                return 0.0, None
            if retry == _INF:
                raise self._too_costly(algo, cost)
            return retry, Decision(
                False,
                key,
                algo.limit,
                algo.remaining(state, now),
                algo.reset_after(state, now),
                retry,
                "limited",
            )

    def _too_costly(self, algo: Algorithm, cost: float) -> ValueError:
        return ValueError(
            f"rate limiter {self.name!r}: cost {cost:g} exceeds what the limit can ever grant "
            f"({algo.limit:g})"
        )

    def _limited(self, retry: float) -> RateLimitedError:
        if retry == _INF:  # e.g. burst < 1: no call can ever pass; say so, as try_acquire does
            raise self._too_costly(self.algorithm, 1)
        if self._listeners or events.global_listeners:
            self._emit(events.CallRejected(self.name, "rate_limited", retry))
        return RateLimitedError(self.name, retry, "", self.algorithm.limit, 0.0)

    def _rejected(self, decision: Decision) -> RateLimitedError:
        if self._listeners or events.global_listeners:
            self._emit(events.CallRejected(self.name, "rate_limited", decision.retry_after))
        return RateLimitedError(
            self.name, decision.retry_after, decision.key, decision.limit, decision.remaining
        )

    # -- shared state (a store such as Redis decides; failure modes when it cannot) ------------

    def _shared_guard(self) -> StoreGuard:
        """The guard of a limiter with shared state (only those ask the store)."""
        guard = self._guard
        if guard is None:
            raise TypeError(f"rate limiter {self.name!r} keeps its state in this process")
        return guard

    def _from_store(
        self, key: str, cost: float, algo: Algorithm, reply: tuple[int, float, float, float]
    ) -> tuple[float, Decision]:
        guard = self._shared_guard()
        if guard.degraded:
            guard.succeeded()
        code, retry, remaining, reset = reply
        if code == -1:
            raise self._too_costly(algo, cost)
        if code == 0:
            return retry, Decision(False, key, algo.limit, remaining, reset, retry, "limited")
        return (retry if code == 2 else 0.0), Decision(
            True, key, algo.limit, remaining, reset, 0.0, "ok"
        )

    def _without_store(self, key: str, cost: float, reserve: bool) -> tuple[float, Decision]:
        """The decision while the store does not answer, by ``on_store_failure``."""
        guard = self._shared_guard()
        algo = self._algo_of(key)
        if guard.mode == "allow":
            return 0.0, Decision(True, key, algo.limit, algo.limit, 0.0, 0.0, "store_allow")
        if guard.mode == "deny":
            wait = guard.store.retry_interval
            return wait, Decision(False, key, algo.limit, 0.0, wait, wait, "store_deny")
        wait, refusal = self._decide(key, cost, reserve)
        if refusal is not None:
            return wait, refusal
        return wait, self._granted(key)

    def _shared(self, key: str, cost: float, reserve: bool) -> tuple[float, Decision]:
        """(wait, decision) from the shared store, or from the failure mode (``cost`` checked
        by the caller)."""
        guard = self._shared_guard()
        if guard.usable():
            algo = self._algo_of(key)
            try:
                reply = guard.store.limit(self.name, key, algo.lua, algo.lua_args(), cost, reserve)
            except StoreUnavailableError as exc:
                guard.failed(exc)
            else:
                return self._from_store(key, cost, algo, reply)
        return self._without_store(key, cost, reserve)

    async def _ashared(self, key: str, cost: float, reserve: bool) -> tuple[float, Decision]:
        """:meth:`_shared` on the asyncio client."""
        guard = self._shared_guard()
        if guard.usable():
            algo = self._algo_of(key)
            try:
                reply = await guard.store.alimit(
                    self.name, key, algo.lua, algo.lua_args(), cost, reserve
                )
            except StoreUnavailableError as exc:
                guard.failed(exc)
            else:
                return self._from_store(key, cost, algo, reply)
        return self._without_store(key, cost, reserve)

    def _listed(self, key: str) -> Decision | None:
        if key in self._deny:
            return Decision(False, key, 0.0, 0.0, _INF, _INF, "denied")
        if key in self._allow:
            return Decision(True, key, _INF, _INF, 0.0, 0.0, "allowed")
        return None

    def _acquire_listed(self, key: str, cost: float) -> Decision | None:
        """Before waiting for shared permits: check ``cost``; an allow-listed key's decision,
        a deny-listed key's refusal (raised), or ``None``."""
        if not cost > 0:
            raise ValueError(f"rate limiter cost={cost!r}: expected > 0")
        listed = None if self._simple else self._listed(key)
        if listed is not None and not listed.allowed:
            raise self._rejected(listed)
        return listed

    def _shared_acquire(
        self, key: str, cost: float, timeout: float | None, sleep: Sleep
    ) -> Decision:
        listed = self._acquire_listed(key, cost)
        if listed is not None:
            return listed
        waited = 0.0
        while True:
            wait, decision = self._shared(key, cost, reserve=True)
            if decision.allowed:
                if wait > 0:
                    sleep(wait)
                return decision
            if decision.reason == "store_deny" or (timeout is not None and waited + wait > timeout):
                raise self._rejected(decision)
            sleep(wait)
            waited += wait

    async def _ashared_acquire(
        self, key: str, cost: float, timeout: float | None, asleep: AsyncSleep
    ) -> Decision:
        listed = self._acquire_listed(key, cost)
        if listed is not None:
            return listed
        waited = 0.0
        while True:
            wait, decision = await self._ashared(key, cost, reserve=True)
            if decision.allowed:
                if wait > 0:
                    await asleep(wait)
                return decision
            if decision.reason == "store_deny" or (timeout is not None and waited + wait > timeout):
                raise self._rejected(decision)
            await asleep(wait)
            waited += wait

    # -- public API ----------------------------------------------------------------------------

    def try_acquire(self, key: str = "", cost: float = 1) -> Decision:
        """Take ``cost`` permits for ``key`` now if available; never waits.

        Raises:
            ValueError: ``cost`` is not positive or exceeds what the limit can ever grant.
        """
        if not cost > 0:
            raise ValueError(f"rate limiter cost={cost!r}: expected > 0")
        if not self._simple:
            listed = self._listed(key)
            if listed is not None:
                return listed
        if not self._local_only:
            return self._reported(self._shared(key, cost, reserve=False)[1])
        held = self._lock.held  # the mutex inlined (see _mutex.py)
        try:
            held.pop()
        except IndexError:
            self._lock.wait()
        try:
            now = self._clock()
            entry = self._states.get(key)  # the known key's path, inlined from _state()
            if entry is None:
                entry = self._state(key, now)
            algo, state = entry
            if type(algo) in _OWED:  # GCRA.decide's grant inlined (a change there is one here)
                g: GCRA = algo  # type: ignore[assignment]  # the type test above narrows it
                owed = state[0] - (now - state[1]) * g.rate
                if owed < 0.0:
                    owed = 0.0
                after = owed + cost
                if after <= g.burst:
                    state[0] = after
                    state[1] = now
                    left = g.burst - after
                    if not left.is_integer():
                        left = round(left, 9) if left > 0.0 else 0.0
                    reset = after * g.interval
                    return _new(Decision, (True, key, g.limit, left, reset, 0.0, "ok"))
            retry, remaining, reset_after = algo.decide(state, now, cost)
        finally:
            held.append(None)
        if retry == 0.0:
            return _new(Decision, (True, key, algo.limit, remaining, reset_after, 0.0, "ok"))
        if retry == _INF:
            raise self._too_costly(algo, cost)
        if self._listeners or events.global_listeners:
            self._emit(events.CallRejected(self.name, "rate_limited", retry))
        return _new(Decision, (False, key, algo.limit, remaining, reset_after, retry, "limited"))

    async def atry_acquire(self, key: str = "", cost: float = 1) -> Decision:
        """:meth:`try_acquire` for asyncio: with a shared store, asks it without blocking the
        event loop (in-process state answers at once either way)."""
        if self._local_only:
            return self.try_acquire(key, cost)
        if not cost > 0:
            raise ValueError(f"rate limiter cost={cost!r}: expected > 0")
        listed = None if self._simple else self._listed(key)
        if listed is not None:
            return listed
        return self._reported((await self._ashared(key, cost, reserve=False))[1])

    def _reported(self, decision: Decision) -> Decision:
        """A shared decision, with the rejection event when it refuses."""
        if not decision.allowed and (self._listeners or events.global_listeners):
            self._emit(events.CallRejected(self.name, "rate_limited", decision.retry_after))
        return decision

    def _granted(self, key: str) -> Decision:
        if key in self._allow:
            return Decision(True, key, _INF, _INF, 0.0, 0.0, "allowed")
        with self._lock:
            now = self._clock()
            algo, state = self._state(key, now)
            return Decision(
                True,
                key,
                algo.limit,
                algo.remaining(state, now),
                algo.reset_after(state, now),
                0.0,
                "ok",
            )

    def acquire(self, key: str = "", cost: float = 1, timeout: float | None = None) -> Decision:
        """Take ``cost`` permits for ``key``, waiting up to ``timeout`` seconds (``None``: as long
        as it takes) for them.

        Raises:
            RateLimitedError: they will not be available within ``timeout`` (or the key is denied).
        """
        sleep = self._sleep or _clock.sleep
        if not self._local_only:
            return self._shared_acquire(key, cost, timeout, sleep)
        waited = 0.0
        while True:
            wait, decision = self._decide(key, cost, reserve=True)
            if decision is None:
                if wait > 0:
                    sleep(wait)
                return self._granted(key)
            if decision.reason == "denied" or (timeout is not None and waited + wait > timeout):
                raise self._rejected(decision)
            sleep(wait)
            waited += wait

    async def aacquire(
        self, key: str = "", cost: float = 1, timeout: float | None = None
    ) -> Decision:
        """:meth:`acquire` for asyncio: waits without blocking the event loop."""
        asleep = self._asleep or _clock.asleep
        if not self._local_only:
            return await self._ashared_acquire(key, cost, timeout, asleep)
        waited = 0.0
        while True:
            wait, decision = self._decide(key, cost, reserve=True)
            if decision is None:
                if wait > 0:
                    await asleep(wait)
                return self._granted(key)
            if decision.reason == "denied" or (timeout is not None and waited + wait > timeout):
                raise self._rejected(decision)
            await asleep(wait)
            waited += wait

    def __len__(self) -> int:
        """How many keys are tracked now."""
        return len(self._states)

    def _take_default(self) -> float:
        """Take one permit of the global key ``""`` from in-process state: 0.0, or the seconds
        until one would be available. The fast path of every face (call, acall, the wrappers,
        the pipeline stages); the mutex is inlined (see _mutex.py)."""
        held = self._lock.held
        try:
            held.pop()
        except IndexError:
            self._lock.wait()
        try:
            return self.algorithm.take(self._default, self._clock(), 1)
        finally:
            held.append(None)

    # -- drivers ---------------------------------------------------------------------------------
    #
    # The in-process take (_take_default, above) is the fast path of every face. It is written
    # by hand in the async driver acall() and the async decorator wrapper _awrap();
    # scripts/gen_faces.py writes call(), _wrap() and the pipeline stages _link()/_alink()
    # from them (a test fails when they are stale). Only the async decorator of an in-process
    # token bucket or GCRA has a faster face of its own, _gcra_async().

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn`` if a permit (key ``""``) is available now; a leaky bucket waits its turn.

        Raises:
            RateLimitedError: no permit (``retry_after`` says when one will be).
        """
        if self._immediate:
            retry = self._take_default()
            if retry:
                raise self._limited(retry)
            return await fn(*args, **kwargs)
        await self._aenter()
        return await fn(*args, **kwargs)

    def _awrap(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """The decorator's wrapper (key ``""``): the in-process take inlined, anything else
        the driver's."""
        if self._immediate and isinstance(self.algorithm, GCRA):  # async decorator only
            return self._gcra_async(fn)
        acall, take = self.acall, self._take_default

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not self._immediate:
                return await acall(fn, *args, **kwargs)
            retry = take()
            if retry:
                raise self._limited(retry)
            return await fn(*args, **kwargs)

        return wrapper

    # --- generated by scripts/gen_faces.py from acall and _awrap: do not edit ---

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` if a permit (key ``""``) is available now; a leaky bucket waits its turn.

        Raises:
            RateLimitedError: no permit (``retry_after`` says when one will be).
        """
        if self._immediate:
            retry = self._take_default()
            if retry:
                raise self._limited(retry)
            return fn(*args, **kwargs)
        self._enter()
        return fn(*args, **kwargs)

    def _wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The decorator's wrapper (key ``""``): the in-process take inlined, anything else
        the driver's."""
        call, take = self.call, self._take_default

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not self._immediate:
                return call(fn, *args, **kwargs)
            retry = take()
            if retry:
                raise self._limited(retry)
            return fn(*args, **kwargs)

        return wrapper

    def _alink(self, inner: AsyncLink) -> AsyncLink:
        """A pipeline stage: :meth:`_awrap` for a stage's one argument (generated)."""
        acall, take = self.acall, self._take_default

        async def link(thunk: Callable[[], Awaitable[Any]]) -> Any:
            if not self._immediate:
                return await acall(inner, thunk)
            retry = take()
            if retry:
                raise self._limited(retry)
            return await inner(thunk)

        return link

    def _link(self, inner: Link) -> Link:
        """A pipeline stage: :meth:`_wrap` for a stage's one argument (generated)."""
        call, take = self.call, self._take_default

        def link(thunk: Callable[[], Any]) -> Any:
            if not self._immediate:
                return call(inner, thunk)
            retry = take()
            if retry:
                raise self._limited(retry)
            return inner(thunk)

        return link

    # --- end of generated faces ---

    def _gcra_async(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """The async decorator of an in-process token bucket or GCRA: :meth:`GCRA.take`, the
        mutex and the clock inlined in one frame (set_rate keeps the algorithm's class, so this
        stays right), as cheap as hyx's token bucket, which reads no clock and takes no lock.

        The clock is read before the mutex is taken: a thread that waited decides with a time
        a little older than the last grant's, which only owes a little more (state is kept as
        owed permits at a time, so the arrival time stays exact). Between ``pop()`` and
        ``append()`` there is no call, so nothing can raise there (no signal is delivered
        between bytecodes that call nothing; the clock returns a number, checked when the
        limiter is made) and the mutex needs no ``try``/``finally``.
        """
        held, wait, clock, state = self._lock.held, self._lock.wait, self._clock, self._default

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            now = clock()
            try:
                held.pop()
            except IndexError:
                wait()
            algo: GCRA = self.algorithm  # type: ignore[assignment]  # checked when decorating
            owed = state[0] - (now - state[1]) * algo.rate
            if owed < 0.0:
                owed = 0.0
            owed += 1.0
            if owed <= algo.burst:
                state[0] = owed
                state[1] = now
                held.append(None)
                return await fn(*args, **kwargs)
            held.append(None)
            raise self._limited((owed - algo.burst) * algo.interval if algo.burst >= 1.0 else _INF)

        return wrapper

    def _enter(self) -> None:
        if not self._local_only:
            self._shared_acquire("", 1, 0.0, self._sleep or _clock.sleep)
            return
        wait, decision = self._decide("", 1, reserve=True)
        if decision is not None:
            raise self._rejected(decision)
        if wait > 0:
            (self._sleep or _clock.sleep)(wait)

    def _exit(self, token: object, exc: BaseException | None) -> None:
        return None

    async def _aenter(self) -> None:
        if not self._local_only:
            await self._ashared_acquire("", 1, 0.0, self._asleep or _clock.asleep)
            return
        wait, decision = self._decide("", 1, reserve=True)
        if decision is not None:
            raise self._rejected(decision)
        if wait > 0:
            await (self._asleep or _clock.asleep)(wait)

    async def _aexit(self, token: object, exc: BaseException | None) -> None:
        return None
