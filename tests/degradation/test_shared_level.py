"""The degradation level shared through Redis: a replica that runs hot raises every other one
(measured, in two processes), the fleet comes down when it cools off or dies, and without
Redis each process follows its own level."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from buttress import flags
from buttress.degradation.controller import DegradationController
from buttress.degradation.levels import Level, Levels, Trigger
from buttress.state.redis_store import RedisStore
from tests.conftest import OwnRedis, wait_until


def _levels() -> Levels:
    return Levels(
        [
            Level("GREEN"),
            Level("YELLOW", (Trigger("cpu_usage", 70),), hold=0, cooldown=0,
                  disable=frozenset({"recommendations"})),
            Level("RED", (Trigger("cpu_usage", 95),), hold=0, cooldown=0),
        ]
    )  # fmt: skip


def _replica(url: str, cpu: dict[str, float], ttl: float = 5.0) -> DegradationController:
    controller = DegradationController(_levels(), system_metrics=False)
    controller.register_metric("cpu_usage", lambda: cpu["value"])
    controller.share(RedisStore(url, prefix="lvl", sync_interval=0.05), ttl=ttl)
    return controller


@pytest.fixture(autouse=True)
def reset_flags() -> Iterator[None]:
    yield
    flags.publish(None, frozenset(), {})


def test_the_hottest_replica_sets_the_fleet_level(own_redis: OwnRedis) -> None:
    hot, cool = {"value": 10.0}, {"value": 10.0}
    a, b = _replica(own_redis.url, hot, ttl=1.0), _replica(own_redis.url, cool, ttl=1.0)
    a.evaluate()
    b.evaluate()
    hot["value"] = 90
    assert a.evaluate().level == "YELLOW"
    waited = wait_until(lambda: b.state.level == "YELLOW", "the other replica to follow")
    assert b.state.automatic == "GREEN"
    assert b.state.reasons[0] == "another replica is at YELLOW"
    assert b.snapshot().fleet == "YELLOW"
    print(f"propagated in {waited * 1000:.1f} ms")
    hot["value"] = 10
    assert a.evaluate().level == "GREEN"
    wait_until(lambda: b.state.level == "GREEN", "the fleet to come down")
    hot["value"] = 99
    a.evaluate()
    wait_until(lambda: b.state.level == "RED", "RED")
    shared = a._shared
    assert shared is not None
    shared.store.agent.unregister(shared)  # the hot replica dies (stops reporting)
    b.evaluate()
    wait_until(lambda: b.state.level == "GREEN", "the dead replica's report to expire", timeout=5)
    b.set_override("RED", "test", 60)
    assert b.state.level == "RED"  # an override still wins


def test_without_redis_each_replica_follows_its_own_level(own_redis: OwnRedis) -> None:
    hot, cool = {"value": 90.0}, {"value": 10.0}
    a, b = _replica(own_redis.url, hot), _replica(own_redis.url, cool)
    a.evaluate()
    wait_until(lambda: b.state.level == "YELLOW", "sharing")
    own_redis.stop()
    wait_until(lambda: b.state.level == "GREEN", "B to fall back to its own level")
    assert a.evaluate().level == "YELLOW"
    own_redis.start()
    shared = a._shared
    assert shared is not None
    shared.report(2)  # any change is announced again once Redis answers
    shared.report(1)
    wait_until(lambda: b.state.level == "YELLOW", "sharing again")


def _child(url: str, ready: Any, go: Any, done: Any, seen: Any) -> None:
    cpu = {"value": 10.0}
    controller = _replica(url, cpu)
    controller.evaluate()
    ready.set()
    go.wait(30)
    cpu["value"] = 90
    controller.evaluate()
    done.put(time.time())
    seen.wait(30)  # alive until the parent has seen the level


def test_propagation_between_two_processes(own_redis: OwnRedis) -> None:
    """A level raised in one process reaches another process through Redis: measured."""
    ctx = multiprocessing.get_context("spawn")
    ready, go, done, seen = ctx.Event(), ctx.Event(), ctx.Queue(), ctx.Event()
    child = ctx.Process(target=_child, args=(own_redis.url, ready, go, done, seen))
    child.start()
    try:
        here = _replica(own_redis.url, {"value": 10.0})
        here.evaluate()
        assert ready.wait(30)
        samples = []
        go.set()
        changed_at = done.get(timeout=30)
        wait_until(lambda: here.state.level == "YELLOW", "the other process's level")
        samples.append(time.time() - changed_at)
        print(f"cross-process propagation: {samples[0] * 1000:.1f} ms")
        assert not flags.enabled("recommendations")
    finally:
        seen.set()
        child.join(timeout=10)
        if child.is_alive():
            child.kill()


def test_an_announced_override_reaches_other_replicas_at_once(own_redis: OwnRedis) -> None:
    """The catalog holds the override; the notice makes the others read it now, not at their
    next evaluation (nobody evaluates here)."""
    import datetime as dt
    from types import SimpleNamespace

    catalog: dict[str, object] = {"record": None}
    a, b = _replica(own_redis.url, {"value": 10.0}), _replica(own_redis.url, {"value": 10.0})
    for replica in (a, b):
        replica.follow_overrides(lambda: catalog["record"])
    # a notice sent before a listener has subscribed is lost (the next evaluation would catch
    # up; nothing evaluates here): wait for both listeners
    client = redis.Redis(port=own_redis.port)
    wait_until(lambda: client.pubsub_numsub("lvl:events")[0][1] >= 2, "both listeners")
    client.close()
    catalog["record"] = SimpleNamespace(
        level="RED", reason="failover", actor="api:ops",
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
    )  # fmt: skip
    started = time.monotonic()
    a.announce_override()
    wait_until(lambda: b.state.level == "RED", "the override to reach b")
    print(f"override propagated in {(time.monotonic() - started) * 1000:.1f} ms")
    assert b.state.override is not None
    assert b.state.override.reason == "failover"
    catalog["record"] = None
    a.announce_override()
    wait_until(lambda: b.state.level == "GREEN", "the override's end to reach b")


def test_the_cli_announces_overrides_when_levels_are_shared(
    own_redis: OwnRedis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`buttress level set/clear` with `shared: true` tell every listening process at once."""
    from buttress.cli import main
    from buttress.degradation.shared_level import SharedLevel

    heard: list[str] = []
    store = RedisStore(own_redis.url, prefix="cli", sync_interval=0.05)
    # kept referenced: the store's agent holds its members weakly
    member = SharedLevel(store, on_override=lambda: heard.append("override"))
    client = redis.Redis(port=own_redis.port)
    wait_until(lambda: client.pubsub_numsub("cli:events")[0][1] >= 1, "the listener")
    client.close()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "buttress.yaml").write_text(
        f"state: {{backend: redis, url: '{own_redis.url}', prefix: cli}}\n"
        "health: {degradation: {shared: true}}\n"
    )
    assert main(["level", "set", "RED", "--for", "5m", "--reason", "drill"]) == 0
    wait_until(lambda: heard == ["override"], "the announcement of the override")
    assert main(["level", "clear"]) == 0
    wait_until(lambda: heard == ["override", "override"], "the announcement of its end")
    member.close()
    store.close()
