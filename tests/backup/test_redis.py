"""Redis against real servers: an RDB snapshot over the replication protocol, key counts read
from the RDB and checked against the server, a restore that a redis-server serves, keys that
expire in between, passwords, and files that are not RDBs."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
import redis

from buttress.backup.destinations import LocalDestination
from buttress.backup.engine import restore, restore_test, take_backup
from buttress.backup.errors import BackupError, RestoreError
from buttress.backup.pipeline import Settings
from buttress.backup.sources.rdb import RdbError, count_keys
from buttress.backup.sources.redis import TYPES, RedisSource, serve_rdb
from tests.backup.conftest import Keys
from tests.conftest import OwnRedis, wait_until


def _fill(client: redis.Redis) -> None:
    """Every type, big and small encodings, two databases, some keys with a TTL."""
    p = client.pipeline(transaction=False)
    for i in range(500):
        p.set(f"s:{i}", "v" * (i % 200))
    p.set("s:int", 12345)
    p.set("s:big", "x" * 100_000)
    p.rpush("l:small", *range(5))
    p.rpush("l:big", *[f"item-{i}" * 10 for i in range(2000)])
    p.sadd("set:int", *range(100))
    p.sadd("set:str", *[f"m{i}" for i in range(1000)])
    p.zadd("z:small", {"a": 1.5, "b": -2})
    p.zadd("z:big", {f"m{i}": i / 3 for i in range(500)})
    p.hset("h:small", mapping={"a": 1, "b": "two"})
    p.hset("h:big", mapping={f"f{i}": "v" * 100 for i in range(1000)})
    for i in range(100):
        p.xadd("st:1", {"n": i})
    p.set("ttl:1", "soon", ex=3600)
    p.execute()
    client.xgroup_create("st:1", "workers", id="0")
    client.xreadgroup("workers", "alice", {"st:1": ">"}, count=7)
    other = redis.Redis(port=client.connection_pool.connection_kwargs["port"], db=3)
    other.set("db3:a", 1)
    other.hset("db3:h", "f", "v")
    other.close()


@pytest.fixture
def quick_redis(own_redis: OwnRedis) -> OwnRedis:
    """A server that streams a snapshot at once (Redis 7 waits 5 s for more replicas first)."""
    redis.Redis(port=own_redis.port).config_set("repl-diskless-sync-delay", 0)
    return own_redis


def _live_counts(port: int) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    client = redis.Redis(port=port)
    for db_name in client.info("keyspace"):
        c = redis.Redis(port=port, db=int(str(db_name)[2:]))
        counts = {t: sum(1 for _ in c.scan_iter(_type=t)) for t in TYPES}
        out[str(db_name)] = {t: n for t, n in counts.items() if n}
        c.close()
    client.close()
    return out


def test_redis_backup_counts_restore_test_and_serving_the_restored_file(
    own_redis: OwnRedis, keys: Keys, settings: Settings, repo: LocalDestination, tmp_path: Path
) -> None:
    client = redis.Redis(port=own_redis.port)
    _fill(client)
    manifest = take_backup(RedisSource(own_redis.url), "cache", [repo], settings).manifest
    assert manifest.metadata["keys"] == _live_counts(own_redis.port)
    assert manifest.metadata["keys"]["db0"]["stream"] == 1
    assert manifest.metadata["volatile"] == {"db0": 1}
    assert manifest.source["server_version"].startswith("7.")
    test = restore_test(manifest, RedisSource(own_redis.url), repo, keys.identities)
    assert test.ok, test.problems
    where = restore(
        manifest, RedisSource(own_redis.url), repo, keys.identities, str(tmp_path / "r")
    )
    assert "redis-server --dir" in where
    with serve_rdb(tmp_path / "r" / "dump.rdb") as served:
        assert served.get("s:big") == client.get("s:big")
        assert served.lrange("l:big", 0, -1) == client.lrange("l:big", 0, -1)
        assert served.smembers("set:str") == client.smembers("set:str")
        assert served.zrange("z:big", 0, -1, withscores=True) == client.zrange(
            "z:big", 0, -1, withscores=True
        )
        assert served.hgetall("h:big") == client.hgetall("h:big")
        assert served.xrange("st:1") == client.xrange("st:1")
        assert served.xpending("st:1", "workers")["pending"] == 7
        assert 0 < served.ttl("ttl:1") <= 3600
    with pytest.raises(RestoreError, match="exists"):
        restore(manifest, RedisSource(own_redis.url), repo, keys.identities, str(tmp_path / "r"))
    client.close()


def test_keys_that_expire_before_the_restore_test_are_not_a_failure(
    quick_redis: OwnRedis, keys: Keys, settings: Settings, repo: LocalDestination
) -> None:
    """A key with a TTL may be gone when the snapshot is loaded; a key without one may not."""
    client = redis.Redis(port=quick_redis.port)
    client.set("stays", 1)
    client.set("goes", 1, px=1500)
    manifest = take_backup(RedisSource(quick_redis.url), "cache", [repo], settings).manifest
    assert manifest.metadata["keys"] == {"db0": {"string": 2}}
    wait_until(lambda: not client.exists("goes"), "the key with a TTL to expire")
    test = restore_test(manifest, RedisSource(quick_redis.url), repo, keys.identities)
    assert test.ok, test.problems
    source = RedisSource(quick_redis.url)
    recorded = {"keys": {"db0": {"string": 3}}, "volatile": {"db0": 1}}
    assert source.compare(recorded, {"keys": {"db0": {"string": 1}}}) == [
        "keys[db0]: 2 keys missing after restore, only 1 had an expiry"
    ]
    assert source.compare(recorded, {"keys": {"db0": {"string": 3, "hash": 1}}}) == [
        "keys[db0][hash]: backed up 0, restored 1"
    ]
    client.close()


def test_stock_tools_give_an_rdb_that_redis_server_loads(
    quick_redis: OwnRedis, keys: Keys, settings: Settings, repo: LocalDestination, tmp_path: Path
) -> None:
    """`cat rdb.* | age -d | zstd -d > dump.rdb`, then redis-server serves it."""
    client = redis.Redis(port=quick_redis.port)
    _fill(client)
    manifest = take_backup(RedisSource(quick_redis.url), "cache", [repo], settings).manifest
    folder = repo.root / "cache" / manifest.backup_id
    out = tmp_path / "stock" / "dump.rdb"
    out.parent.mkdir()
    script = f"cat {folder}/rdb.* | age -d -i {keys.path} | zstd -d -q > {out}"
    subprocess.run(["bash", "-o", "pipefail", "-c", script], check=True)
    with serve_rdb(out) as served:
        assert served.dbsize() == client.dbsize()
    client.close()


def test_redis_password_wrong_and_right(
    quick_redis: OwnRedis, settings: Settings, repo: LocalDestination
) -> None:
    """A protected server: the wrong password is refused clearly and never shown."""
    client = redis.Redis(port=quick_redis.port)
    client.set("k", "v")
    client.config_set("requirepass", "right-pw-3")
    try:
        bad = f"redis://:wrong-pw-4@127.0.0.1:{quick_redis.port}"
        with pytest.raises(BackupError) as caught:
            take_backup(RedisSource(bad), "cache", [repo], settings)
        assert "wrong-pw-4" not in str(caught.value)
        assert "invalid username-password" in str(caught.value).lower()
        good = f"redis://:right-pw-3@127.0.0.1:{quick_redis.port}"
        manifest = take_backup(RedisSource(good), "cache", [repo], settings).manifest
        assert manifest.metadata["keys"] == {"db0": {"string": 1}}
        assert "right-pw-3" not in manifest.to_json().decode()
    finally:
        redis.Redis(port=quick_redis.port, password="right-pw-3").config_set("requirepass", "")


def test_redis_unreachable_and_bad_dsn(settings: Settings, repo: LocalDestination) -> None:
    with pytest.raises(BackupError, match=r"redis redis://127\.0\.0\.1:1: .*(refused|connect)"):
        take_backup(RedisSource("redis://127.0.0.1:1"), "cache", [repo], settings)
    with pytest.raises(BackupError, match=r"expected redis://\[user:password@\]host:port"):
        RedisSource("http://127.0.0.1:6379")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"NOTREDIS0010", "no REDIS header"),
        (b"REDIS0099\xff", "newer than this reader knows"),
        (b"REDIS0010\xfe\x00\x00\x03key", "truncated"),
        (b"REDIS0010\x63\x01k", "value type 99"),
    ],
)
def test_files_that_are_not_rdbs_are_named(data: bytes, message: str) -> None:
    with pytest.raises(RdbError, match=message):
        count_keys(io.BytesIO(data))


def test_serving_a_damaged_snapshot_fails_clearly(tmp_path: Path) -> None:
    """redis-server refuses the file, and its own reason is passed on."""
    (tmp_path / "dump.rdb").write_bytes(b"REDIS0010garbage-garbage")
    with (
        pytest.raises(RestoreError, match="redis-server refused the snapshot"),
        serve_rdb(tmp_path / "dump.rdb"),
    ):
        pass
