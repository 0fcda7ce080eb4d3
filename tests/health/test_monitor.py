"""The score formula, readiness, history, status-change events, and a monitor watching a
redis-server the test stops and restarts: the score falls, readiness goes, both come back."""

from __future__ import annotations

import asyncio
import datetime as dt
import pathlib
import sys
import time
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from buttress import events
from buttress.health import (
    Check,
    CheckResult,
    CheckStatusChanged,
    HealthMonitor,
    Status,
    run_check,
    score,
)
from buttress.health.checks.base import importing
from buttress.health.checks.custom import custom
from buttress.health.checks.redis import redis
from tests.conftest import OwnRedis

NOW = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)


def _result(name: str, status: Status) -> CheckResult:
    return CheckResult(name, status, 0.01, str(status), NOW)


def test_score_examples() -> None:
    """Weighted mean of recent availability (up 1, degraded 0.5, down 0)."""
    assert score([]) is None
    assert score([(1, None)]) is None  # not run yet: not counted
    assert score([(1, 1.0), (1, 0.0)]) == 50.0
    assert score([(3, 1.0), (1, 0.0)]) == 75.0
    assert score([(2, 0.5), (0, 0.0)]) == 50.0  # a weight of 0 does not count


@given(st.lists(st.tuples(st.floats(0, 10), st.floats(0, 1)), min_size=1, max_size=20))
def test_score_is_between_0_and_100(parts: list[tuple[float, float]]) -> None:
    value = score(parts)
    if sum(w for w, _ in parts) > 0:
        assert value is not None
        assert 0 <= value <= 100
    else:
        assert value is None


def test_monitor_history_window_readiness_and_events() -> None:
    seen: list[events.DomainEvent] = []
    sub = events.subscribe(events.DomainEvent, seen.append)
    try:
        ok = Check("cache", "custom", custom(lambda: True), weight=1)
        db = Check("db", "custom", custom(lambda: True), weight=3, critical=True)
        monitor = HealthMonitor([ok, db], history=4, window=2)
        assert monitor.score() is None
        assert not monitor.ready()  # a critical check that never ran is not ready
        for status in (Status.UP, Status.DOWN, Status.DOWN, Status.UP, Status.DOWN):
            monitor.record(_result("db", status))
        monitor.record(_result("cache", Status.DEGRADED))
        snap = monitor.snapshot()
        db_view = next(c for c in snap.checks if c.name == "db")
        assert len(db_view.history) == 4  # bounded
        assert db_view.availability == 0.5  # last 2: up, down
        assert snap.score == round(100 * (3 * 0.5 + 1 * 0.5) / 4, 1)
        assert not snap.ready
        changes = [e for e in seen if isinstance(e, CheckStatusChanged) and e.check == "db"]
        assert [(e.old, e.new) for e in changes] == [
            (None, "up"),
            ("up", "down"),
            ("down", "up"),
            ("up", "down"),
        ]
        assert changes[0].critical
    finally:
        events.unsubscribe(sub)


def test_duplicate_names_are_refused() -> None:
    check = Check("a", "custom", custom(lambda: True))
    with pytest.raises(ValueError, match="must be unique: a"):
        HealthMonitor([check, check])


def test_a_stopped_redis_lowers_the_score_and_readiness_then_recovers(
    own_redis: OwnRedis,
) -> None:
    async def scenario() -> None:
        cache = Check("cache", "redis", redis(own_redis.url, 0.5), interval=0.1, timeout=0.5,
                      critical=True)  # fmt: skip
        other = Check("other", "custom", custom(lambda: True), interval=0.1)
        monitor = HealthMonitor([cache, other], window=3)
        monitor.start()
        try:
            await _until(lambda: monitor.score() == 100.0, "score 100 at start")
            assert monitor.ready()
            own_redis.stop()
            await _until(lambda: not monitor.ready(), "not ready once redis is down")
            await _until(lambda: monitor.score() == 50.0, "score 50 with redis down")
            own_redis.start()
            await _until(lambda: monitor.ready() and monitor.score() == 100.0, "recovered")
        finally:
            await monitor.stop()

    asyncio.run(scenario())


async def _until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        await asyncio.sleep(0.05)


def test_each_checks_latency_is_its_own_when_checks_run_side_by_side(
    tmp_path: pathlib.Path,
) -> None:
    """A check that keeps the event loop busy (as building an SSL context or importing a driver
    does) is not counted in the latency of the checks beside it, in run_once and when the
    monitor runs each check on its interval."""
    from buttress.health.checks.disk import disk

    async def hog() -> str:
        time.sleep(0.2)  # holds the event loop, as CPU work does
        return "done"

    checks = [
        Check(name="hog", kind="custom", probe=hog, interval=0.05, timeout=5),
        Check(name="disk", kind="disk", probe=disk(str(tmp_path)), interval=0.05, timeout=5),
    ]
    monitor = HealthMonitor(checks)
    by_name = {r.name: r for r in asyncio.run(monitor.run_once())}
    assert by_name["hog"].latency >= 0.2
    assert by_name["disk"].latency < by_name["hog"].latency / 4

    async def watch() -> None:
        monitor.start()
        while len([s for s in monitor.snapshot().checks if len(s.history) >= 3]) < 2:
            await asyncio.sleep(0.05)
        await monitor.stop()

    asyncio.run(watch())
    snapshot = {c.name: c for c in monitor.snapshot().checks}
    disk_ms = max(r.latency_ms for r in snapshot["disk"].history)
    hog_ms = min(r.latency_ms for r in snapshot["hog"].history)
    assert disk_ms < hog_ms / 4


def test_the_first_result_does_not_count_the_probes_setup(tmp_path: pathlib.Path) -> None:
    """What a probe sets up on first use (importing its driver) happens before its timer:
    the first result after a start is not an outlier."""
    (tmp_path / "slow_driver.py").write_text("import time\ntime.sleep(0.3)\n")
    sys.path.insert(0, str(tmp_path))
    try:

        async def probe() -> str:
            import slow_driver  # type: ignore[import-not-found]  # noqa: F401  # written above

            return "ok"

        check = Check(name="db", kind="custom", probe=probe, prepare=importing("slow_driver"))
        first = asyncio.run(run_check(check))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("slow_driver", None)
    assert first.status is Status.UP
    assert first.latency < 0.3 / 4
