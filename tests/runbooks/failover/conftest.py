"""The private servers of the failover tests: PostgreSQL clusters (``pg_clusters``), and a
Redis primary with its replica, redis-server processes on ports of their own."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from buttress.runbooks.failover.redis import RedisPair
from tests.backup.pg_cluster import pg_clusters
from tests.conftest import OwnRedis, free_port, wait_until
from tests.runbooks.failover.stall_proxy import StallProxy

__all__ = ["pg_clusters"]

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

    def wait_streaming(self, primary: OwnRedis, replica: OwnRedis) -> None:
        """Until ``primary`` streams to ``replica``: after a full sync it holds the stream
        back until the replica's first acknowledgement (up to a second later), even with
        its link up and the replica listed online. A probe key written must arrive."""
        writer, reader = self.client(primary), self.client(replica)
        try:
            writer.set("test:streaming", "1")
            wait_until(
                lambda: reader.get("test:streaming") == "1",
                f"redis on port {primary.port} to stream to its replica",
                timeout=30,
            )
            writer.delete("test:streaming")
            wait_until(lambda: reader.get("test:streaming") is None, "the probe's deletion")
        finally:
            writer.close()
            reader.close()


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
        servers.wait_streaming(primary, replica)
        yield servers
    finally:
        replica.stop()
        primary.stop()


@dataclass
class SentinelServers:
    """A pair watched by one Sentinel (``redis-server --sentinel``) as master ``cache``."""

    servers: RedisPairServers
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"


@pytest.fixture
def redis_sentinel(redis_pair: RedisPairServers, tmp_path: Path) -> Iterator[SentinelServers]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; run scripts/check.sh")
    port = free_port()
    conf = tmp_path / "sentinel.conf"  # Sentinel rewrites it: a file of its own
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor cache 127.0.0.1 {redis_pair.primary.port} 1\n"
        "sentinel down-after-milliseconds cache 5000\n"
        "sentinel failover-timeout cache 20000\n"
    )
    proc = subprocess.Popen(
        [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    sentinel = SentinelServers(redis_pair, port, proc)

    def knows_the_replica() -> bool:
        client = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
        try:
            replicas: list[Any] = client.sentinel_slaves("cache")
        except redis.RedisError:
            return False
        finally:
            client.close()
        for entry in replicas:
            # redis-py parses the reply into a dict (raw: a flat list of names and values)
            fields = (
                entry if isinstance(entry, dict) else dict(zip(*[iter(entry)] * 2, strict=True))
            )
            if fields.get("flags") == "slave" and fields.get("master-link-status") == "ok":
                return True
        return False

    try:
        wait_until(knows_the_replica, "the sentinel to discover the replica", timeout=30)
        yield sentinel
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[RedisPairServers, StallProxy]]:
    """A pair whose replication link runs through a proxy that can hold it (a partition)."""
    (tmp_path / "primary").mkdir()
    primary = OwnRedis(tmp_path / "primary", extra=FAST_SYNC)
    primary.start()
    proxy = StallProxy(primary.port)
    replica = start_replica(tmp_path / "replica", proxy.port)
    servers = RedisPairServers(primary, replica, RedisPair("cache", primary.url, replica.url))
    try:
        servers.wait_link_up(replica)
        servers.wait_streaming(primary, replica)
        yield servers, proxy
    finally:
        proxy.held.clear()
        replica.stop()
        primary.stop()
        proxy.close()


@pytest.fixture
def stalled(
    proxied: tuple[RedisPairServers, StallProxy],
) -> tuple[RedisPairServers, StallProxy]:
    """The proxied pair, its link held once 2 MB more were written."""
    servers, proxy = proxied
    proxy.held.set()
    client = servers.client(servers.primary)
    client.set("big", "x" * 2_000_000)
    client.close()
    return servers, proxy
