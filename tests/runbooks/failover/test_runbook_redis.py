"""The ready Redis runbooks (``builtin:redis-failover``) run by the engine on two real
redis-servers under a canary writing with ``WAIT 1``: ``redis-failover`` promotes the
replica, repoints clients (a URL file) and re-attaches the old primary, with no acknowledged
write lost; ``redis-failback`` asks, then switches back to the configured primary."""

from __future__ import annotations

import json
from pathlib import Path

from buttress.config import load
from buttress.runbooks.engine import Engine
from buttress.runbooks.failover.redis_canary import RedisCanary
from buttress.runbooks.recorder import MemoryRecorder
from tests.runbooks.failover.conftest import RedisPairServers


def test_failover_then_failback_through_the_ready_runbooks(
    redis_pair: RedisPairServers, tmp_path: Path
) -> None:
    """Roles swap, the URL file names the new primary, nothing acknowledged is lost; after
    the confirmed failback the configured primary is the primary again."""
    servers = redis_pair
    url_file = tmp_path / "redis.url"
    cache = {
        "primary": servers.primary.url,
        "replica": servers.replica.url,
        "fence": "pause",
        "repoint": {"type": "url_file", "path": str(url_file)},
    }
    settings = {"runbooks": {"files": ["builtin:redis-*"], "failover": {"redis": {"cache": cache}}}}
    (tmp_path / "buttress.yaml").write_text(json.dumps(settings))
    config = load(tmp_path / "buttress.yaml")
    urls = [servers.primary.url, servers.replica.url]
    with RedisCanary(urls, wait_replicas=1) as canary:
        while len(canary.acknowledged) < 200:
            canary._stop.wait(0.01)
        recorder = MemoryRecorder()
        status = Engine(config, recorder=recorder, actor="test").run(
            config.runbooks.get("redis-failover"), {"pair": "cache"}, run_id="fo"
        )
        assert status == "succeeded", {s.name: (s.status, s.error) for s in recorder.steps.values()}
        assert servers.role(servers.replica) == "master"
        assert servers.role(servers.primary) == "slave"
        assert url_file.read_text().strip() == servers.replica.url
        assert canary.data_loss(servers.replica.url) == []
        back = MemoryRecorder(answers={"go-ahead": True})
        status = Engine(config, recorder=back, actor="test").run(
            config.runbooks.get("redis-failback"), {"pair": "cache"}, run_id="fb"
        )
        assert status == "succeeded", {s.name: (s.status, s.error) for s in back.steps.values()}
    assert servers.role(servers.primary) == "master"
    assert servers.role(servers.replica) == "slave"
    assert canary.data_loss(servers.primary.url) == []
    assert len(canary.acknowledged) > 200
