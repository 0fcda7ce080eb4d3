"""What the domain event bus and the resilience bridge cost, in nanoseconds per call.

    PYTHONPATH=src .venv/bin/python bench/event_bus.py       # --quick for a shorter run

Rows: ``emit`` to nobody and to one handler (on the event's class, and on ``DomainEvent``);
a closed breaker's call and an open breaker's rejection with no bridge, with a bridge open
while nobody subscribes on the bus (the bridge is then not in the policies' path: the two
rows should be equal but for noise), and with a bus subscriber (the forwarding's cost, paid
only on events). Each row is the median over interleaved rounds of the best of 5 repeats.
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext, suppress
from dataclasses import dataclass

from buttress import events as bus
from buttress.resilience import CircuitBreaker, CircuitOpenError, events


@dataclass(frozen=True, slots=True)
class Ping(bus.DomainEvent):
    n: int


def ok() -> int:
    return 1


def boom() -> None:
    raise RuntimeError


def _open_breaker() -> CircuitBreaker:
    breaker = CircuitBreaker(name="bench", minimum_calls=1, window_size=1, wait=3600.0)
    with suppress(RuntimeError):
        breaker.call(boom)
    return breaker


def _rejection(breaker: CircuitBreaker) -> Callable[[], None]:
    call = breaker.call

    def attempt() -> None:
        try:  # noqa: SIM105  # suppress() would add its own cost to every row
            call(ok)
        except CircuitOpenError:
            pass

    return attempt


@contextmanager
def _bridged(subscriber: bool) -> Iterator[None]:
    with ExitStack() as stack:
        stack.enter_context(events.bridge())
        if subscriber:
            stack.enter_context(bus.subscribe(events.CallRejected, lambda e: None))
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    number = 20_000 if args.quick else 200_000
    ping = Ping(1)
    closed = CircuitBreaker(name="closed").call
    rejection = _rejection(_open_breaker())

    def nothing() -> AbstractContextManager[None]:
        return nullcontext()

    cases: list[tuple[str, Callable[[], object], Callable[[], AbstractContextManager[None]]]] = [
        ("emit, no subscriber", lambda: bus.emit(ping), nothing),
        ("emit, 1 handler of Ping", lambda: bus.emit(ping), lambda: bus.subscribe(Ping, id)),
        (
            "emit, 1 handler of DomainEvent",
            lambda: bus.emit(ping),
            lambda: bus.subscribe(bus.DomainEvent, id),
        ),
        ("breaker closed, no bridge", lambda: closed(ok), nothing),
        ("breaker closed, bridge, no bus subscriber", lambda: closed(ok), lambda: _bridged(False)),
        ("breaker closed, bridge + bus subscriber", lambda: closed(ok), lambda: _bridged(True)),
        ("rejection, no bridge", rejection, nothing),
        ("rejection, bridge, no bus subscriber", rejection, lambda: _bridged(False)),
        ("rejection, bridge + bus subscriber", rejection, lambda: _bridged(True)),
    ]
    results: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    for _ in range(args.rounds):
        for name, fn, setup in cases:
            with setup():
                best = min(timeit.repeat(fn, number=number, repeat=5)) / number
            results[name].append(best * 1e9)
    width = max(len(name) for name in results)
    for name, values in results.items():
        print(f"{name:<{width}}  {statistics.median(values):7.0f} ns")


if __name__ == "__main__":
    main()
