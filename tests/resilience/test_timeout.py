"""Timeout: cooperative sync deadline, hard thread timeout, asyncio cancellation."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

import pytest

from buttress.resilience import PolicyTimeoutError, Timeout, deadline, events, remaining
from tests.resilience.conftest import FakeClock


def test_deadline_is_visible_to_the_call(clock: FakeClock) -> None:
    """Inside the call, deadline() and remaining() tell the time left; outside, None."""
    policy = Timeout(5, clock=clock)
    assert deadline() is None
    assert policy.call(lambda: (deadline(), remaining(clock))) == (clock.now + 5, 5.0)
    assert remaining() is None


def test_nested_timeouts_keep_the_earliest_deadline(clock: FakeClock) -> None:
    """An inner, longer timeout cannot extend the outer deadline."""
    outer, inner = Timeout(2, clock=clock), Timeout(10, clock=clock)
    assert outer.call(inner.call, lambda: remaining(clock)) == 2.0


def test_overrun_raises_a_timeout_error(clock: FakeClock) -> None:
    """A sync call that overran has its result discarded and raises PolicyTimeoutError."""
    seen: list[events.Event] = []
    policy = Timeout(1, name="slow-api", clock=clock, listeners=(seen.append,))

    def slow() -> str:
        clock.advance(1.5)
        return "late"

    with pytest.raises(PolicyTimeoutError) as info:
        policy.call(slow)
    assert isinstance(info.value, TimeoutError)
    assert info.value.timeout == 1.0
    assert "slow-api" in str(info.value)
    assert isinstance(seen[0], events.TimedOut)


def test_with_block(clock: FakeClock) -> None:
    """The with-block face sets the deadline and reports an overrun."""
    policy = Timeout(1, clock=clock)
    with policy:
        assert remaining(clock) == 1.0
    with pytest.raises(PolicyTimeoutError), policy:
        clock.advance(2)


def test_hard_timeout_stops_waiting() -> None:
    """hard=True returns control at the deadline while the call goes on in its worker."""
    release = threading.Event()
    policy = Timeout(0.05, hard=True)
    started = time.monotonic()
    with pytest.raises(PolicyTimeoutError):
        policy.call(release.wait, 5)
    assert time.monotonic() - started < 2
    release.set()
    assert policy.call(lambda: remaining() is not None) is True


@pytest.mark.anyio
async def test_async_call_is_cancelled() -> None:
    """An awaited call is cancelled at the deadline."""
    cancelled = asyncio.Event()

    async def hang() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(PolicyTimeoutError):
        await Timeout(0.02).acall(hang)
    assert cancelled.is_set()

    async def quick() -> str:
        return "done"

    assert await Timeout(1).acall(quick) == "done"


@pytest.mark.anyio
async def test_async_with_and_own_timeouts_pass_through() -> None:
    """async with cancels the block; a TimeoutError of the call's own is not relabelled."""
    with pytest.raises(PolicyTimeoutError):
        async with Timeout(0.02):
            await asyncio.sleep(10)

    async def own() -> None:
        raise TimeoutError("the driver's own")

    with pytest.raises(TimeoutError, match="the driver's own") as info:
        await Timeout(5).acall(own)
    assert not isinstance(info.value, PolicyTimeoutError)


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), "5", True])
def test_bad_seconds(seconds: object) -> None:
    """The timeout must be a positive number of seconds."""
    with pytest.raises(ValueError, match="expected a number of seconds > 0"):
        Timeout(seconds)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_one_timer_serves_many_calls_each_cut_at_its_own_deadline() -> None:
    """A policy's concurrent calls share one timer: calls that end in time are untouched,
    calls that hang are cut at their own deadline (also when they started later, after the
    first deadline's call ended early), and nothing stays queued afterwards."""
    policy = Timeout(0.5)  # far beyond the quick calls, which end at once, however loaded
    first_ended = asyncio.Event()

    async def quick(value: str) -> str:
        await asyncio.sleep(0)
        return value

    async def hang() -> str:
        await asyncio.Event().wait()
        return "never"

    async def first() -> str:
        try:
            return await policy.acall(quick, "first")  # its deadline's timer must re-arm
        finally:
            first_ended.set()

    async def late(fn: Callable[..., Awaitable[str]], *args: str) -> str:
        await first_ended.wait()  # starts after the first deadline's call ended early
        return await policy.acall(fn, *args)

    results = await asyncio.gather(
        first(),
        late(hang),  # hangs, started later: cut at its own, later deadline
        policy.acall(hang),  # hangs: cut at the first deadline still armed
        late(quick, "late"),
        policy.acall(quick, "other"),
        return_exceptions=True,
    )
    assert results[0] == "first"
    assert isinstance(results[1], PolicyTimeoutError)
    assert isinstance(results[2], PolicyTimeoutError)
    assert list(results[3:]) == ["late", "other"]
    for deadlines in policy._by_loop.values():
        assert not deadlines.calls


@pytest.mark.anyio
async def test_an_outside_cancellation_is_not_turned_into_a_timeout() -> None:
    """The caller's own cancellation passes through as CancelledError; and a call that
    swallows our cancellation leaves the task's cancel count as it was."""
    policy = Timeout(5)
    task = asyncio.ensure_future(policy.acall(asyncio.sleep, 10))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async def stubborn() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return "swallowed"
        return "slept"

    async def run() -> tuple[str, int]:
        result = await Timeout(0.02).acall(stubborn)
        current = asyncio.current_task()
        assert current is not None
        return result, current.cancelling()

    assert await asyncio.ensure_future(run()) == ("swallowed", 0)


@pytest.mark.anyio
async def test_nested_timeouts_of_one_policy_report_the_outer_one() -> None:
    """The outer call's deadline comes first: the inner call sees a plain cancellation, the
    outer one reports the timeout."""
    policy = Timeout(0.03)

    async def inner() -> None:
        with pytest.raises(asyncio.CancelledError):
            await policy.acall(asyncio.sleep, 10)
        raise asyncio.CancelledError  # what the inner call saw, passed on

    with pytest.raises(PolicyTimeoutError):
        await policy.acall(inner)
