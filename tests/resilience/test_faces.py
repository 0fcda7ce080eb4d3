"""Every face of a policy tells the same story: the same scenario run through ``call``, the
decorator, a ``with`` block (or retry's attempts) and a pipeline stage, sync and async, ends
with the same results, states, sleeps and events. A fix that lands in one face only fails
here (the faces share one core; the drivers that remain per face are pinned by this file)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from buttress.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    Fallback,
    Pipeline,
    Retry,
    events,
)
from tests.resilience.conftest import FakeClock

SYNC_FACES = ["call", "decorator", "with", "pipeline"]
ASYNC_FACES = ["acall", "async decorator", "async with", "async pipeline"]
FACES = SYNC_FACES + ASYNC_FACES


class Boom(Exception):
    pass


def through(policy: Any, face: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` (a sync function) once through ``policy``'s ``face``; returns its result or
    raises what the face raised. Async faces run an ``async def`` twin of ``fn``."""

    async def afn() -> Any:
        return fn()

    if face == "plain":
        return fn()
    if face == "call":
        return policy.call(fn)
    if face == "decorator":
        return policy(fn)()
    if face == "with":
        with policy:
            return fn()
    if face == "pipeline":
        return Pipeline(policy).call(fn)

    async def run() -> Any:
        if face == "acall":
            return await policy.acall(afn)
        if face == "async decorator":
            return await policy(afn)()
        if face == "async with":
            async with policy:
                return await afn()
        assert face == "async pipeline"
        return await Pipeline(policy).acall(afn)

    return asyncio.run(run())


def outcome(policy: Any, face: str, fn: Callable[[], Any]) -> str:
    try:
        return f"returned {through(policy, face, fn)!r}"
    except Exception as exc:  # the outcome is what the test compares
        detail = f" {exc.retry_after}" if isinstance(exc, CircuitOpenError) else ""
        return f"raised {type(exc).__name__}{detail}"


def ok() -> str:
    return "ok"


def boom() -> None:
    raise Boom


def _missing() -> None:
    raise KeyError("ignored")


def breaker_story(face: str) -> list[object]:
    """Fill the window with successes (the lock-free fast path), fail on the fast path until it
    opens, be rejected, probe after the wait, fail the probe, probe again and close."""
    clock = FakeClock()
    seen: list[events.Event] = []
    breaker = CircuitBreaker(
        name="b",
        window_size=4,
        minimum_calls=4,
        failure_rate=50,
        wait=10,
        half_open_calls=1,
        ignore_on=KeyError,
        clock=clock,
        listeners=(seen.append,),
    )
    story: list[object] = []
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("s", ok),
        ("s", ok),
        ("s", ok),
        ("s", ok),  # the window is full of successes: the fast path from here
        ("i", _missing),  # ignored: neither success nor failure
        ("f", boom),
        ("f", boom),  # 2 of 4 failed: open
        ("s", ok),  # rejected, 10 s to wait
        ("wait", lambda: clock.advance(4)),
        ("s", ok),  # rejected, 6 s left
        ("wait", lambda: clock.advance(6)),
        ("f", boom),  # the probe fails: open again
        ("s", ok),  # rejected
        ("wait", lambda: clock.advance(10)),
        ("s", ok),  # the probe succeeds: closed
        ("s", ok),
    ]
    for kind, fn in steps:
        if kind == "wait":
            fn()
            continue
        story.append((kind, outcome(breaker, face, fn), breaker.state))
    story.append(breaker.metrics())
    story.extend(
        (type(e).__name__, getattr(e, "old", None), getattr(e, "new", None), e.policy) for e in seen
    )
    return story


@pytest.mark.parametrize("face", FACES)
def test_every_breaker_face_tells_the_same_story(face: str) -> None:
    """Fast path, recording path, rejection, probes and events agree across the faces."""
    expected = breaker_story("call")
    assert ("f", "raised Boom", "open") in expected
    assert ("s", "raised CircuitOpenError 6.0", "open") in expected
    assert expected[-1] == ("CircuitStateChanged", "half_open", "closed", "b")
    assert breaker_story(face) == expected


RESULT_FACES = [f for f in FACES if "with" not in f]  # a with-block has no result to judge


@pytest.mark.parametrize("face", RESULT_FACES)
def test_every_breaker_face_judges_results_alike(face: str) -> None:
    """failure_if_result counts a returned value as a failure in every face with a result."""
    breaker = CircuitBreaker(
        window_size=2,
        minimum_calls=2,
        failure_rate=100,
        failure_if_result=lambda r: r == "bad",
        clock=FakeClock(),
    )
    story = [outcome(breaker, face, lambda: "bad") for _ in range(3)]
    assert story == ["returned 'bad'", "returned 'bad'", "raised CircuitOpenError 60.0"]
    assert breaker.state == "open"


# -- retry ----------------------------------------------------------------------------------


class Flaky:
    def __init__(self, failures: int, exc: BaseException | None = None) -> None:
        self.failures = failures
        self.exc = exc or ConnectionError("down")
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc
        return f"ok after {self.calls}"


RETRY_FACES = [
    "call",
    "decorator",
    "attempts",
    "pipeline",
    "acall",
    "async decorator",
    "async attempts",
    "async pipeline",
]


def retry_through(retry: Retry, face: str, fn: Callable[[], Any]) -> str:
    """Like ``outcome``, with retry's with-block face: ``for attempt in retry: with attempt:``."""
    if face == "attempts":

        def block() -> Any:
            for attempt in retry:
                with attempt:
                    return fn()
            raise AssertionError("unreachable: the attempts return or raise")

        return outcome(None, "plain", block)
    if face == "async attempts":

        async def ablock() -> Any:
            async for attempt in retry:
                async with attempt:
                    return fn()
            raise AssertionError("unreachable: the attempts return or raise")

        return outcome(None, "plain", lambda: asyncio.run(ablock()))
    return outcome(retry, face, fn)


def retry_story(face: str, failures: int, attempts: int) -> list[object]:
    clock = FakeClock()
    seen: list[events.Event] = []
    hooked: list[tuple[int, float]] = []
    retry = Retry(
        name="r",
        attempts=attempts,
        delay=0.1,
        jitter="none",
        clock=clock,
        sleep=clock.sleep,
        asleep=clock.asleep,
        before_sleep=lambda n, w, e, r: hooked.append((n, w)),
        listeners=(seen.append,),
    )
    fn = Flaky(failures)
    story: list[object] = [retry_through(retry, face, fn), fn.calls, clock.slept, hooked]
    story.extend(
        (type(e).__name__, getattr(e, "attempt", None), getattr(e, "reason", None)) for e in seen
    )
    return story


@pytest.mark.parametrize("face", RETRY_FACES)
@pytest.mark.parametrize(("failures", "attempts"), [(0, 3), (2, 3), (5, 3), (1, 1)])
def test_every_retry_face_tells_the_same_story(face: str, failures: int, attempts: int) -> None:
    """Attempts, waits, hooks, events and the final outcome agree across the faces."""
    expected = retry_story("call", failures, attempts)
    assert retry_story(face, failures, attempts) == expected


def test_the_retry_story_is_the_documented_one() -> None:
    """The reference the faces are compared with: two failures, waits 0.1 and 0.2, success."""
    assert retry_story("call", 2, 3) == [
        "returned 'ok after 3'",
        3,
        [0.1, 0.2],
        [(1, 0.1), (2, 0.2)],
        ("RetryScheduled", 1, None),
        ("RetryScheduled", 2, None),
    ]
    assert retry_story("call", 5, 3)[:3] == ["raised ConnectionError", 3, [0.1, 0.2]]
    assert retry_story("call", 5, 3)[-1] == ("RetryGaveUp", None, "attempts")


@pytest.mark.parametrize("face", [f for f in RETRY_FACES if "attempts" not in f])
def test_every_retry_face_retries_results_alike(face: str) -> None:
    """retry_if_result: a result asking for a retry is retried, and the last one returned."""
    clock = FakeClock()
    answers = iter(["busy", "busy", "done"])
    retry = Retry(
        attempts=3,
        delay=0.1,
        jitter="none",
        retry_if_result=lambda r: r == "busy",
        sleep=clock.sleep,
        asleep=clock.asleep,
    )
    assert retry_through(retry, face, lambda: next(answers)) == "returned 'done'"
    assert clock.slept == [0.1, 0.2]
    given_up = Retry(
        attempts=2,
        delay=0.1,
        jitter="none",
        retry_if_result=lambda r: True,
        sleep=clock.sleep,
        asleep=clock.asleep,
    )
    assert retry_through(given_up, face, lambda: "still busy") == "returned 'still busy'"


@pytest.mark.parametrize("face", RETRY_FACES)
def test_a_retry_with_a_budget_or_deadline_counts_every_face(face: str) -> None:
    """The budget is deposited once per call in every face (the drivers' first step)."""
    from buttress.resilience import RetryBudget

    clock = FakeClock()
    budget = RetryBudget(ratio=0.0, min_per_second=0.0, clock=clock)
    retry = Retry(attempts=3, budget=budget, deadline=60, sleep=clock.sleep, asleep=clock.asleep)
    assert retry_through(retry, face, Flaky(1)) == "raised ConnectionError"  # no retry to spend
    assert budget.snapshot()["calls"] == 1
    assert budget.snapshot()["retries"] == 0


# -- fallback ---------------------------------------------------------------------------------


@pytest.mark.parametrize("face", RESULT_FACES)
def test_every_fallback_face_walks_the_chain_alike(face: str) -> None:
    """A failing call and a failing first handler end at the second handler, in every face."""
    used: list[events.Event] = []

    def first(*args: object) -> str:  # in a pipeline, a handler is given the stage's call
        raise Boom

    fallback = Fallback(first, Fallback.value("cached"), on=Boom, listeners=(used.append,))
    assert outcome(fallback, face, boom) == "returned 'cached'"
    assert [(type(e).__name__, getattr(e, "index", None)) for e in used] == [("FallbackUsed", 1)]


@pytest.mark.parametrize("face", RESULT_FACES)
def test_every_fallback_face_replaces_results_alike(face: str) -> None:
    """on_result: an empty answer, from the primary or a handler, goes on down the chain."""
    used: list[events.Event] = []
    fallback = Fallback(
        lambda *a: "",
        Fallback.value("default"),
        on_result=lambda r: r == "",
        listeners=(used.append,),
    )
    assert outcome(fallback, face, lambda: "") == "returned 'default'"
    assert outcome(fallback, face, lambda: "fresh") == "returned 'fresh'"
    assert [getattr(e, "index", None) for e in used] == [1]


# -- rate limiter -----------------------------------------------------------------------------


def limiter_story(face: str, kind: str) -> list[object]:
    from buttress.resilience import RateLimitedError, RateLimiter

    clock = FakeClock()
    seen: list[events.Event] = []
    limiter = getattr(RateLimiter, kind)(rate=2, per=1.0, clock=clock, listeners=(seen.append,))
    story: list[object] = []
    for step in range(4):
        try:
            story.append(through(limiter, face, ok))
        except RateLimitedError as exc:
            story.append(("limited", exc.retry_after, exc.key, exc.limit, exc.remaining))
        if step == 2:
            clock.advance(0.5)
    story.extend((type(e).__name__, getattr(e, "retry_after", None)) for e in seen)
    return story


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("kind", ["token_bucket", "gcra"])
def test_every_limiter_face_grants_and_refuses_alike(face: str, kind: str) -> None:
    """Grants, the refusal's error (retry_after, key, limit, remaining) and the events agree."""
    expected = limiter_story("call", kind)
    assert expected[:2] == ["ok", "ok"]
    assert expected[2][0] == "limited"  # type: ignore[index]
    assert limiter_story(face, kind) == expected
