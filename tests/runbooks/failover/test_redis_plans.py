"""The dry-run plans say what each step would do and who answers, and change nothing."""

from __future__ import annotations

from dataclasses import replace

from buttress.runbooks.failover import redis_plans as steps
from tests.conftest import free_port
from tests.runbooks.failover.conftest import RedisPairServers


def test_plans_change_nothing(redis_pair: RedisPairServers) -> None:
    """Every plan runs against the live pair and leaves the roles, pause and keys alone."""
    pair = redis_pair.pair
    plans = [
        steps.plan_replication_status(pair),
        steps.plan_check_lag(pair),
        steps.plan_fence(pair),
        steps.plan_promote(pair),
        steps.plan_wait_writable(pair.replica, 5),
        steps.plan_reattach(pair),
        steps.plan_switchover(pair),
        steps.plan_sentinel_failover(pair),
        steps.plan_repoint(pair),
    ]
    assert all(plan.ready for plan in plans)
    assert "CLIENT PAUSE 30000 WRITE" in plans[2].actions[0]
    assert "REPLICAOF NO ONE" in plans[3].actions[1]
    assert redis_pair.role(redis_pair.primary) == "master"
    assert redis_pair.role(redis_pair.replica) == "slave"
    primary = redis_pair.client(redis_pair.primary)
    assert primary.dbsize() == 0
    primary.set("still", "writable")  # not paused


def test_a_plan_shows_an_unreachable_server_without_its_password(
    redis_pair: RedisPairServers,
) -> None:
    """A primary nobody listens for makes the plan not ready, its URL masked."""
    dead = f"redis://app:hunter2@127.0.0.1:{free_port()}/0"
    plan = steps.plan_promote(replace(redis_pair.pair, primary=dead, timeout=0.5))
    assert not plan.ready
    probe = plan.probes[0]
    assert not probe.reachable
    assert "hunter2" not in repr(plan)
    assert probe.server == f"redis://app:***@127.0.0.1:{dead.rsplit(':', 1)[1]}"
