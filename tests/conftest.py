"""Shared fixtures: real PostgreSQL databases, catalogs on every backend, a served control plane.

Services are never mocked and never skipped: when PostgreSQL does not answer, the tests that
need it fail with the reason (``scripts/check.sh`` starts the services first).

Each test is marked with the services it needs (postgres, mariadb, redis, s3, browser, root),
found from the fixtures it uses and the parameters it runs with, and ``slow`` when it takes
seconds (``pytest_collection_modifyitems`` below): ``-m "not (postgres or mariadb or redis or s3
or browser or root)"`` runs every test that needs no service, and the fast lane (``bash
scripts/check.sh --fast``) leaves out ``slow`` too. A test that reaches a service some other
way says so with an explicit ``@pytest.mark.<service>``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from buttress.catalog import Catalog, catalog_url
from buttress.config_checks import register_domain_checks

# as the CLI does: every configuration a test loads also passes the domains' checks
register_domain_checks()

# fixture -> the service marker every test using it (directly or through other fixtures) gets
SERVICE_FIXTURES: dict[str, str] = {
    "pg_server": "postgres",
    "pg_with_passwords": "postgres",  # a private cluster of the PostgreSQL binaries
    "pg_clusters": "postgres",  # private clusters (tests/backup/pg_cluster.py)
    "mariadb_server": "mariadb",
    "binlog_server": "mariadb",  # a private mariadbd with --log-bin (tests/backup)
    "redis_url": "redis",
    "redis_cluster": "redis",
    "own_redis": "redis",
    "redis_pair": "redis",  # a primary and its replica (tests/runbooks/failover)
    "redis_sentinel": "redis",  # the same, watched by a redis-server --sentinel
    "proxied": "redis",  # the same, its replication link through a proxy that can hold it
    "stalled": "redis",  # the same, its replication link held (a stalled network)
    "s3_server": "s3",
    "browser": "browser",
    "full_disk": "root",
    "served": "slow",  # a `buttress serve` subprocess
}
# (parameter, value) -> the marker of the service that value reaches (through
# request.getfixturevalue, which the static fixture closure does not show)
SERVICE_PARAMS: dict[tuple[str, str], str] = {
    ("catalog_dsn", "postgresql"): "postgres",
    ("backend", "postgresql"): "postgres",
    ("store_url", "standalone"): "redis",
    ("store_url", "cluster"): "redis",
    ("destination", "s3"): "s3",
}
# Service-free tests that take seconds each (they start processes, wait for timeouts, fuzz or
# derive scrypt keys): a module, or a test with all its parameters. A collection of the whole
# suite fails when an entry matches nothing, so a moved test is not silently unmarked.
SLOW_TESTS = (
    "tests/alerting/test_presets_promtool.py",
    "tests/alerting/test_alerts_cli.py::test_test_runs_the_generated_rule_tests",
    "tests/alerting/test_slo_tests.py::test_generated_tests_pass_with_promtool",
    "tests/alerting/test_slo_tests.py::test_the_generated_tests_fail_when_a_threshold_is_wrong",
    "tests/alerting/test_am_live.py",
    "tests/alerting/test_e2e.py",
    "tests/alerting/test_dash_prometheus.py",
    "tests/alerting/test_report_prometheus.py",
    "tests/incidents/test_escalation_restart.py",
    "tests/backup/test_api.py::test_a_second_run_of_a_running_target_is_refused",
    "tests/backup/test_cli.py::test_a_run_killed_midway_is_incomplete",
    "tests/backup/test_manifest_auth.py::test_every_flipped_bit_of_a_manifest_fails_verify",
    "tests/backup/test_passphrase.py",
    "tests/backup/test_pg_archive.py::test_every_cut_is_a_chunk_start",
    "tests/backup/test_pitr_retention.py::test_every_kept_backup_keeps_its_start_to_stop",
    "tests/backup/test_pitr_retention.py::test_any_point_of_the_window_is_restorable",
    "tests/backup/test_pitr_retention.py::test_nothing_is_kept_that_no_rule_keeps",
    "tests/backup/test_progress.py::test_progress_on_a_terminal",
    "tests/backup/test_redis.py::test_redis_unreachable_and_bad_dsn",
    "tests/backup/test_redis.py::test_serving_a_damaged_snapshot_fails_clearly",
    "tests/backup/test_restore_api_policy.py::test_served_restores_go_inside_the_data_directory",
    "tests/backup/test_runs.py::test_racing_processes_start_exactly_one_run_on_sqlite",
    "tests/backup/test_serve_schedule.py",
    "tests/backup/test_wal_unit.py::test_first_pushes_at_once_agree_on_one_passphrase_key",
    "tests/backup/test_sources.py::test_sqlite_backup_while_it_is_written",
    "tests/config/test_hostile.py::test_config_check_output_is_bounded",
    "tests/config/test_hostile.py::test_config_check_rejects_hostile_file",
    "tests/degradation/test_level_show.py::test_show_asks_a_running_server_for_the_automatic_level",
    "tests/resilience/test_breaker_model.py",
    "tests/server/test_bootstrap.py::test_start_that_cannot_print_the_token_leaves_none",
    "tests/server/test_gate.py::test_slow_body_is_cut_off_with_408",
    "tests/server/test_gate.py::test_slow_headers_are_cut_off",
    "tests/server/test_schemathesis.py",
    "tests/server/test_serve.py",
    "tests/state/test_cluster.py::test_a_dead_node_fails_its_keys_like_an_unreachable_redis",
    "tests/test_markers.py::test_each_parameter_is_marked_with_the_service_it_reaches",
    "tests/test_secrets.py::test_keyword_dsns_mask_what_libpq_reads_as_the_password",
)
SERVICE_MARKERS = ("postgres", "mariadb", "redis", "s3", "browser", "root")
# every service-free test; FAST_LANE (scripts/check.sh --fast) leaves out the slow ones too
SERVICE_FREE = "not (" + " or ".join(SERVICE_MARKERS) + ")"
FAST_LANE = "not (" + " or ".join((*SERVICE_MARKERS, "slow")) + ")"


def _slow_entry(nodeid: str) -> str | None:
    """The SLOW_TESTS entry that covers ``nodeid``, if any."""
    module, _, rest = nodeid.partition("::")
    test = module + "::" + rest.partition("[")[0]
    for entry in SLOW_TESTS:
        if entry in (module, test):
            return entry
    return None


@pytest.hookimpl(tryfirst=True)  # before -m deselects by the markers added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with the services its fixtures and parameters need, and ``slow``."""
    matched: set[str] = set()
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        needed = {SERVICE_FIXTURES[f] for f in fixtures if f in SERVICE_FIXTURES}
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            for name, value in callspec.params.items():
                marker = SERVICE_PARAMS.get((name, value)) if isinstance(value, str) else None
                if marker is not None:
                    needed.add(marker)
        entry = _slow_entry(item.nodeid)
        if entry is not None:
            matched.add(entry)
            needed.add("slow")
        for marker in sorted(needed - {m.name for m in item.iter_markers()}):
            item.add_marker(marker)
    whole_suite = [Path(a).resolve() for a in config.args] == [Path(config.rootpath, "tests")]
    stale = sorted(set(SLOW_TESTS) - matched)
    if whole_suite and not config.option.keyword and stale:
        raise pytest.UsageError(f"tests/conftest.py SLOW_TESTS: no such test: {', '.join(stale)}")


@pytest.fixture(autouse=True)
def _close_every_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every RedisStore a test opens is closed after it, also when the test failed before its
    own ``close()``: no agent thread or socket outlives its test (they piled up under load)."""
    from buttress.state.redis_store import RedisStore

    opened: list[RedisStore] = []
    init = RedisStore.__init__

    def tracked(self: RedisStore, *args: Any, **kwargs: Any) -> None:
        opened.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(RedisStore, "__init__", tracked)
    yield
    for store in opened:
        with contextlib.suppress(Exception):  # a half-built store, or one closed already
            store.close()


PG_ADMIN_DSN = os.environ.get(
    "BUTTRESS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The admin DSN of the real PostgreSQL server; fails (never skips) when it does not answer."""
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_DSN} does not answer ({exc}); run scripts/check.sh")
    return PG_ADMIN_DSN


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    name = f"buttress_test_{secrets.token_hex(6)}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield re.sub(r"/[^/]*$", f"/{name}", pg_server)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_dsn(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A catalog URL on each backend: a SQLite file, and a fresh real PostgreSQL database."""
    if request.param == "sqlite":
        return catalog_url(None, tmp_path)
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
def catalog(catalog_dsn: str) -> Iterator[Catalog]:
    """An open, migrated catalog on each backend."""
    cat = Catalog(catalog_url(catalog_dsn, Path()), connect_timeout=5)
    cat.upgrade()
    yield cat
    cat.dispose()


def wait_until(check: Callable[[], bool], what: str = "", timeout: float = 10.0) -> float:
    """Poll ``check`` until it is true; the seconds it took. Fails naming ``what`` after
    ``timeout`` seconds."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out waiting for {what or 'the condition'}")
        time.sleep(0.001)
    return time.monotonic() - started


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """A ``buttress serve`` subprocess: its URL, the admin token it printed, its output files."""

    process: subprocess.Popen[str]
    url: str
    admin_token: str | None
    startup_seconds: float
    stderr_path: Path
    announcement: str = ""  # what it printed on stdout up to the "dashboard:" line

    def stop(self) -> int:
        """SIGTERM, then wait for the graceful exit; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()


def start_server(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Served:
    """Start ``buttress serve --port 0`` and wait until it has printed its URL."""
    stderr_path = data_dir.with_name(data_dir.name + ".stderr")
    stderr_file = stderr_path.open("w")
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "buttress",
            "--data-dir",
            str(data_dir),
            "serve",
            "--port",
            "0",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        text=True,
        env={**os.environ, **(env or {})},
    )
    stderr_file.close()
    assert process.stdout is not None
    url: str | None = None
    token: str | None = None
    printed: list[str] = []
    for line in process.stdout:  # the announcement ends with the "dashboard:" line
        printed.append(line)
        if " serving on " in line:
            url = line.rsplit(" ", 1)[1].strip()
        elif line.strip().startswith("bt_"):
            token = line.strip()
        elif line.startswith("dashboard:"):
            break
    if url is None:
        process.wait(timeout=10)
        process.stdout.close()
        raise AssertionError(f"serve did not start: {stderr_path.read_text()}")
    return Served(process, url, token, time.monotonic() - started, stderr_path, "".join(printed))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A control plane on the embedded default (SQLite in a temporary data directory)."""
    server = start_server(tmp_path / "data")
    try:
        yield server
    finally:
        server.stop()


@dataclass
class S3Server:
    """moto's standalone S3 server (a real HTTP endpoint) on its own port."""

    endpoint: str
    port: int

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing-secret",
        )

    def new_bucket(self) -> str:
        name = f"bt-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto_server on 127.0.0.1; fails (never skips) when it cannot start."""
    import urllib.request

    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(endpoint + "/", timeout=2):  # noqa: S310  # loopback
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"moto's S3 server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
    try:
        yield S3Server(endpoint, port)
    finally:
        process.terminate()
        process.wait(timeout=10)


MARIADB_ADMIN: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


@pytest.fixture(scope="session")
def mariadb_server() -> dict[str, Any]:
    """Connection keywords of the real MariaDB server; fails (never skips) when it is down."""
    import pymysql

    try:
        pymysql.connect(**MARIADB_ADMIN, connect_timeout=5).close()
    except pymysql.Error as exc:
        pytest.fail(f"MariaDB at 127.0.0.1:3306 does not answer ({exc}); run scripts/check.sh")
    return dict(MARIADB_ADMIN)


@pytest.fixture
def mariadb_database(mariadb_server: dict[str, Any]) -> Iterator[str]:
    """A fresh, empty MariaDB database for one test (its DSN); dropped afterwards."""
    import pymysql

    name = f"buttress_test_{secrets.token_hex(6)}"
    conn = pymysql.connect(**mariadb_server, autocommit=True)
    conn.cursor().execute(f"CREATE DATABASE `{name}`")
    try:
        yield f"mariadb://root@127.0.0.1:3306/{name}"
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


class OwnRedis:
    """A redis-server on a port of its own, which the test may stop, slow down and restart."""

    def __init__(self, workdir: Path, extra: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.extra = tuple(extra)  # more redis-server arguments (``--replicaof h p``)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed; run scripts/check.sh")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--enable-debug-command",
                "local",
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_timeout=1).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail(f"redis-server on port {self.port} did not start")
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def debug_sleep(self, seconds: float) -> subprocess.Popen[bytes]:
        """Make the server unresponsive for ``seconds`` (DEBUG SLEEP, from another client);
        returns once it has stopped answering."""
        sleeper = subprocess.Popen(
            ["redis-cli", "-p", str(self.port), "DEBUG", "SLEEP", str(seconds)],
            stdout=subprocess.DEVNULL,
        )
        wait_until_redis_hangs(self.url)
        return sleeper


def wait_until_redis_hangs(url: str, timeout: float = 10.0) -> None:
    """Return once the Redis at ``url`` no longer answers a PING within 0.2 s (a DEBUG SLEEP
    sent by another client has begun)."""

    def hangs() -> bool:
        client = redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=1)
        try:
            client.ping()
        except redis.TimeoutError:
            return True
        finally:
            client.close()
        return False

    wait_until(hangs, "the Redis server to stop answering (DEBUG SLEEP)", timeout)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()
