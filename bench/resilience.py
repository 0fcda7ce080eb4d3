"""Success-path and rejection-path cost of buttress's policies next to the Python peers.

    .venv/bin/pip install -e '.[bench]'     # the peers, into the same environment
    .venv/bin/python bench/resilience.py    # one table; --quick for a shorter run

Every row is measured in this run, on this machine, interleaved: each case is timed in
several rounds, alternating with the others, and the median of the rounds' best is shown in
nanoseconds per call. A peer that is not installed, or whose API refused the setup, shows
"n/a" with the reason. Ratios compare a buttress primitive to the fastest peer doing the same
work (> 1 means buttress is faster).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
import timeit
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

BIG = 10**9  # a limit no benchmark reaches: measures the allowed path


def f() -> int:
    return 1


async def af() -> int:
    return 1


@dataclass
class Case:
    group: str
    library: str
    sync: Callable[[], Any] | None = None
    make_async: Callable[[], Callable[[], Awaitable[Any]]] | None = None
    number: int = 200_000
    sync_ns: list[float] = field(default_factory=list)
    async_ns: list[float] = field(default_factory=list)
    error: str = ""


def build(
    group: str, library: str, setup: Callable[[], tuple[Any, Any]], number: int = 200_000
) -> Case:
    """setup() returns (sync callable or None, async-callable factory or None)."""
    case = Case(group, library, number=number)
    try:
        case.sync, case.make_async = setup()
    except Exception as exc:  # noqa: BLE001  # a peer's API refusing the setup is reported, not fatal
        case.error = f"{type(exc).__name__}: {exc}"[:60]
    return case


def time_sync(fn: Callable[[], Any], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e9


def time_async(make: Callable[[], Callable[[], Awaitable[Any]]], number: int) -> float:
    async def run() -> float:
        call = make()
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(number):
                await call()
            best = min(best, time.perf_counter() - start)
        return best / number * 1e9

    return asyncio.run(run())


def cases(quick: bool) -> list[Case]:  # one flat list reads best here
    n = 50_000 if quick else 200_000
    out: list[Case] = []
    add = out.append

    add(build("bare call", "(none)", lambda: (f, lambda: af), n))

    # -- circuit breaker, closed -------------------------------------------------------------
    def b_breaker() -> tuple[Any, Any]:
        from buttress.resilience import CircuitBreaker

        breaker = CircuitBreaker()
        guarded = breaker(f)
        for _ in range(200):
            guarded()
        abreaker = CircuitBreaker()
        aguarded = abreaker(af)
        return guarded, lambda: aguarded

    add(build("breaker closed", "buttress", b_breaker, n))

    def pybreaker_() -> tuple[Any, Any]:
        import pybreaker

        return pybreaker.CircuitBreaker()(f), None

    add(build("breaker closed", "pybreaker", pybreaker_, n))

    def circuitbreaker_() -> tuple[Any, Any]:
        from circuitbreaker import CircuitBreaker

        return CircuitBreaker()(f), lambda: CircuitBreaker()(af)

    add(build("breaker closed", "circuitbreaker", circuitbreaker_, n))

    def aiobreaker_() -> tuple[Any, Any]:
        import aiobreaker

        breaker = aiobreaker.CircuitBreaker()
        return None, lambda: lambda: breaker.call_async(af)

    add(build("breaker closed", "aiobreaker", aiobreaker_, n))

    def purgatory_() -> tuple[Any, Any]:
        from purgatory import AsyncCircuitBreakerFactory, SyncCircuitBreakerFactory

        sync = SyncCircuitBreakerFactory()("bench")(f)

        def make_async() -> Callable[[], Awaitable[Any]]:
            return AsyncCircuitBreakerFactory()("bench")(af)

        return sync, make_async

    add(build("breaker closed", "purgatory", purgatory_, n // 4))

    def interlock_() -> tuple[Any, Any]:
        import interlock

        breaker = interlock.CircuitBreaker(name="bench")
        abreaker = interlock.CircuitBreaker(name="abench")
        return (lambda: breaker.call_sync(f)), lambda: lambda: abreaker.call_async(af)

    add(build("breaker closed", "interlock-cb", interlock_, n))

    def hyx_breaker() -> tuple[Any, Any]:
        from hyx.circuitbreaker import consecutive_breaker

        return None, lambda: consecutive_breaker()(af)

    add(build("breaker closed", "hyx", hyx_breaker, n))

    # -- circuit breaker, open: the rejection path ----------------------------------------------
    def rejecting(call: Callable[[], Any], error: type[BaseException]) -> Callable[[], Any]:
        def attempt() -> None:
            try:  # noqa: SIM105  # contextlib.suppress would add its own cost to what is measured
                call()
            except error:
                pass

        return attempt

    def b_open() -> tuple[Any, Any]:
        from buttress.resilience import CircuitBreaker, CircuitOpenError

        breaker = CircuitBreaker(minimum_calls=1, window_size=1, wait=3600)
        with __import__("contextlib").suppress(ZeroDivisionError):
            breaker.call(lambda: 1 / 0)
        return rejecting(breaker(f), CircuitOpenError), None

    add(build("breaker open (rejection)", "buttress", b_open, n))

    def floor_open() -> tuple[Any, Any]:
        from buttress.resilience import CircuitOpenError

        def guarded() -> None:
            raise CircuitOpenError("floor", 1.0)

        return rejecting(guarded, CircuitOpenError), None

    # what any exception-raising rejection costs: a new error raised one frame down and caught
    add(build("breaker open (rejection)", "(floor: raise + catch)", floor_open, n))

    def cb_open() -> tuple[Any, Any]:
        from circuitbreaker import CircuitBreaker, CircuitBreakerError

        breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=3600)
        guarded = breaker(lambda: 1 / 0)
        with __import__("contextlib").suppress(ZeroDivisionError):
            guarded()
        return rejecting(guarded, CircuitBreakerError), None

    add(build("breaker open (rejection)", "circuitbreaker", cb_open, n))

    def pb_open() -> tuple[Any, Any]:
        import pybreaker

        breaker = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=3600)
        breaker.open()
        return rejecting(breaker(f), pybreaker.CircuitBreakerError), None

    add(build("breaker open (rejection)", "pybreaker", pb_open, n))

    def il_open() -> tuple[Any, Any]:
        import interlock

        breaker = interlock.CircuitBreaker(name="open")
        breaker.force_open()
        return rejecting(lambda: breaker.call_sync(f), interlock.CircuitOpenError), None

    add(build("breaker open (rejection)", "interlock-cb", il_open, n))

    # -- retry, success path ------------------------------------------------------------------
    def b_retry() -> tuple[Any, Any]:
        from buttress.resilience import Retry

        return Retry(attempts=3)(f), lambda: Retry(attempts=3)(af)

    add(build("retry (success)", "buttress", b_retry, n))

    def tenacity_() -> tuple[Any, Any]:
        import tenacity

        def deco(fn: Any) -> Any:
            return tenacity.retry(stop=tenacity.stop_after_attempt(3))(fn)

        return deco(f), lambda: deco(af)

    add(build("retry (success)", "tenacity", tenacity_, n // 10))

    def stamina_() -> tuple[Any, Any]:
        import stamina

        def deco(fn: Any) -> Any:
            return stamina.retry(on=Exception, attempts=3)(fn)

        return deco(f), lambda: deco(af)

    add(build("retry (success)", "stamina", stamina_, n // 10))

    def backoff_() -> tuple[Any, Any]:
        import backoff

        def deco(fn: Any) -> Any:
            return backoff.on_exception(backoff.expo, Exception, max_tries=3)(fn)

        return deco(f), lambda: deco(af)

    add(build("retry (success)", "backoff", backoff_, n // 4))

    def hyx_retry() -> tuple[Any, Any]:
        from hyx.retry import retry

        return None, lambda: retry(attempts=3)(af)

    add(build("retry (success)", "hyx", hyx_retry, n))

    # -- rate limiter, in memory, allowed path --------------------------------------------------
    def b_limiter(kind: str) -> Callable[[], tuple[Any, Any]]:
        def setup() -> tuple[Any, Any]:
            from buttress.resilience import RateLimiter

            limiter = getattr(RateLimiter, kind)(rate=BIG)
            alimiter = getattr(RateLimiter, kind)(rate=BIG)
            return limiter(f), lambda: alimiter(af)  # decorated, as the peers are

        return setup

    # one global limit (the decorator) is compared with the peers that have one global limit,
    # and buttress's per-key try_acquire with the peers that take a key: like with like
    add(build("rate limiter, one limit", "buttress token bucket", b_limiter("token_bucket"), n))
    add(build("rate limiter, one limit", "buttress gcra", b_limiter("gcra"), n))

    def b_keyed(kind: str, **settings: Any) -> Callable[[], tuple[Any, Any]]:
        def setup() -> tuple[Any, Any]:
            from buttress.resilience import RateLimiter

            limiter = getattr(RateLimiter, kind)(**settings)
            alimiter = getattr(RateLimiter, kind)(**settings)
            take, atake = limiter.try_acquire, alimiter.atry_acquire

            def call() -> Any:
                if take("k").allowed:
                    return f()
                raise RuntimeError("limited")

            def make() -> Callable[[], Awaitable[Any]]:
                async def acall() -> Any:
                    if (await atake("k")).allowed:
                        return await af()
                    raise RuntimeError("limited")

                return acall

            return call, make

        return setup

    add(
        build(
            "rate limiter, per key", "buttress token bucket", b_keyed("token_bucket", rate=BIG), n
        )
    )
    add(build("rate limiter, per key", "buttress gcra", b_keyed("gcra", rate=BIG), n))
    add(
        build(
            "rate limiter, per key",
            "buttress fixed window",
            b_keyed("fixed_window", limit=BIG, window=1.0),
            n,
        )
    )

    def limits_(strategy: str, number: int) -> Callable[[], tuple[Any, Any]]:
        def setup() -> tuple[Any, Any]:
            from limits import RateLimitItemPerSecond, storage, strategies

            limiter = getattr(strategies, strategy)(storage.MemoryStorage())
            item = RateLimitItemPerSecond(BIG)

            def call() -> Any:
                if limiter.hit(item, "k"):
                    return f()
                raise RuntimeError("limited")

            return call, None

        return setup

    add(
        build(
            "rate limiter, per key", "limits fixed window", limits_("FixedWindowRateLimiter", n), n
        )
    )
    add(
        build(
            "rate limiter, per key",
            "limits moving window",
            limits_("MovingWindowRateLimiter", n // 20),
            n // 20,
        )
    )

    def pyrate_() -> tuple[Any, Any]:
        from pyrate_limiter import Duration, Limiter, Rate

        limiter = Limiter(Rate(BIG, Duration.SECOND))
        return (lambda: limiter.try_acquire("k") and f()), None

    add(build("rate limiter, per key", "pyrate-limiter", pyrate_, n // 10))

    def aiolimiter_() -> tuple[Any, Any]:
        from aiolimiter import AsyncLimiter

        def make() -> Callable[[], Awaitable[Any]]:
            limiter = AsyncLimiter(BIG, 1)

            async def call() -> Any:
                async with limiter:
                    return await af()

            return call

        return None, make

    add(build("rate limiter, one limit", "aiolimiter", aiolimiter_, n))

    def throttled_(using: str) -> Callable[[], tuple[Any, Any]]:
        def setup() -> tuple[Any, Any]:
            from throttled import MemoryStore, Throttled, rate_limiter

            throttle = Throttled(
                key="k", quota=rate_limiter.per_sec(BIG), store=MemoryStore(), using=using
            )
            return (lambda: throttle.limit("k").limited or f()), None

        return setup

    add(
        build(
            "rate limiter, per key",
            "throttled-py token bucket",
            throttled_("token_bucket"),
            n // 10,
        )
    )
    add(build("rate limiter, per key", "throttled-py gcra", throttled_("gcra"), n // 10))

    def hyx_limiter() -> tuple[Any, Any]:
        from hyx.ratelimit import tokenbucket

        return None, lambda: tokenbucket(max_executions=BIG, per_time_secs=1, bucket_size=BIG)(af)

    add(build("rate limiter, one limit", "hyx", hyx_limiter, n))

    # -- the 5-policy pipeline -------------------------------------------------------------------
    def b_pipeline() -> tuple[Any, Any]:
        from buttress.resilience import (
            Bulkhead,
            CircuitBreaker,
            Pipeline,
            RateLimiter,
            Retry,
            Timeout,
        )

        def make() -> Pipeline:
            return Pipeline(
                Retry(attempts=3),
                CircuitBreaker(),
                Timeout(10.0),
                Bulkhead(max_concurrent=100),
                RateLimiter.token_bucket(rate=BIG),
            )

        sync, asyn = make(), make()
        for _ in range(200):
            sync.call(f)
        return (lambda: sync.call(f)), lambda: lambda: asyn.acall(af)

    add(
        build(
            "pipeline (retry, breaker, timeout, bulkhead, limiter)", "buttress", b_pipeline, n // 4
        )
    )
    return out


def threads_ratio(seconds: float = 1.0) -> dict[str, float]:
    """Throughput of 8 threads through one closed breaker, as a ratio to 8 unguarded threads."""
    from buttress.resilience import CircuitBreaker

    def work(call: Callable[[], Any]) -> float:
        stop = threading.Event()
        counts = [0] * 8

        def run(i: int) -> None:
            n = 0
            while not stop.is_set():
                for _ in range(100):
                    call()
                n += 100
            counts[i] = n

        threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        return sum(counts) / seconds

    def io_like() -> None:
        time.sleep(0.0001)  # a dependency call: waits on I/O, releasing the GIL

    breaker = CircuitBreaker()
    guarded = breaker(io_like)
    for _ in range(200):
        guarded()
    result = {"unguarded": work(io_like), "buttress": work(guarded)}
    try:
        import pybreaker

        result["pybreaker"] = work(pybreaker.CircuitBreaker()(io_like))
    except ImportError:
        pass
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer calls per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per case")
    args = parser.parse_args()
    all_cases = cases(args.quick)
    for _ in range(args.rounds):  # interleaved: every case once per round
        for case in all_cases:
            if case.error:
                continue
            try:
                if case.sync is not None:
                    case.sync_ns.append(time_sync(case.sync, case.number))
                if case.make_async is not None:
                    case.async_ns.append(time_async(case.make_async, case.number))
            except Exception as exc:  # noqa: BLE001  # a peer failing at run time is reported
                case.error = f"{type(exc).__name__}: {exc}"[:60]

    def med(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    print(
        f"Python {sys.version.split()[0]}; ns per call, median of {args.rounds} interleaved rounds "
        "(each the best of 3 repeats)\n"
    )
    print(
        f"{'group':<30} {'library':<27} {'sync ns':>9} {'async ns':>9} {'x bare':>12}  "
        "ratio (fastest peer / buttress)"
    )
    groups: dict[str, list[Case]] = {}
    for case in all_cases:
        groups.setdefault(case.group, []).append(case)
    bare = groups["bare call"][0]
    bare_sync, bare_async = med(bare.sync_ns) or 1.0, med(bare.async_ns) or 1.0

    def cell(value: float | None) -> str:
        return "-" if not value else f"{value:.0f}"

    for group, members in groups.items():
        peers = [c for c in members if not c.library.startswith(("buttress", "(")) and not c.error]
        best_sync = min((m for c in peers if (m := med(c.sync_ns)) is not None), default=None)
        best_async = min((m for c in peers if (m := med(c.async_ns)) is not None), default=None)
        for case in members:
            s, a = med(case.sync_ns), med(case.async_ns)
            ratio = ""
            if case.library.startswith("buttress"):
                parts = []
                if s and best_sync:
                    parts.append(f"sync {best_sync / s:.2f}x")
                if a and best_async:
                    parts.append(f"async {best_async / a:.2f}x")
                ratio = ", ".join(parts)
            if case.error:
                print(f"{group[:30]:<30} {case.library:<27} {'n/a':>9} {'n/a':>9}  {case.error}")
            else:
                times_bare = "/".join(
                    f"{v / b:.1f}" for v, b in ((s, bare_sync), (a, bare_async)) if v
                )
                print(
                    f"{group[:30]:<30} {case.library:<27} {cell(s):>9} {cell(a):>9} "
                    f"{times_bare:>12}  {ratio}"
                )
        print()
    retry_peers = [
        m
        for c in groups["retry (success)"]
        if not c.library.startswith("buttress") and not c.error
        for m in (med(c.sync_ns),)
        if m is not None
    ]
    pipeline = med(groups["pipeline (retry, breaker, timeout, bulkhead, limiter)"][0].sync_ns)
    if retry_peers and pipeline:
        print(
            f"5-policy pipeline (sync) / the fastest peer's retry call alone: "
            f"{pipeline / min(retry_peers):.2f}x\n"
        )
    print(
        f"x bare: multiples of a bare call in this run ({bare_sync:.0f} ns sync, "
        f"{bare_async:.0f} ns async), to compare machines; the issue's goals were set where "
        "a bare call took 25 ns (sync): breaker <= 7.2x, rejection <= 12x, retry <= 24x, "
        "limiter <= 32x, pipeline <= 60x.\n"
    )
    ratios = threads_ratio(0.5 if args.quick else 1.0)
    base = ratios.pop("unguarded")
    print("8 threads through one closed breaker, throughput / unguarded 8 threads:")
    for name, value in ratios.items():
        print(f"  {name:<12} {value / base:.2f}x")


if __name__ == "__main__":
    main()
