"""Connecting to Redis: TLS with a CA of the test's own, ACL users, and errors that name the
server but never the password."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from buttress.config import load_text
from buttress.resilience import RateLimiter
from buttress.resilience.rate_limit import TokenBucket
from buttress.state import RedisStore, Script, StoreUnavailableError, open_store
from tests.conftest import OwnRedis, free_port, wait_until_redis_hangs


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A redis-server that speaks only TLS, with a certificate signed by a CA made here."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed; run scripts/check.sh")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        cwd=tmp_path,
    )
    (tmp_path / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        cwd=tmp_path,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "san.cnf",
        "-out",
        "server.crt",
        cwd=tmp_path,
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            "server.crt",
            "--tls-key-file",
            "server.key",
            "--tls-ca-cert-file",
            "ca.crt",
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"rediss://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url, ssl_ca_certs=str(tmp_path / "ca.crt")).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the TLS redis-server did not start")
            time.sleep(0.05)
    yield url, tmp_path / "ca.crt"
    proc.kill()
    proc.wait()


def test_tls_with_the_ca_from_the_config(tls_redis: tuple[str, Path]) -> None:
    url, ca = tls_redis
    config = load_text(f"state: {{backend: redis, url: '{url}', tls: {{ca_file: '{ca}'}}}}")
    store = open_store(config.state)
    limiter = RateLimiter.gcra(rate=2, per=60, name="tls", store=store)
    assert [limiter.try_acquire("k").allowed for _ in range(3)] == [True, True, False]
    assert limiter.store_mode == "shared"
    store.close()


def test_tls_refuses_a_server_it_cannot_verify(tls_redis: tuple[str, Path]) -> None:
    url, _ca = tls_redis
    store = RedisStore(url, connect_timeout=2)  # the system CAs do not know the test's CA
    with pytest.raises(StoreUnavailableError, match=r"rediss://127\.0\.0\.1"):
        store.eval(_script(), ["k"], [1, 1, 1, 0])
    store.close()


def _script() -> Script:
    return TokenBucket.lua


def test_acl_user_and_a_wrong_password(own_redis: OwnRedis) -> None:
    admin = redis.Redis(port=own_redis.port)
    admin.acl_setuser(
        "app",
        enabled=True,
        passwords=["+app-secret-1"],
        keys=["*"],
        channels=["*"],
        commands=["+@all"],
    )
    good = RedisStore(f"redis://app:app-secret-1@127.0.0.1:{own_redis.port}/0", prefix="acl")
    limiter = RateLimiter.fixed_window(limit=1, window=60, name="acl", store=good)
    assert limiter.try_acquire("k").allowed
    assert not limiter.try_acquire("k").allowed
    assert limiter.store_mode == "shared"
    good.close()
    bad = RedisStore(f"redis://app:wrong-secret-2@127.0.0.1:{own_redis.port}/0", prefix="acl")
    with pytest.raises(StoreUnavailableError) as caught:
        bad.eval(_script(), ["k"], [1, 1, 1, 0])
    message = str(caught.value)
    assert "wrong-secret-2" not in message
    assert f"redis://app:***@127.0.0.1:{own_redis.port}/0" in message
    assert "AuthenticationError" in message or "WRONGPASS" in message
    bad.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"url": "http://127.0.0.1:6379"},
            "expected redis://, rediss://, unix://, redis+cluster:// or rediss+cluster://",
        ),
        (
            {"url": "redis+cluster://:pw@127.0.0.1:1", "cluster": False},
            "'redis+cluster://:***@127.0.0.1:1' names a cluster but cluster=False",
        ),
        ({"url": "unix:///run/redis.sock", "cluster": True}, "a Redis Cluster needs TCP"),
        ({"url": "redis+cluster://h:7000/2"}, "a Redis Cluster has database 0 only"),
        ({"command_timeout": 0}, "command_timeout=0: expected seconds > 0"),
        ({"pool_size": 0}, "pool_size=0: expected an integer >= 1"),
        ({"prefix": "a{b}"}, "prefix='a{b}': expected a non-empty name, no braces"),
    ],
)
def test_bad_store_settings_are_named(kwargs: dict[str, object], message: str) -> None:
    url = str(kwargs.pop("url", "redis://127.0.0.1:6379/0"))
    with pytest.raises(ValueError, match=re.escape(message)):
        RedisStore(url, **kwargs)  # type: ignore[arg-type]


def test_decisions_keep_their_connection_and_survive_a_server_restart(own_redis: OwnRedis) -> None:
    """Decisions run on connections the store keeps between commands (no pool check-out per
    decision). After the server restarts, the first decision replaces the dead connection and
    succeeds; nothing reaches the caller and no connection is leaked."""
    store = RedisStore(own_redis.url, prefix="held", retry_interval=0.05)
    try:
        limiter = RateLimiter.fixed_window(limit=100, window=60, name="held", store=store)
        server = redis.Redis.from_url(own_redis.url)
        before = server.info("stats")["total_connections_received"]
        for _ in range(5):
            assert limiter.try_acquire("k").reason == "ok"
        assert server.info("stats")["total_connections_received"] - before == 1
        assert store._held == 1  # one thread, one held connection, reused
        server.close()
        own_redis.stop()
        own_redis.start()
        decision = limiter.try_acquire("k")
        assert decision.reason == "ok"  # answered by the restarted server, not a failure mode
        assert decision.remaining == 99  # the restarted server kept nothing
        assert store._held == 1
    finally:
        store.close()
    assert store._held == 0


def test_a_forked_child_opens_its_own_connections(own_redis: OwnRedis) -> None:
    """A child process never writes on its parent's sockets: it opens its own on first use."""
    store = RedisStore(own_redis.url, prefix="fork")
    try:
        limiter = RateLimiter.fixed_window(limit=100, window=60, name="fork", store=store)
        assert limiter.try_acquire().allowed
        parent_conn = store._idle[0]
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only with an answer on a new connection
            ok = limiter.try_acquire().reason == "ok" and store._idle[0] is not parent_conn
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert limiter.try_acquire().remaining == 97  # parent's connection still in step
    finally:
        store.close()


def test_beyond_pool_size_held_connections_the_client_pool_serves(own_redis: OwnRedis) -> None:
    """The store holds at most pool_size connections for decisions; while all are in use (here
    the one is taken out, as a thread busy with it would), a decision goes through redis-py's
    own pool instead and is answered; the held count never passes the limit."""
    store = RedisStore(own_redis.url, prefix="cap", pool_size=1)
    try:
        limiter = RateLimiter.fixed_window(limit=100, window=60, name="cap", store=store)
        assert limiter.try_acquire().reason == "ok"
        busy = store._idle.pop()  # in use elsewhere
        assert limiter.try_acquire().remaining == 98  # answered by the client's pool
        assert store._held == 1
        assert store._idle == []
        store._idle.append(busy)
        assert limiter.try_acquire().remaining == 97
    finally:
        store.close()


def _aheld(store: RedisStore) -> tuple[int, int]:
    """(connections held, of which idle) for the running event loop."""
    import asyncio

    held = store._aheld.get(asyncio.get_running_loop())
    return (0, 0) if held is None else (held.count, len(held.idle))


@pytest.mark.anyio
async def test_async_decisions_keep_their_connection_and_survive_a_server_restart(
    own_redis: OwnRedis,
) -> None:
    """The asyncio face holds its connections per event loop, as the sync face does: one
    connection for many decisions, replaced once after a server restart, closed by aclose()."""
    store = RedisStore(own_redis.url, prefix="aheld", retry_interval=0.05)
    server = redis.Redis.from_url(own_redis.url)
    try:
        limiter = RateLimiter.fixed_window(limit=100, window=60, name="aheld", store=store)
        before = server.info("stats")["total_connections_received"]
        for _ in range(5):
            assert (await limiter.atry_acquire("k")).reason == "ok"
        assert server.info("stats")["total_connections_received"] - before == 1
        assert _aheld(store) == (1, 1)
        server.close()
        own_redis.stop()
        own_redis.start()
        decision = await limiter.atry_acquire("k")
        assert decision.reason == "ok"  # answered by the restarted server, not a failure mode
        assert decision.remaining == 99
        assert _aheld(store) == (1, 1)
    finally:
        await store.aclose()
        store.close()
        server.close()
    assert _aheld(store) == (0, 0)


@pytest.mark.anyio
async def test_async_decision_on_a_slow_server_ends_within_the_command_timeout(
    own_redis: OwnRedis,
) -> None:
    """A server that does not answer (DEBUG SLEEP) gets command_timeout, then the failure
    mode decides; the connection that waited is closed, never reused (its late reply would
    answer the next decision), and the next decision after the server wakes is exact."""
    import asyncio

    store = RedisStore(own_redis.url, prefix="aslow", command_timeout=0.2, retry_interval=0.05)
    admin = redis.Redis.from_url(own_redis.url)
    admin_any: Any = admin  # redis-py's execute_command is untyped
    try:
        limiter = RateLimiter.fixed_window(
            limit=100, window=60, name="aslow", store=store, on_store_failure="allow"
        )
        assert (await limiter.atry_acquire("k")).remaining == 99
        sleeper = asyncio.get_running_loop().run_in_executor(
            None, lambda: admin_any.execute_command("DEBUG", "SLEEP", "0.8")
        )
        await asyncio.to_thread(wait_until_redis_hangs, own_redis.url)
        started = time.monotonic()
        decision = await limiter.atry_acquire("k")
        elapsed = time.monotonic() - started
        assert decision.reason == "store_allow"
        assert elapsed < 0.6, elapsed  # the 0.2 s timeout, not the 0.8 s sleep
        assert _aheld(store) == (0, 0)  # the connection that timed out is gone
        await sleeper
        await asyncio.sleep(0.1)  # past retry_interval: the store is asked again
        decision = await limiter.atry_acquire("k")
        # the timed-out decision may have been counted by the server after it woke
        assert decision.reason == "ok"
        assert decision.remaining in (97, 98)
        fresh = await limiter.atry_acquire("fresh")  # replies in step with requests
        assert (fresh.reason, fresh.remaining) == ("ok", 99)
        assert _aheld(store) == (1, 1)
    finally:
        await store.aclose()
        store.close()
        admin.close()


@pytest.mark.anyio
async def test_a_cancelled_async_decision_closes_its_connection(own_redis: OwnRedis) -> None:
    """A caller cancelled while its decision waits for the reply: the connection is closed
    (the reply still on its way must not answer another decision) and the error is the
    cancellation, not a store failure."""
    import asyncio

    store = RedisStore(own_redis.url, prefix="acancel", command_timeout=2.0)
    admin = redis.Redis.from_url(own_redis.url)
    admin_any: Any = admin  # redis-py's execute_command is untyped
    try:
        limiter = RateLimiter.fixed_window(limit=100, window=60, name="acancel", store=store)
        assert (await limiter.atry_acquire("k")).remaining == 99
        sleeper = asyncio.get_running_loop().run_in_executor(
            None, lambda: admin_any.execute_command("DEBUG", "SLEEP", "1.0")
        )
        await asyncio.to_thread(wait_until_redis_hangs, own_redis.url)
        task = asyncio.ensure_future(limiter.atry_acquire("k"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert _aheld(store) == (0, 0)
        await sleeper
        fresh = await limiter.atry_acquire("fresh")  # a reply for "k" would say 98 or 97
        assert (fresh.reason, fresh.remaining) == ("ok", 99)
        assert limiter.store_mode == "shared"
    finally:
        await store.aclose()
        store.close()
        admin.close()


@pytest.mark.anyio
async def test_async_beyond_pool_size_held_connections_the_client_pool_serves(
    own_redis: OwnRedis,
) -> None:
    import asyncio

    store = RedisStore(own_redis.url, prefix="acap", pool_size=1)
    try:
        limiter = RateLimiter.fixed_window(limit=100, window=60, name="acap", store=store)
        assert (await limiter.atry_acquire()).reason == "ok"
        held = store._aheld[asyncio.get_running_loop()]
        busy = held.idle.pop()  # in use elsewhere
        assert (await limiter.atry_acquire()).remaining == 98  # answered by the client's pool
        assert (held.count, held.idle) == (1, [])
        held.idle.append(busy)
        assert (await limiter.atry_acquire()).remaining == 97
    finally:
        await store.aclose()
        store.close()


def test_commands_are_packed_as_redis_py_packs_them() -> None:
    from redis.connection import Connection

    from buttress.state.redis_store import _pack

    reference: Any = Connection  # redis-py is untyped
    reference = reference()

    command = ("EVALSHA", "ab" * 20, 2, "p:rl:{n:ü}", b"raw\r\n", 0.001, 1e20, -3, 12, "")
    assert _pack(command) == b"".join(reference.pack_command(*command))
    with pytest.raises(TypeError, match="expected str, bytes, int or float"):
        _pack(("GET", None))
