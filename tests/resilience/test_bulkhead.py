"""Bulkhead: limits, queue, priorities, rejection policies, timeouts, sync and async."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Literal, SupportsIndex

import pytest

from buttress.resilience import Bulkhead, BulkheadFullError, events


def hold_slots(bulkhead: Bulkhead, n: int) -> tuple[threading.Event, list[threading.Thread]]:
    """Occupy n slots from threads until the returned event is set."""
    release = threading.Event()
    threads = [threading.Thread(target=bulkhead.call, args=(release.wait, 10)) for _ in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while bulkhead.active < n and time.monotonic() < deadline:
        time.sleep(0.001)
    return release, threads


def wait_queued(bulkhead: Bulkhead, n: int) -> None:
    deadline = time.monotonic() + 5
    while bulkhead.queued < n and time.monotonic() < deadline:
        time.sleep(0.001)
    assert bulkhead.queued == n


def test_rejects_when_full_without_queue() -> None:
    """With no queue, a call beyond max_concurrent fails at once; the event says so."""
    seen: list[events.Event] = []
    bulkhead = Bulkhead(name="db", max_concurrent=2, listeners=(seen.append,))
    release, threads = hold_slots(bulkhead, 2)
    with pytest.raises(BulkheadFullError, match="bulkhead 'db' is full") as info:
        bulkhead.call(lambda: None)
    assert info.value.retry_after is None
    assert isinstance(seen[0], events.CallRejected)
    release.set()
    for t in threads:
        t.join()
    assert (bulkhead.active, bulkhead.queued) == (0, 0)


def test_queue_serves_higher_priority_first() -> None:
    """Queued calls get freed slots by priority, then by arrival."""
    bulkhead = Bulkhead(max_concurrent=1, max_queue=3)
    release, holders = hold_slots(bulkhead, 1)
    order: list[str] = []

    def queued(label: str, priority: int) -> None:
        with bulkhead.slot(priority=priority):
            order.append(label)

    waiters = []
    for label, priority in (("low", 0), ("high", 9), ("mid", 5)):
        t = threading.Thread(target=queued, args=(label, priority))
        t.start()
        waiters.append(t)
        wait_queued(bulkhead, len(waiters))
    release.set()
    for t in holders + waiters:
        t.join()
    assert order == ["high", "mid", "low"]


def test_full_queue_reject_newest_and_drop_oldest() -> None:
    """reject_newest refuses the arrival; drop_oldest refuses the oldest lowest-priority waiter."""
    policies: tuple[Literal["reject_newest", "drop_oldest"], ...] = ("reject_newest", "drop_oldest")
    for policy in policies:
        bulkhead = Bulkhead(max_concurrent=1, max_queue=1, on_full=policy)
        release, holders = hold_slots(bulkhead, 1)
        outcome: dict[str, str] = {}

        def queued(
            label: str, bulkhead: Bulkhead = bulkhead, outcome: dict[str, str] = outcome
        ) -> None:
            try:
                bulkhead.call(lambda: None)
                outcome[label] = "ran"
            except BulkheadFullError as exc:
                outcome[label] = exc.reason

        first = threading.Thread(target=queued, args=("first",))
        first.start()
        wait_queued(bulkhead, 1)
        second = threading.Thread(target=queued, args=("second",))
        second.start()
        second.join(0.2) if policy == "reject_newest" else wait_queued(bulkhead, 1)
        release.set()
        for t in (*holders, first, second):
            t.join()
        if policy == "reject_newest":
            assert outcome == {"first": "ran", "second": "no free slot and the wait queue is full"}
        else:
            assert outcome == {
                "first": "dropped from the wait queue for a newer call",
                "second": "ran",
            }
        assert (bulkhead.active, bulkhead.queued) == (0, 0)


def test_max_wait_times_out_and_frees_the_queue_place() -> None:
    """A queued call that waits longer than max_wait fails and leaves the queue."""
    bulkhead = Bulkhead(max_concurrent=1, max_queue=5, max_wait=0.05)
    release, holders = hold_slots(bulkhead, 1)
    with pytest.raises(BulkheadFullError, match=r"waited 0\.05s"):
        bulkhead.call(lambda: None)
    assert bulkhead.queued == 0
    release.set()
    for t in holders:
        t.join()


def test_a_slot_given_back_while_a_call_queues_goes_to_that_call() -> None:
    """Free slots are taken without the lock. The holder gives its slot back just after an
    arriving call found none, and before that call has joined the queue: the releaser sees no
    waiter, so the arriving call must notice the slot itself rather than wait for a release
    that will not come."""
    bulkhead = Bulkhead(max_concurrent=1, max_queue=1)
    holder = bulkhead.slot()
    holder.__enter__()

    class SlotGivenBackDuringPop(list[None]):
        armed = True

        def pop(self, index: SupportsIndex = -1) -> None:
            if not self and self.armed:
                self.armed = False
                holder.__exit__(None, None, None)  # the releaser appends; nobody queued yet
                raise IndexError("pop from empty list")  # what our caller saw a moment ago
            return super().pop(index)

    bulkhead._free = SlotGivenBackDuringPop(bulkhead._free)
    with bulkhead.slot(timeout=2.0):  # without the hand-over: BulkheadFullError after 2 s
        assert bulkhead.active == 1
    assert (bulkhead.active, bulkhead.queued) == (0, 0)


def test_slot_is_released_after_exceptions() -> None:
    """A call that raises gives its slot back."""
    bulkhead = Bulkhead(max_concurrent=1)
    for _ in range(10):
        with pytest.raises(ZeroDivisionError):
            bulkhead.call(lambda: 1 / 0)
    assert bulkhead.active == 0
    assert bulkhead.call(lambda: "ok") == "ok"


@pytest.mark.anyio
async def test_async_cancellation_and_timeouts_never_leak_slots() -> None:
    """Cancelled or timed-out async waiters leave nothing behind; holders release on exit."""
    bulkhead = Bulkhead(max_concurrent=2, max_queue=100, max_wait=0.5)
    gate = asyncio.Event()

    async def hold() -> None:
        await gate.wait()

    holders = [asyncio.ensure_future(bulkhead.acall(hold)) for _ in range(2)]
    waiters = [asyncio.ensure_future(bulkhead.acall(hold)) for _ in range(50)]
    await asyncio.sleep(0.01)
    assert (bulkhead.active, bulkhead.queued) == (2, 50)
    for w in waiters[:25]:
        w.cancel()
    holders[0].cancel()  # a running holder cancelled: its slot goes to the next waiter
    await asyncio.sleep(0.01)
    gate.set()
    results = await asyncio.gather(*holders, *waiters, return_exceptions=True)
    cancelled = sum(isinstance(r, asyncio.CancelledError) for r in results)
    assert cancelled == 26
    assert (bulkhead.active, bulkhead.queued) == (0, 0)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"max_concurrent": 0}, "max_concurrent=0"),
        ({"max_queue": -1}, "max_queue=-1"),
        ({"max_wait": -1}, "max_wait=-1"),
        ({"on_full": "random"}, "on_full='random'"),
    ],
)
def test_bad_settings(kwargs: dict[str, object], fragment: str) -> None:
    """Invalid settings fail at construction."""
    with pytest.raises(ValueError, match=fragment):
        Bulkhead(**kwargs)  # type: ignore[arg-type]
