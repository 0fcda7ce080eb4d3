"""Shared-state decisions on Redis: buttress next to limits, pyrate-limiter and throttled-py.

    .venv/bin/pip install -e '.[bench]'        # the peers, into the same environment
    .venv/bin/python bench/redis_state.py      # against redis://127.0.0.1:6379/0
    .venv/bin/python bench/redis_state.py --pin   # client and redis-server on one core

Every limiter makes one decision per call against the local Redis. Loopback speed swings 3-4x
with where the scheduler puts client and server, so each case is timed in several rounds,
interleaved with a PING round trip (the floor: one round trip per decision cannot beat it)
and a one-line Lua EVALSHA (the practical ceiling), and reported as its median ratio to PING
from the same rounds (1.0 = as fast as PING). Latencies are per decision, p50 and p99.
The last table is the closed circuit breaker's success path, in-process vs shared via Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

URL = os.environ.get("BUTTRESS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
BIG = 10**9
PREFIX = f"bench-{os.getpid()}"

# -- the contenders: name -> factory of a sync decision function ------------------------------


def _limiter(kind: str, store: Any) -> Any:
    """A buttress limiter of ``kind`` on ``store`` that never refuses (the decision is timed)."""
    from buttress.resilience import RateLimiter

    name = f"{kind}-{id(store)}"
    return {
        "token_bucket": lambda: RateLimiter.token_bucket(rate=BIG, name=name, store=store),
        "gcra": lambda: RateLimiter.gcra(rate=BIG, name=name, store=store),
        "sliding_window": lambda: RateLimiter.sliding_window(
            limit=BIG, window=1, name=name, store=store
        ),
        "sliding_counter": lambda: RateLimiter.sliding_window(
            limit=BIG, window=1, exact=False, name=name, store=store
        ),
        "fixed_window": lambda: RateLimiter.fixed_window(limit=BIG, name=name, store=store),
        "leaky_bucket": lambda: RateLimiter.leaky_bucket(
            rate=BIG, capacity=BIG, name=name, store=store
        ),
    }[kind]()


def _buttress(kind: str) -> Callable[[], Callable[[], Any]]:
    def make() -> Callable[[], Any]:
        from buttress.state import RedisStore

        limiter = _limiter(kind, RedisStore(URL, prefix=PREFIX))
        return lambda: limiter.try_acquire("user")

    return make


def _ping() -> Callable[[], Any]:
    import redis

    return redis.Redis.from_url(URL).ping


def _lua() -> Callable[[], Any]:
    import redis

    client = redis.Redis.from_url(URL)
    sha = client.script_load("return 1")
    run: Any = client.execute_command
    return lambda: run("EVALSHA", sha, 0)


def _limits(kind: str) -> Callable[[], Callable[[], Any]]:
    def make() -> Callable[[], Any]:
        from limits import parse
        from limits.storage import RedisStorage
        from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

        storage = RedisStorage(URL.rsplit("/", 1)[0])
        strategy = FixedWindowRateLimiter if kind == "fixed" else MovingWindowRateLimiter
        limiter = strategy(storage)
        item = parse(f"{BIG}/second")
        return lambda: limiter.hit(item, PREFIX, kind)

    return make


def _pyrate() -> Callable[[], Any]:
    import redis
    from pyrate_limiter import Duration, Limiter, Rate, RedisBucket

    bucket = RedisBucket.init([Rate(BIG, Duration.SECOND)], redis.Redis.from_url(URL), PREFIX)
    limiter = Limiter(bucket)
    return lambda: limiter.try_acquire("user", blocking=False)


def _throttled(kind: str) -> Callable[[], Callable[[], Any]]:
    def make() -> Callable[[], Any]:
        from throttled import RateLimiterType, Throttled, rate_limiter, store

        using = RateLimiterType.GCRA.value if kind == "gcra" else RateLimiterType.FIXED_WINDOW.value
        throttle = Throttled(
            key=f"{PREFIX}-{kind}",
            using=using,
            quota=rate_limiter.per_sec(BIG, burst=BIG),
            store=store.RedisStore(server=URL),
        )
        return throttle.limit

    return make


CASES: dict[str, Callable[[], Callable[[], Any]]] = {
    "redis-py PING (floor)": _ping,
    "trivial Lua EVALSHA (ceiling)": _lua,
    "buttress token bucket": _buttress("token_bucket"),
    "buttress GCRA": _buttress("gcra"),
    "buttress sliding window (log)": _buttress("sliding_window"),
    "buttress sliding window (counter)": _buttress("sliding_counter"),
    "buttress fixed window": _buttress("fixed_window"),
    "buttress leaky bucket": _buttress("leaky_bucket"),
    "limits fixed window": _limits("fixed"),
    "limits moving window": _limits("moving"),
    "pyrate-limiter RedisBucket": _pyrate,
    "throttled-py fixed window": _throttled("fixed"),
    "throttled-py GCRA": _throttled("gcra"),
}

BUTTRESS_KINDS = {
    "buttress token bucket": "token_bucket",
    "buttress GCRA": "gcra",
    "buttress sliding window (log)": "sliding_window",
    "buttress sliding window (counter)": "sliding_counter",
    "buttress fixed window": "fixed_window",
    "buttress leaky bucket": "leaky_bucket",
}


def _time(fn: Callable[[], Any], n: int) -> tuple[float, list[int]]:
    lat = [0] * n
    clock = time.perf_counter_ns
    started = clock()
    for i in range(n):
        t = clock()
        fn()
        lat[i] = clock() - t
    return n / ((clock() - started) / 1e9), lat


def _pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def run_sync(rounds: int, n: int) -> dict[str, Any]:
    fns: dict[str, Callable[[], Any]] = {}
    errors: dict[str, str] = {}
    for name, make in CASES.items():
        try:
            fns[name] = make()
            for _ in range(300):
                fns[name]()
        except Exception as exc:  # noqa: BLE001  # a peer refusing its setup is reported
            errors[name] = f"{type(exc).__name__}: {exc}"[:70]
    ratios: dict[str, list[float]] = {k: [] for k in fns}
    rates: dict[str, list[float]] = {k: [] for k in fns}
    lats: dict[str, list[int]] = {k: [] for k in fns}
    for _ in range(rounds):
        ping, _lat = _time(fns["redis-py PING (floor)"], n)
        for name, fn in fns.items():
            rate, lat = _time(fn, n)
            rates[name].append(rate)
            ratios[name].append(rate / ping)
            lats[name].extend(lat)
    return {"ratios": ratios, "rates": rates, "lats": lats, "errors": errors}


async def _async_fns() -> dict[str, Callable[[], Awaitable[Any]]]:
    import redis.asyncio

    from buttress.state import RedisStore

    store = RedisStore(URL, prefix=PREFIX)
    client = redis.asyncio.Redis.from_url(URL)
    fns: dict[str, Callable[[], Awaitable[Any]]] = {"redis-py PING (floor)": client.ping}
    for label, kind in BUTTRESS_KINDS.items():
        limiter = _limiter(kind, store)
        fns[label] = partial(limiter.atry_acquire, "user")
    return fns


async def run_async(rounds: int, n: int) -> dict[str, Any]:
    fns = await _async_fns()

    async def timed(fn: Callable[[], Awaitable[Any]]) -> tuple[float, list[int]]:
        lat = [0] * n
        clock = time.perf_counter_ns
        started = clock()
        for i in range(n):
            t = clock()
            await fn()
            lat[i] = clock() - t
        return n / ((clock() - started) / 1e9), lat

    for fn in fns.values():
        for _ in range(300):
            await fn()
    ratios: dict[str, list[float]] = {k: [] for k in fns}
    rates: dict[str, list[float]] = {k: [] for k in fns}
    lats: dict[str, list[int]] = {k: [] for k in fns}
    for _ in range(rounds):
        ping, _lat = await timed(fns["redis-py PING (floor)"])
        for name, fn in fns.items():
            rate, lat = await timed(fn)
            rates[name].append(rate)
            ratios[name].append(rate / ping)
            lats[name].extend(lat)
    return {"ratios": ratios, "rates": rates, "lats": lats, "errors": {}}


def _worker(name: str, seconds: float, start: float, out: Any) -> None:
    fn = CASES[name]()
    for _ in range(200):
        fn()
    while time.time() < start:
        time.sleep(0.001)
    start = max(start, time.time())  # a worker that started late (a loaded host) runs its own
    count = 0
    end = start + seconds
    while time.time() < end:
        fn()
        count += 1
    out.put(count / seconds)


def _unavailable(name: str) -> str | None:
    """Why a case cannot run here (a peer that is not installed), or ``None``: checked before
    the worker processes start, which would otherwise die and leave the parent waiting."""
    try:
        CASES[name]()
    except ImportError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def run_processes(names: list[str], procs: int, seconds: float) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    totals: dict[str, float] = {}
    for name in names:
        out = ctx.Queue()
        start = time.time() + 2.0
        workers = [
            ctx.Process(target=_worker, args=(name, seconds, start, out)) for _ in range(procs)
        ]
        for w in workers:
            w.start()
        totals[name] = sum(out.get(timeout=120) for _ in workers)
        for w in workers:
            w.join()
    return totals


def run_breaker(rounds: int, n: int) -> dict[str, float]:
    import timeit

    from buttress.resilience import CircuitBreaker
    from buttress.state import RedisStore

    store = RedisStore(URL, prefix=PREFIX)
    memory = CircuitBreaker(name="mem")
    shared = CircuitBreaker.shared(name="shared", store=store)
    shared.sync()

    def ok() -> int:
        return 1

    cases = {
        "memory breaker .call": lambda: memory.call(ok),
        "shared breaker .call": lambda: shared.call(ok),
    }
    best: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            best[name].append(min(timeit.repeat(fn, number=n, repeat=3)) / n * 1e9)
    store.close()
    return {k: statistics.median(v) for k, v in best.items()}


def _pin() -> None:
    import redis

    pid = int(redis.Redis.from_url(URL).info("server")["process_id"])
    os.sched_setaffinity(0, {0})
    os.sched_setaffinity(pid, {0})
    print(f"pinned this process and redis-server (pid {pid}) to CPU 0")


def _table(title: str, result: dict[str, Any]) -> None:
    print(f"\n{title}")
    print(f"{'case':36} {'ratio to PING':>14} {'decisions/s':>12} {'p50 us':>8} {'p99 us':>8}")
    for name in result["ratios"]:
        ratio = statistics.median(result["ratios"][name])
        rate = statistics.median(result["rates"][name])
        lat = result["lats"][name]
        print(f"{name:36} {ratio:14.2f} {rate:12.0f} {_pct(lat, 0.5):8.1f} {_pct(lat, 0.99):8.1f}")
    for name, error in result["errors"].items():
        print(f"{name:36} n/a ({error})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=3000, help="decisions per case per round")
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0, help="per multi-process case")
    parser.add_argument("--pin", action="store_true", help="client and redis-server on CPU 0")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and calls")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.calls, args.seconds = 3, 1000, 1.5
    if args.pin:
        _pin()
    version = sys.version.split()[0]
    print(f"Redis {URL}; {args.rounds} rounds x {args.calls} decisions per case; python {version}")
    _table("one client, sync (redis-py)", run_sync(args.rounds, args.calls))
    _table("one client, asyncio (redis.asyncio)", asyncio.run(run_async(args.rounds, args.calls)))
    names = [
        "redis-py PING (floor)",
        "buttress token bucket",
        "buttress GCRA",
        "buttress sliding window (log)",
        "limits fixed window",
        "limits moving window",
        "pyrate-limiter RedisBucket",
        "throttled-py GCRA",
    ]
    missing = {name: error for name in names if (error := _unavailable(name))}
    totals = run_processes([n for n in names if n not in missing], args.procs, args.seconds)
    print(f"\n{args.procs} processes, sync, {args.seconds:g} s each")
    print(f"{'case':36} {'ratio to PING':>14} {'decisions/s':>12}")
    for name, total in totals.items():
        print(f"{name:36} {total / totals['redis-py PING (floor)']:14.2f} {total:12.0f}")
    for name, error in missing.items():
        print(f"{name:36} n/a ({error})")
    breaker = run_breaker(args.rounds, 200_000 if not args.quick else 50_000)
    print("\nclosed circuit breaker, success path (ns per call, median of rounds' best)")
    for name, ns in breaker.items():
        print(f"{name:36} {ns:8.0f}")
    ratio = breaker["shared breaker .call"] / breaker["memory breaker .call"]
    print(f"{'shared / memory':36} {ratio:8.2f}x")
    _cleanup()
    return 0


def _cleanup() -> None:
    import redis

    client = redis.Redis.from_url(URL)
    for pattern in (f"{PREFIX}*", f"*{PREFIX}*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)


if __name__ == "__main__":
    sys.exit(main())
