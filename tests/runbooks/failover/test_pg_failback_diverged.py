"""Failback of an old primary that diverged (written after the promotion) where pg_rewind is
impossible (wal_log_hints off, no checksums): `auto` re-clones it with pg_basebackup, `rewind`
stops with a message saying why and what to set."""

from __future__ import annotations

import pytest

from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.pg_failback import failback
from buttress.runbooks.failover.postgres import promote
from tests.backup.pg_cluster import Cluster
from tests.runbooks.failover.pg_pair import Pair, in_recovery, make_pair


def _diverged(pg_clusters: list[Cluster], rebuild: str) -> Pair:
    pair = make_pair(pg_clusters, wal_log_hints=False, rebuild=rebuild)
    promote(pair.config)  # no fence: the old primary goes on taking writes
    pair.primary.sql("CREATE TABLE diverged AS SELECT 1 AS n")
    pair.replica.sql("CREATE TABLE on_new AS SELECT 1 AS n")
    return pair


def test_failback_recloned_when_rewind_is_impossible(pg_clusters: list[Cluster]) -> None:
    """`rebuild: auto` falls back to a fresh pg_basebackup (the old data moved aside): the old
    primary becomes a standby with the new primary's data, not its diverged table."""
    pair = _diverged(pg_clusters, "auto")
    rebuilt = failback(pair.config)
    assert rebuilt.method == "pg_basebackup"
    assert "wal_log_hints is off" in rebuilt.why_not_rewind
    assert rebuilt.moved_aside
    assert in_recovery(pair.primary)
    assert pair.primary.value("SELECT to_regclass('on_new') IS NOT NULL")
    assert pair.primary.value("SELECT to_regclass('diverged') IS NULL")


def test_failback_stops_clearly_when_only_rewind_is_allowed(pg_clusters: list[Cluster]) -> None:
    """`rebuild: rewind` refuses with why pg_rewind cannot work and what to set instead; the
    old primary is left stopped, its data untouched."""
    pair = _diverged(pg_clusters, "rewind")
    with pytest.raises(FailoverError, match="wal_log_hints is off") as caught:
        failback(pair.config)
    assert "rebuild: clone" in str(caught.value)
    assert not pair.primary.running()
    pair.primary.start()
    assert pair.primary.value("SELECT to_regclass('diverged') IS NOT NULL")
