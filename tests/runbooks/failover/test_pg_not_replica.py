"""Promoting a server that is not a replica is refused, naming it without its password."""

from __future__ import annotations

import pytest

from buttress.config._failover_pg import PostgresPairConfig
from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.postgres import promote
from tests.backup.pg_cluster import Cluster, make_cluster, owned_dir
from tests.runbooks.failover.pg_pair import in_recovery, node


def test_promoting_a_primary_is_refused_as_not_a_replica(pg_clusters: list[Cluster]) -> None:
    """A "replica" that runs as a primary is refused with "is not a replica"; the DSN in the
    message has its password masked, and the server is left as it was."""
    one = make_cluster(owned_dir("bt-fo-one-"))
    two = make_cluster(owned_dir("bt-fo-two-"))
    pg_clusters += [one, two]
    pair = PostgresPairConfig(primary=node(one), replica=node(two, password="s3cret-pw"))
    with pytest.raises(FailoverError, match="is not a replica") as caught:
        promote(pair)
    message = str(caught.value)
    assert "s3cret-pw" not in message
    assert f"postgres:***@127.0.0.1:{two.port}" in message
    assert not in_recovery(two)


def test_promoting_an_unreachable_replica_names_it(pg_clusters: list[Cluster]) -> None:
    """A replica that does not answer is refused as unreachable, named without password."""
    one = make_cluster(owned_dir("bt-fo-one-"))
    pg_clusters.append(one)
    down = node(one, password="s3cret-pw").model_copy(
        update={"dsn": f"postgresql://postgres:s3cret-pw@127.0.0.1:{one.port + 1}/postgres"}
    )
    pair = PostgresPairConfig(primary=node(one), replica=down)
    with pytest.raises(FailoverError, match="is unreachable") as caught:
        promote(pair)
    assert "s3cret-pw" not in str(caught.value)
