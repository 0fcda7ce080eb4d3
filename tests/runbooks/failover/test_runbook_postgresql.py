"""The ready PostgreSQL runbooks (``builtin:postgresql-*``) run by the engine on a real pair
under a canary load: ``postgresql-failover`` promotes the replica and repoints clients with no
acknowledged row lost; ``postgresql-failback`` rebuilds the old primary with pg_rewind, asks,
switches back and rebuilds the replica; run again on a pair already failed over, the failover
stops at its first step and changes nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from buttress.config import ButtressConfig, load
from buttress.runbooks.engine import Engine
from buttress.runbooks.failover.canary import Canary
from buttress.runbooks.recorder import MemoryRecorder
from tests.backup.pg_cluster import Cluster
from tests.runbooks.failover.pg_pair import Pair, dsn_file, in_recovery, make_pair, node


def _config(tmp_path: Path, pair: Pair, target: Path) -> ButtressConfig:
    nodes = {
        role: node(cluster).model_dump(mode="json", exclude_none=True)
        for role, cluster in (("primary", pair.primary), ("replica", pair.replica))
    }
    for role, cluster in (("primary", pair.primary), ("replica", pair.replica)):
        nodes[role]["dsn"] = cluster.dsn()  # as written (the dump masks it)
    orders = {**nodes, "fence": "read_only", "repoint": {"dsn_file": str(target)}}
    text = {
        "runbooks": {
            "files": ["builtin:postgresql-*"],
            "failover": {"postgresql": {"orders": orders}},
        }
    }
    (tmp_path / "buttress.yaml").write_text(json.dumps(text))  # YAML is a superset of JSON
    return load(tmp_path / "buttress.yaml")


def test_failover_then_failback_through_the_ready_runbooks(
    pg_clusters: list[Cluster], tmp_path: Path
) -> None:
    """Failover: every step succeeds, the replica takes writes, the DSN file names it and the
    canary lost nothing; a second failover is refused at `lag` (the replica is a primary now);
    failback: the old primary is rewound, the switch is confirmed, roles are as configured
    again and still nothing is lost."""
    target = tmp_path / "primary.dsn"
    pair = make_pair(pg_clusters, synchronous=True, wal_log_hints=True)
    dsn_file(target, pair.primary)
    config = _config(tmp_path, pair, target)
    failover = config.runbooks.get("postgresql-failover")
    plan = Engine(config, recorder=MemoryRecorder(), actor="test").plan(
        failover, {"pair": "orders"}
    )
    assert [p.name for p in plan if "rollback" not in p.path] == [
        "lag", "fence", "catch-up", "promote", "writable", "repoint", "first-write",
    ]  # fmt: skip
    assert [p.problems for p in plan if p.problems and p.name == "lag"] == []
    with Canary(target) as canary:
        canary.wait_acks(200)
        recorder = MemoryRecorder()
        started = time.monotonic()
        status = Engine(config, recorder=recorder, actor="test").run(
            failover, {"pair": "orders"}, run_id="fo-1"
        )
        assert status == "succeeded", {p: (s.status, s.error) for p, s in recorder.steps.items()}
        canary.wait_acks(len(canary.acks) + 100)
        new = pair.replica.dsn()
        assert target.read_text().strip() == new
        assert not in_recovery(pair.replica)
        assert canary.data_loss(new) == []  # measured while the canary goes on writing
        assert canary.failover_time(started, new) is not None
        by_name = {s.name: s for s in recorder.steps.values()}
        assert by_name["lag"].values["bytes"] >= 0
        assert by_name["first-write"].values["xid"]
        assert (
            0
            < by_name["first-write"].values.get("failover_seconds", -1)
            < time.monotonic() - started
        ), (by_name["first-write"].values, by_name["fence"].values)

        again = MemoryRecorder()
        refused = Engine(config, recorder=again, actor="test").run(
            failover, {"pair": "orders"}, run_id="fo-2"
        )
        assert refused == "failed"
        first = again.steps[again.order[0]]
        assert (first.name, first.status) == ("lag", "failed")
        assert "not a replica" in (first.error or "")
        assert len(again.order) == 1  # nothing after it ran, nothing to roll back

        back = MemoryRecorder(answers={"go-ahead": True})
        status = Engine(config, recorder=back, actor="test").run(
            config.runbooks.get("postgresql-failback"), {"pair": "orders"}, run_id="fb-1"
        )
        assert status == "succeeded", {p: (s.status, s.error) for p, s in back.steps.items()}
        canary.wait_acks(len(canary.acks) + 100)
    by_name = {s.name: s for s in back.steps.values()}
    assert by_name["go-ahead"].confirmation is not None
    assert by_name["rebuild-primary"].values["method"] == "pg_rewind"
    assert not in_recovery(pair.primary)
    assert in_recovery(pair.replica)
    assert target.read_text().strip() == pair.primary.dsn()
    assert canary.data_loss(pair.primary.dsn()) == []


def test_the_fence_is_never_undone_once_the_replica_was_promoted(
    pg_clusters: list[Cluster], tmp_path: Path
) -> None:
    """The rollback of the fence (postgresql.unfence) undoes it while the replica is a
    standby, and refuses once the replica was promoted: never two primaries."""
    from buttress.runbooks.actions import ActionContext, get_action, validate_params
    from buttress.runbooks.failover.errors import FailoverError

    target = tmp_path / "primary.dsn"
    pair = make_pair(pg_clusters)
    dsn_file(target, pair.primary)
    config = _config(tmp_path, pair, target)
    ctx = ActionContext(config=config, catalog=None, actor="test", run_id="r")

    def act(name: str, **given: object) -> dict[str, object]:
        spec = get_action(name)
        return spec.run(ctx, validate_params(spec, {"pair": "orders", **given}))

    act("postgresql.fence")
    assert pair.primary.value("SHOW default_transaction_read_only") == "on"
    assert act("postgresql.unfence") == {"unfenced": True}
    assert pair.primary.value("SHOW default_transaction_read_only") == "off"
    act("postgresql.fence")
    act("postgresql.promote", force=True)
    with pytest.raises(FailoverError, match="no longer a standby"):
        act("postgresql.unfence")
    assert pair.primary.value("SHOW default_transaction_read_only") == "on"
