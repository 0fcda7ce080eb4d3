"""A Redis primary and its replica, private redis-server processes on ports of their own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from buttress.runbooks.failover.redis import RedisPair
from tests.conftest import OwnRedis, wait_until

# a full sync starts at once (Redis waits 5 s by default for more replicas to share it)
FAST_SYNC = ("--repl-diskless-sync-delay", "0")


@dataclass
class RedisPairServers:
    """The two servers and the pair the failover steps are given."""

    primary: OwnRedis
    replica: OwnRedis
    pair: RedisPair

    def client(self, server: OwnRedis) -> redis.Redis:
        return redis.Redis(port=server.port, socket_timeout=5, decode_responses=True)

    def role(self, server: OwnRedis) -> str:
        client = self.client(server)
        try:
            return str(client.info("replication")["role"])
        finally:
            client.close()

    def wait_link_up(self, replica: OwnRedis) -> None:
        def up() -> bool:
            client = self.client(replica)
            try:
                return client.info("replication").get("master_link_status") == "up"
            finally:
                client.close()

        wait_until(up, f"redis replica on port {replica.port} to sync", timeout=30)


def start_replica(workdir: Path, primary_port: int) -> OwnRedis:
    """A redis-server replicating from ``primary_port`` (synced when returned: no)."""
    workdir.mkdir(exist_ok=True)
    server = OwnRedis(workdir, extra=(*FAST_SYNC, "--replicaof", "127.0.0.1", str(primary_port)))
    server.start()
    return server


@pytest.fixture
def redis_pair(tmp_path: Path) -> Iterator[RedisPairServers]:
    (tmp_path / "primary").mkdir()
    primary = OwnRedis(tmp_path / "primary", extra=FAST_SYNC)
    primary.start()
    replica = start_replica(tmp_path / "replica", primary.port)
    servers = RedisPairServers(
        primary, replica, RedisPair("cache", primary.url, replica.url, sync_timeout=30.0)
    )
    try:
        servers.wait_link_up(replica)
        yield servers
    finally:
        replica.stop()
        primary.stop()
