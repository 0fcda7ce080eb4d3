"""Redis for the shared-state tests: the machine's server (fails, never skips, when it does
not answer) with a fresh key prefix per test, a 3-node Redis Cluster the session starts (fails,
never skips, when it cannot), and private redis-servers that a test may stop, slow down and
restart.

The ``store`` fixture runs each behaviour suite on both: the machine's Redis and the cluster."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from buttress.state import RedisStore
from tests.conftest import free_port

REDIS_URL = os.environ.get("BUTTRESS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} does not answer ({exc}); run scripts/check.sh")
    return REDIS_URL


class ClusterNodes:
    """Three redis-servers with ``--cluster-enabled yes`` joined into one cluster (no replicas),
    each owning a third of the slots."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.ports = _cluster_ports(3)
        self.url = f"redis://127.0.0.1:{self.ports[0]}/0"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            pytest.fail("redis-server/redis-cli are not installed; run scripts/check.sh")
        for port in self.ports:
            self.procs.append(
                subprocess.Popen(
                    [
                        server,
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(self.workdir / f"nodes-{port}.conf"),
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--daemonize",
                        "no",
                        "--dir",
                        str(self.workdir),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in self.ports:
            self._wait(partial(_ping, port))
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        created = subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if created.returncode != 0:
            pytest.fail(f"redis-cli --cluster create failed: {created.stdout}{created.stderr}")
        for port in self.ports:
            self._wait(partial(_cluster_ok, port))

    def _wait(self, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                if check():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the Redis Cluster on ports {self.ports} did not start")
            time.sleep(0.05)

    def kill(self, port: int) -> None:
        """Kill the node on ``port`` (SIGKILL: it answers nothing from now on)."""
        proc = self.procs[self.ports.index(port)]
        proc.kill()
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()
        self.procs = []


def _ping(port: int) -> bool:
    with redis.Redis(port=port, socket_timeout=1) as client:
        return bool(client.ping())


def _cluster_ok(port: int) -> bool:
    with redis.Redis(port=port, socket_timeout=1) as client:
        return b"cluster_state:ok" in client.execute_command("CLUSTER", "INFO")


def _cluster_ports(count: int) -> list[int]:
    """Ports P whose cluster bus port P + 10000 is free too."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port + 10000 > 65535 or port in ports:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterNodes]:
    """A 3-node Redis Cluster for the session (the test fails if it cannot start)."""
    nodes = ClusterNodes(tmp_path_factory.mktemp("redis-cluster"))
    nodes.start()
    yield nodes
    nodes.stop()


def is_cluster(url: str) -> bool:
    client = redis.Redis.from_url(url.replace("+cluster://", "://"), socket_timeout=5)
    try:
        return str(client.info("cluster").get("cluster_enabled")) == "1"
    finally:
        client.close()


def drop_prefix(url: str, prefix: str) -> None:
    if is_cluster(url):
        cluster: Any = RedisCluster.from_url(url.replace("+cluster://", "://"))  # untyped parts
        for key in list(cluster.scan_iter(match=f"{prefix}:*", count=1000)):
            cluster.delete(key)  # one key at a time: keys of several slots
        cluster.close()
        cluster.disconnect_connection_pools()
        return
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def prefix() -> str:
    return f"bt-test-{secrets.token_hex(4)}"


@pytest.fixture(params=["standalone", "cluster"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The machine's Redis, then a node of the session's cluster (found by detection)."""
    if request.param == "cluster":
        return str(request.getfixturevalue("redis_cluster").url)
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture
def store(store_url: str, prefix: str) -> Iterator[RedisStore]:
    """A store on each Redis under a prefix of its own (its keys deleted after)."""
    st = RedisStore(store_url, prefix=prefix, retry_interval=0.2, sync_interval=0.05)
    yield st
    st.close()
    drop_prefix(store_url, prefix)


def evalsha_calls(url: str) -> int:
    """EVALSHA commands the Redis at ``url`` has run (summed over the nodes of a cluster)."""
    if is_cluster(url):
        cluster: Any = RedisCluster.from_url(url)  # get_nodes is untyped
        try:
            stats = [cluster.info("commandstats", target_nodes=n) for n in cluster.get_nodes()]
        finally:
            cluster.close()
            cluster.disconnect_connection_pools()
    else:
        client = redis.Redis.from_url(url)
        stats = [client.info("commandstats")]
        client.close()
    return sum(int(s.get("cmdstat_evalsha", {}).get("calls", 0)) for s in stats)
