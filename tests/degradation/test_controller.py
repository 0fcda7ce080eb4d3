"""The `health.degradation` section and the controller: levels built from YAML, bad settings
named; metrics sampled, the level moved, flags, an event and hooks on each change; overrides;
request statistics; `flags.enabled` before and after."""

from __future__ import annotations

from pathlib import Path

import pytest

from buttress import events, flags
from buttress.cli import main
from buttress.config import DegradationConfig, load
from buttress.degradation.controller import (
    DegradationController,
    LevelChanged,
    RequestStats,
    build_levels,
)
from buttress.degradation.events import FlagChanged, OverrideCleared, OverrideSet

SHOP = """
health:
  degradation:
    levels: traffic_light
    for: 0s
    cooldown: 10s
    metrics: [queue_depth]
    features: [recommendations, analytics, exports, checkout]
    limits: {orders_per_minute: 5000, search_complexity: full}
    level:
      YELLOW:
        when: {cpu_usage: 70, response_time_p95: 2000ms, health_score: 80}
        disable: [recommendations, analytics]
      ORANGE:
        when: {cpu_usage: 85, queue_depth: {above: 1000}}
        for: 5s
        limits: {orders_per_minute: 500, search_complexity: basic, payment_methods: [card_only]}
      RED:
        when: {error_rate: 20}
        enable_only: [checkout]
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def config(tmp_path: Path) -> DegradationConfig:
    (tmp_path / "buttress.yaml").write_text(SHOP)
    degradation = load(tmp_path / "buttress.yaml").health.degradation
    assert degradation is not None
    return degradation


def test_levels_from_yaml(config: DegradationConfig) -> None:
    levels = build_levels(config)
    assert levels.names == ("GREEN", "YELLOW", "ORANGE", "RED")
    yellow = levels.levels[1]
    assert {t.describe() for t in yellow.triggers} == {
        "cpu_usage > 70", "response_time_p95 > 2", "health_score < 80",
    }  # fmt: skip
    assert levels.levels[2].hold == 5.0
    assert levels.levels[2].cooldown == 10.0
    assert levels.limits(2)["payment_methods"] == ["card_only"]
    assert levels.limits(0) == {"orders_per_minute": 5000, "search_complexity": "full"}
    assert levels.disabled(3) == {"recommendations", "analytics", "exports"}


def test_controller_moves_flags_events_and_hooks(config: DegradationConfig) -> None:
    clock = Clock()
    cpu = {"value": 10.0}
    seen: list[events.DomainEvent] = []
    hooked: list[LevelChanged] = []
    sub = events.subscribe(events.DomainEvent, seen.append)
    try:
        c = DegradationController(
            build_levels(config),
            system_metrics=False,
            clock=clock,
        )
        c.register_metric("cpu_usage", lambda: cpu["value"])
        c.register_metric("queue_depth", lambda: None)
        c.add_hook(hooked.append)
        assert c.evaluate().level == "GREEN"
        assert flags.enabled("recommendations")
        assert flags.limit("orders_per_minute") == 5000
        cpu["value"] = 75
        clock.now += 1
        assert c.evaluate().level == "YELLOW"
        assert not flags.enabled("recommendations")
        assert flags.enabled("checkout")
        assert not flags.enabled("never-declared")  # unknown features are off (and warned)
        assert flags.level() == "YELLOW"
        changed = [e for e in seen if isinstance(e, LevelChanged)]
        assert [(e.old, e.new, e.cause) for e in changed] == [("GREEN", "YELLOW", "automatic")]
        assert changed[0].reasons == ("cpu_usage > 70",)
        assert hooked == changed
        c.set_override("RED", "db failover", 60, actor="cli:ops")
        assert flags.level() == "RED"
        assert not flags.enabled("exports")
        snap = c.snapshot()
        assert snap.override is not None
        assert snap.override.reason == "db failover"
        assert snap.automatic == "YELLOW"
        assert snap.features == {
            "analytics": False, "checkout": True, "exports": False, "recommendations": False,
        }  # fmt: skip
        clock.now += 61
        assert c.evaluate().level == "YELLOW"  # the override expired
        assert [e.cause for e in seen if isinstance(e, LevelChanged)][-2:] == [
            "override", "override_ended",
        ]  # fmt: skip
        with pytest.raises(ValueError, match="positive duration"):
            c.set_override("RED", "x", 0)
    finally:
        events.unsubscribe(sub)
        c.close()
        flags.publish(None, frozenset(), {})


def test_request_stats() -> None:
    clock = Clock()
    stats = RequestStats(window=10, clock=clock)
    assert stats.error_rate() is None
    for i in range(100):
        stats.record(i / 100, error=i % 10 == 0)
    assert stats.error_rate() == 10.0
    assert stats.p95() == 0.95
    clock.now += 11
    assert stats.p95() is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("levels: rainbow", "unknown preset 'rainbow'"),
        ("level: {PURPLE: {disable: [x]}}", "level 'PURPLE' is not one of the levels"),
        ("level: {YELLOW: {when: {cpu: 70}}}", "unknown metric 'cpu'"),
        ("level: {YELLOW: {when: {cpu_usage: -1}}}", "must not be negative"),
        ("level: {YELLOW: {disable: [a], enable_only: [a]}}", "a both disabled and enabled"),
        ("level: {GREEN: {when: {cpu_usage: 5}}}", "cannot have triggers"),
        ("level: {YELLOW: {when: {cpu_usage: {above: 1, below: 2}}}}", "exactly one of"),
        ("features: [a]\n    level: {YELLOW: {disable: [b]}}", "unknown feature b"),
        ("levels: [ONLY]", "at least two distinct names"),
    ],
)
def test_bad_degradation_settings_are_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    body: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "buttress.yaml").write_text(f"health:\n  degradation:\n    {body}\n")
    assert main(["config", "check"]) == 2
    err = capsys.readouterr().err
    assert "buttress.yaml:3:" in err
    assert message in err


HOOKED: list[LevelChanged] = []


def record_hook(event: LevelChanged) -> None:
    HOOKED.append(event)


def test_hooks_from_yaml(tmp_path: Path) -> None:
    """`hooks: [module:function]` are called with every change; bad ones are named."""
    from buttress.degradation.embed import controller_from_config
    from buttress.errors import ConfigError, UsageError

    (tmp_path / "buttress.yaml").write_text(
        "health:\n  degradation:\n    hooks: ['tests.degradation.test_controller:record_hook']\n"
    )
    controller = controller_from_config(load(tmp_path / "buttress.yaml"), None, None)
    try:
        # the hook is a subscription to LevelChanged on the bus
        (sub,) = controller.subscriptions
        assert (sub.event_type, sub.handler) == (LevelChanged, record_hook)
        controller.set_override("RED", "hook test", 60)
        assert [(e.new, e.cause) for e in HOOKED[-1:]] == [("RED", "override")]
        controller.close()  # ends the hooks' subscriptions
        assert not sub.active
        heard = len(HOOKED)
        controller.clear_override()
        assert len(HOOKED) == heard
    finally:
        controller.close()
        flags.publish(None, frozenset(), {})
    (tmp_path / "buttress.yaml").write_text("health:\n  degradation:\n    hooks: [nocolon]\n")
    with pytest.raises(ConfigError, match="hooks: expected `module:function`"):
        load(tmp_path / "buttress.yaml")
    (tmp_path / "buttress.yaml").write_text(
        "health:\n  degradation:\n    hooks: ['no_such_module:f']\n"
    )
    with pytest.raises(UsageError, match="degradation hook: cannot load 'no_such_module:f'"):
        controller_from_config(load(tmp_path / "buttress.yaml"), None, None)


def test_a_failing_metric_holds_nothing_and_is_logged_once_per_outage(
    config: DegradationConfig, caplog: pytest.LogCaptureFixture
) -> None:
    broken = {"yes": True}

    def queue_depth() -> float:
        if broken["yes"]:
            raise RuntimeError("queue unreachable")
        return 5.0

    c = DegradationController(build_levels(config), system_metrics=False, clock=Clock())
    c.register_metric("queue_depth", queue_depth)
    try:
        for _ in range(3):
            c.evaluate()
        assert c.last_metrics["queue_depth"] is None
        assert caplog.text.count("degradation metric queue_depth failed") == 1
        broken["yes"] = False
        c.evaluate()
        assert c.last_metrics["queue_depth"] == 5.0
        broken["yes"] = True
        c.evaluate()  # a new outage is reported again
        assert caplog.text.count("degradation metric queue_depth failed") == 2
    finally:
        flags.publish(None, frozenset(), {})


def test_overrides_and_flags_are_events_and_a_raising_hook_is_logged_once(
    config: DegradationConfig, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    seen: list[events.DomainEvent] = []
    c = DegradationController(build_levels(config), system_metrics=False, clock=clock)

    def broken(event: LevelChanged) -> None:
        raise RuntimeError("the pager is down")

    hooked: list[LevelChanged] = []
    c.add_hook(broken)
    c.add_hook(hooked.append)  # runs although the hook before it raised
    try:
        with events.subscribe(events.DomainEvent, seen.append):
            c.set_override("RED", "db failover", 60, actor="cli:ops")
            c.clear_override(actor="cli:ops")
            c.set_override("YELLOW", "again", 60)
    finally:
        c.close()
        flags.publish(None, frozenset(), {})
    kinds = [type(e).__name__ for e in seen]
    assert kinds[:2] == ["OverrideSet", "LevelChanged"]
    assert seen[0] == OverrideSet("RED", 60, "db failover", "cli:ops")
    assert OverrideCleared("RED", "cli:ops") in seen
    # GREEN -> RED turned every feature but checkout off; RED -> GREEN on again
    flips = [(e.feature, e.enabled, e.level) for e in seen if isinstance(e, FlagChanged)]
    assert flips[:3] == [
        ("analytics", False, "RED"), ("exports", False, "RED"), ("recommendations", False, "RED"),
    ]  # fmt: skip
    assert ("exports", True, "GREEN") in flips
    assert [(e.old, e.new) for e in hooked] == [
        ("GREEN", "RED"),
        ("RED", "GREEN"),
        ("GREEN", "YELLOW"),
    ]
    failures = [r for r in caplog.records if "failed (reported once)" in r.getMessage()]
    assert len(failures) == 1  # three changes, one log line
    assert "broken" in failures[0].getMessage()
