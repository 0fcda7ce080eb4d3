"""The dry-run plans of the failover steps: what each would do and what stands in its way,
changing nothing."""

from __future__ import annotations

from pathlib import Path

from buttress.config._failover_pg import RepointDsnFileConfig
from buttress.runbooks.failover.pg_failback import plan_failback
from buttress.runbooks.failover.postgres import plan_failover
from tests.backup.pg_cluster import Cluster
from tests.runbooks.failover.pg_pair import in_recovery, make_pair, node


def test_plan_of_a_healthy_pair_has_no_problem_and_changes_nothing(
    pg_clusters: list[Cluster], tmp_path: Path
) -> None:
    """Every step of a healthy pair's failover plan is fine; the replica is still a standby,
    the primary still writable, the DSN file not written."""
    target = tmp_path / "primary.dsn"
    pair = make_pair(pg_clusters, fence="stop", repoint=RepointDsnFileConfig(dsn_file=target))
    plans = plan_failover(pair.config)
    assert [p.step for p in plans] == ["check_lag", "fence", "promote", "wait_writable", "repoint"]
    assert all(p.ok for p in plans), [p.problems for p in plans]
    assert in_recovery(pair.replica)
    pair.primary.sql("CREATE TABLE still_writable (n int)")
    assert not target.exists()


def test_plan_names_an_unreachable_replica_and_an_impossible_rewind(
    pg_clusters: list[Cluster],
) -> None:
    """A replica that is down is a problem of the lag and promote plans (named without its
    password); failback's plan says pg_rewind is impossible when only rewind is allowed."""
    pair = make_pair(pg_clusters, rebuild="rewind")
    pair.replica.stop()
    down = pair.config.model_copy(update={"replica": node(pair.replica, password="pw-xyz")})
    plans = {p.step: p for p in plan_failover(down)}
    assert not plans["check_lag"].ok
    assert not plans["promote"].ok
    assert "is unreachable" in plans["promote"].problems[0]
    assert "pw-xyz" not in repr(plans)
    pair.replica.start()
    pair.replica.sql("SELECT pg_promote()")
    failback_plan = plan_failback(pair.config)
    assert any("pg_rewind impossible" in p for p in failback_plan.problems)
