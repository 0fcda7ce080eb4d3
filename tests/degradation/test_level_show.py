"""`buttress level show` says which level is in force now, why and since when: the override
(with its reason, actor, start and end), else the fleet's level from the replicas' reports on
Redis (naming the replica), else where the automatic level can be seen."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from buttress.cli import main
from buttress.config import load
from buttress.degradation.controller import DegradationController, build_levels
from buttress.state.redis_store import RedisStore
from tests.conftest import OwnRedis, start_server, wait_until

LEVELS = (
    "health:\n  degradation:\n    shared: {shared}\n    for: 0s\n"
    "    level: {{YELLOW: {{when: {{error_rate: 50}}}}, ORANGE: {{}}}}\n"
)


def test_show_names_the_override_in_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With an override, the first line gives its level, start, end, actor and reason."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "buttress.yaml").write_text(LEVELS.format(shared="false"))
    assert main(["level", "show"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("in force: no override holds: the automatic level is computed by")
    assert "GET /api/v1/level" in out
    assert main(["level", "set", "ORANGE", "--for", "1h", "--reason", "db failover"]) == 0
    capsys.readouterr()
    assert main(["level", "show"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("in force: ORANGE (override) since ")
    assert " UTC until " in first
    assert first.endswith(": db failover")
    assert " by cli:" in first
    assert main(["level", "show", "--json"]) == 0
    in_force = json.loads(capsys.readouterr().out)["in_force"]
    assert in_force["source"] == "override"
    assert in_force["level"] == "ORANGE"
    assert in_force["since"] < in_force["until"]


def test_show_gives_the_fleet_level_and_the_replica_that_reported_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    own_redis: OwnRedis,
) -> None:
    """With a shared level on Redis and no override, the most severe live report is shown."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "buttress.yaml").write_text(
        LEVELS.format(shared="true")
        + f"state: {{backend: redis, url: '{own_redis.url}', prefix: show}}\n"
    )
    config = load(tmp_path / "buttress.yaml")
    assert config.health.degradation is not None
    replica = DegradationController(build_levels(config.health.degradation), system_metrics=False)
    replica.register_metric("error_rate", lambda: 90.0)
    store = RedisStore(own_redis.url, prefix="show", sync_interval=0.05)
    replica.share(store)
    try:
        assert replica.evaluate().level == "YELLOW"
        assert replica._shared is not None
        member = replica._shared.member

        def shown() -> dict[str, object]:
            assert main(["level", "show", "--json"]) == 0
            in_force: dict[str, object] = json.loads(capsys.readouterr().out)["in_force"]
            return in_force

        wait_until(lambda: shown().get("level") == "YELLOW", "the replica's report")
        assert shown()["reported_by"] == member
        assert main(["level", "show"]) == 0
        first = capsys.readouterr().out.splitlines()[0]
        assert first.startswith("in force: at least YELLOW (fleet level) since ")
        assert f" UTC, reported by replica {member}; 1 live replica report(s);" in first
    finally:
        if replica._shared is not None:
            replica._shared.close()
        store.close()


def test_show_gives_since_when_the_fleet_level_holds(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    own_redis: OwnRedis,
) -> None:
    """The fleet level's "since" is when a report changed it (Redis's clock, pinned here),
    not when it was last reported: the same level reported again keeps its start."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "buttress.yaml").write_text(
        LEVELS.format(shared="true")
        + f"state: {{backend: redis, url: '{own_redis.url}', prefix: since}}\n"
    )
    config = load(tmp_path / "buttress.yaml")
    assert config.health.degradation is not None
    monotonic = [0.0]
    replica = DegradationController(
        build_levels(config.health.degradation), system_metrics=False, clock=lambda: monotonic[0]
    )
    error_rate = [90.0]
    replica.register_metric("error_rate", lambda: error_rate[0])
    store = RedisStore(own_redis.url, prefix="since", sync_interval=0.05)
    started = float(int(time.time()) - 1)  # whole seconds: the text shows seconds
    pinned = [started]
    store.pinned_time = lambda: pinned[0]
    replica.share(store, ttl=600.0)  # the reports outlive the pinned clock's lag behind Redis's

    def shown() -> dict[str, object]:
        assert main(["level", "show", "--json"]) == 0
        in_force: dict[str, object] = json.loads(capsys.readouterr().out)["in_force"]
        return in_force

    def iso(seconds: float) -> str:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()

    try:
        assert replica.evaluate().level == "YELLOW"
        wait_until(lambda: shown() == {**shown(), "level": "YELLOW", "since": iso(started)})
        pinned[0] = started + 30  # later rounds report YELLOW again, 30 s "later"
        rounds = store.agent.rounds
        wait_until(lambda: store.agent.rounds >= rounds + 3, "three more report rounds")
        assert shown()["since"] == iso(started)
        assert main(["level", "show"]) == 0
        first = capsys.readouterr().out.splitlines()[0]
        moment = dt.datetime.fromtimestamp(started, dt.UTC)
        assert first.startswith(
            f"in force: at least YELLOW (fleet level) since {moment:%Y-%m-%d %H:%M:%S} UTC, "
        )
        error_rate[0] = 0.0
        replica.evaluate()  # the triggers clear: the cooldown starts
        monotonic[0] = 10_000.0  # and is over
        assert replica.evaluate().level == "GREEN"
        wait_until(lambda: shown().get("level") == "GREEN", "the fleet back to GREEN")
        assert shown()["since"] == iso(started + 30)
    finally:
        if replica._shared is not None:
            replica._shared.close()
        store.close()


def test_show_asks_a_running_server_for_the_automatic_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --server and $BUTTRESS_TOKEN, the automatic level, why and since when come from
    the server; without the token the error says what to set."""
    config = tmp_path / "buttress.yaml"
    config.write_text(
        "health:\n  window: 1\n  checks:\n"
        "    - {name: payments, type: tcp, host: 127.0.0.1, port: 1,\n"
        "       interval: 100ms, timeout: 100ms}\n"
        "  degradation:\n    evaluate_every: 100ms\n    for: 0s\n"
        "    level: {YELLOW: {when: {health_score: 60}}}\n"
    )
    server = start_server(tmp_path / "data", env={"BUTTRESS_CONFIG": str(config)})
    try:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("BUTTRESS_CONFIG", str(config))
        monkeypatch.delenv("BUTTRESS_TOKEN", raising=False)
        data = ["--data-dir", str(tmp_path / "data")]
        assert main([*data, "level", "show", "--server", server.url]) == 1
        assert "set $BUTTRESS_TOKEN" in capsys.readouterr().err
        assert server.admin_token is not None
        monkeypatch.setenv("BUTTRESS_TOKEN", server.admin_token)

        token = server.admin_token

        def first_line() -> str:
            assert main([*data, "level", "show", "--server", server.url]) == 0
            out = capsys.readouterr().out
            assert token not in out
            return out.splitlines()[0]

        wait_until(lambda: first_line().startswith("in force: YELLOW"), "YELLOW from the check")
        line = first_line()
        assert line.startswith("in force: YELLOW (automatic YELLOW) since ")
        assert line.endswith(f"UTC: health_score < 60 (from {server.url})")
    finally:
        server.stop()
