"""Every kind of check against the real thing, up and down: PostgreSQL, MariaDB, Redis, S3
(moto), HTTP, TCP, disk, custom; timeouts, slow answers, and no secret in any detail."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import make_conninfo

from buttress.health import Check, CheckResult, Status, run_check
from buttress.health.checks.custom import custom
from buttress.health.checks.disk import disk
from buttress.health.checks.http import http
from buttress.health.checks.mariadb import mariadb
from buttress.health.checks.postgresql import postgresql
from buttress.health.checks.redis import redis
from buttress.health.checks.s3 import s3
from buttress.health.checks.tcp import tcp
from tests.conftest import OwnRedis, S3Server
from tests.health.conftest import Web


def _run(name: str, probe: Any, timeout: float = 3.0, slow: float | None = None) -> CheckResult:
    return asyncio.run(run_check(Check(name, "t", probe, timeout=timeout, slow=slow)))


def test_postgresql(pg_server: str) -> None:
    up = _run("pg", postgresql(pg_server, 3))
    assert up.status is Status.UP
    assert up.detail.startswith("PostgreSQL 15")
    down = _run("pg", postgresql("postgresql://u:pw-secret-1@127.0.0.1:1/x", 2))
    assert down.status is Status.DOWN
    assert "pw-secret-1" not in down.detail
    assert "127.0.0.1" in down.detail
    assert "\n" not in down.detail  # one line, libpq's hint on it
    assert down.detail.endswith(
        "(Is the server running on that host and accepting TCP/IP connections?)"
    )
    role = f"nobody_{uuid.uuid4().hex[:8]}"
    refused = _run("pg", postgresql(make_conninfo(pg_server, user=role), 3))
    assert refused.status is Status.DOWN
    assert refused.detail.endswith(f'failed: FATAL: role "{role}" does not exist')
    assert "\n" not in refused.detail


def test_mariadb(mariadb_server: dict[str, Any]) -> None:
    up = _run("db", mariadb("mariadb://root@127.0.0.1:3306/mysql", 3))
    assert up.status is Status.UP
    assert up.detail.startswith("MariaDB 10.11")
    down = _run("db", mariadb("mariadb://root:pw-secret-2@127.0.0.1:1/mysql", 2))
    assert down.status is Status.DOWN
    assert "pw-secret-2" not in down.detail


def test_redis_up_then_stopped(own_redis: OwnRedis) -> None:
    assert _run("cache", redis(own_redis.url, 2)).detail.startswith("Redis 7")
    own_redis.stop()
    down = _run("cache", redis(own_redis.url, 1))
    assert down.status is Status.DOWN
    assert "refused" in down.detail.lower() or "connect" in down.detail.lower()


def test_s3(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    kw = {"endpoint_url": s3_server.endpoint, "region": None, "access_key_id": "k"}
    up = _run("s3", s3(bucket, secret_access_key="sk-hidden", timeout=3, **kw))
    assert up.status is Status.UP
    down = _run("s3", s3("no-such-bkt", secret_access_key="sk-hidden", timeout=3, **kw))
    assert down.status is Status.DOWN
    assert "does not exist" in down.detail
    assert "sk-hidden" not in down.detail


def test_http(web: Web) -> None:
    assert _run("api", http(web.url, 2)).detail == "HTTP 200"
    web.status = 503
    down = _run("api", http(web.url, 2))
    assert down.status is Status.DOWN
    assert "HTTP 503 (expected 200)" in down.detail
    assert _run("api", http(web.url, 2, expect=(200, 503))).status is Status.UP
    assert _run("api", http("http://127.0.0.1:1/", 1)).status is Status.DOWN


def test_tcp() -> None:
    """A port something listens on is up; a closed one is down, naming the address."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        assert _run("listening", tcp("127.0.0.1", port)).status is Status.UP
    down = _run("closed", tcp("127.0.0.1", 1))
    assert down.status is Status.DOWN
    assert "127.0.0.1:1" in down.detail


def test_disk(tmp_path: Path) -> None:
    up = _run("disk", disk(str(tmp_path), min_free_percent=0.001))
    assert "% free" in up.detail
    down = _run("disk", disk(str(tmp_path), min_free_percent=100))
    assert down.status is Status.DOWN
    assert "below the minimum (100%)" in down.detail


def test_custom_sync_and_async() -> None:
    async def queue_depth() -> str:
        return "42 jobs queued"

    def broken() -> None:
        raise RuntimeError("worker pool exhausted")

    assert _run("q", custom(queue_depth)).detail == "42 jobs queued"
    assert _run("ok", custom(lambda: True)).detail == "ok"
    assert _run("no", custom(lambda: False)).detail == "the check returned False"
    assert _run("bad", custom(broken)).detail == "worker pool exhausted"


def test_timeout_and_slow() -> None:
    async def slow_answer() -> str:
        await asyncio.sleep(0.3)
        return "eventually"

    started = time.perf_counter()
    timed_out = _run("slow", custom(slow_answer), timeout=0.1)
    assert timed_out.status is Status.DOWN
    assert timed_out.detail == "no answer within 0.1s"
    assert time.perf_counter() - started < 0.3
    assert _run("slow", custom(slow_answer), slow=0.1).status is Status.DEGRADED


def test_bad_check_settings() -> None:
    with pytest.raises(ValueError, match="interval and timeout must be > 0"):
        Check("x", "t", custom(lambda: True), timeout=0)
    with pytest.raises(ValueError, match="weight must be >= 0"):
        Check("x", "t", custom(lambda: True), weight=-1)
