"""Feature-flag lookups: `buttress.flags.enabled()` next to a plain dict lookup and the
OpenFeature SDK (its in-memory provider, and buttress's provider through the SDK), in one run.

    .venv/bin/python bench/flags.py [--rounds 7] [--number 1000000]

Each case is timed with timeit in interleaved rounds; the table shows the best round in ns per
call and the ratio to the dict lookup (the floor: answering from a dict cannot be cheaper).
Then the load-shedding middleware's cost with wrk (bench/shedding_wrk.py).
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

from buttress import flags


def cases() -> dict[str, Callable[[], object]]:
    from openfeature import api
    from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider

    from buttress.degradation.openfeature import ButtressProvider

    table = {"recommendations": True, "analytics": False}
    flags.publish("YELLOW", frozenset({"analytics"}), {"orders_per_minute": 500}, table)

    api.set_provider(
        InMemoryProvider({"recommendations": InMemoryFlag("on", {"on": True, "off": False})}),
        domain="in-memory",
    )
    in_memory = api.get_client("in-memory")
    api.set_provider(ButtressProvider(["recommendations"]), domain="buttress")
    via_sdk = api.get_client("buttress")
    enabled = flags.enabled
    get = table.get
    return {
        "dict lookup (table.get)": lambda: get("recommendations", True),
        "buttress flags.enabled()": lambda: enabled("recommendations"),
        "buttress flags.limit()": lambda: flags.limit("orders_per_minute", 5000),
        "OpenFeature SDK, in-memory provider": lambda: in_memory.get_boolean_value(
            "recommendations", False
        ),
        "OpenFeature SDK, ButtressProvider": lambda: via_sdk.get_boolean_value(
            "recommendations", False
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=1_000_000)
    args = parser.parse_args()
    todo = cases()
    best: dict[str, float] = {}
    slow = {name for name in todo if "OpenFeature" in name}
    for _ in range(args.rounds):
        for name, fn in todo.items():
            number = args.number // 200 if name in slow else args.number
            seconds = timeit.timeit(fn, number=number)
            best[name] = min(best.get(name, float("inf")), seconds / number * 1e9)
    base = best["dict lookup (table.get)"]
    ours = best["buttress flags.enabled()"]
    print(f"| case | ns/call (best of {args.rounds}) | x dict lookup |")
    print("|---|---|---|")
    for name, ns in best.items():
        print(f"| {name} | {ns:,.0f} | {ns / base:.2f} |")
    memory = best["OpenFeature SDK, in-memory provider"]
    print(
        f"\nflags.enabled() is {memory / ours:,.0f}x faster than the OpenFeature in-memory provider"
    )
    from shedding_wrk import middleware_cost  # bench/ is on sys.path when run as a script

    middleware_cost()


if __name__ == "__main__":
    main()
