"""Restores through the API go only where the configuration allows: paths inside the restore
roots (symlinks and ``..`` resolved, relative paths inside the first root), DSNs on the
target's own server or ``backup.restore_servers`` (every host of a multi-host DSN, hostaddr,
unix sockets, URI and keyword forms), plain database names, and ``force`` for admins only.
Each refusal is a 422 (403 for force) after which nothing was written, created or connected."""

from __future__ import annotations

import contextlib
import random
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from buttress.catalog import Catalog, catalog_url, tokens
from buttress.config import load
from buttress.server.app import create_app
from tests.backup.conftest import config_file, recipient
from tests.conftest import start_server


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]

    def post(self, path: str, body: dict[str, Any], role: str = "operator") -> Any:
        return self.client.post(
            path, json=body, headers={"Authorization": f"Bearer {self.tokens[role]}"}
        )

    def backup(self, target: str) -> str:
        """Run ``target`` through the API and wait for it to succeed; its id."""
        started = self.post(f"/api/v1/backups/targets/{target}/run", {})
        assert started.status_code == 202, started.text
        backup_id = str(started.json()["id"])
        deadline = time.monotonic() + 120
        while True:
            run = self.client.get(
                f"/api/v1/backups/runs/{backup_id}",
                headers={"Authorization": f"Bearer {self.tokens['viewer']}"},
            ).json()
            if run["status"] != "running":
                assert run["status"] == "succeeded", run
                return backup_id
            assert time.monotonic() < deadline
            time.sleep(0.05)

    def restore(self, backup_id: str, body: dict[str, Any], role: str = "operator") -> Any:
        return self.post(f"/api/v1/backups/runs/{backup_id}/restore", body, role)


@pytest.fixture
def sqlite_catalog(tmp_path: Path) -> Iterator[Catalog]:
    """A catalog on SQLite only: the restore checks do not depend on the catalog backend."""
    folder = tmp_path / "catalog"
    folder.mkdir()
    cat = Catalog(catalog_url(None, folder), connect_timeout=5)
    cat.upgrade()
    yield cat
    cat.dispose()


@contextlib.contextmanager
def serving(project: Path, catalog: Catalog, backup: str = "", targets: str = "") -> Iterator[Api]:
    """The control plane on the project's config; ``backup`` is added to the backup section,
    ``targets`` under its targets."""
    config_file(project, recipient(project), targets)
    path = project / "buttress.yaml"
    path.write_text(path.read_text().replace("backup:\n", "backup:\n" + backup, 1))
    made = {}
    with catalog.begin() as session:
        for role in ("admin", "operator", "viewer"):
            name = f"{role}-{secrets.token_hex(3)}"
            made[role] = tokens.create(session=session, name=name, role=role, created_by="t")[1]
    with TestClient(create_app(catalog, load(path)), client=("127.0.0.9", 5)) as client:
        yield Api(client, made)


def _tree(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if "catalog" not in p.relative_to(folder).parts}


def _refused(answer: Any, *words: str, status: int = 422) -> None:
    assert answer.status_code == status, answer.text
    for word in words:
        assert word in answer.json()["message"], answer.json()["message"]


def test_directory_restores_stay_inside_the_restore_roots(
    project: Path, sqlite_catalog: Catalog
) -> None:
    """An absolute path elsewhere, ``..``, a symlink out of the root, the root itself and a NUL
    byte are 422 and write nothing; relative and default paths land inside the root."""
    root = project / ".buttress" / "restored"
    outside = project / "elsewhere"
    outside.mkdir()
    with serving(project, sqlite_catalog) as api:
        backup_id = api.backup("site")
        root.mkdir(parents=True, exist_ok=True)
        (root / "link").symlink_to(outside)
        before = _tree(project)
        for to in (
            str(project / "anywhere"),
            "../../escape",
            "../..",
            str(root / ".." / "sibling"),
            "link/inside",
            str(root),
            "/etc/buttress-test",
        ):
            _refused(api.restore(backup_id, {"to": to}), "to:", "not inside a restore root")
        _refused(api.restore(backup_id, {"to": "a\0b"}), "to:", "NUL")
        _refused(api.restore(backup_id, {"database": "x"}), "database:", "directory target")
        _refused(api.restore(backup_id, {"to": "x", "database": "x"}), "not both")
        assert _tree(project) == before
        assert not Path("/etc/buttress-test").exists()

        mine = api.restore(backup_id, {"to": "mine"})
        assert mine.status_code == 200, mine.text
        assert mine.json()["restored_into"] == f"directory {root / 'mine'}"
        assert (root / "mine" / "index.html").is_file()
        default = api.restore(backup_id, {})
        assert default.status_code == 200, default.text
        assert (root / "site" / backup_id / "index.html").is_file()
        inside = api.restore(backup_id, {"to": str(root / "deep" / ".." / "abs")})
        assert inside.status_code == 200, inside.text
        assert (root / "abs" / "index.html").is_file()


def test_force_through_the_api_needs_an_admin(project: Path, sqlite_catalog: Catalog) -> None:
    """An operator's ``force`` over a non-empty directory is 403 and leaves it as it was; an
    admin's is done (inside the roots), and audited with ``force``."""
    root = project / ".buttress" / "restored"
    with serving(project, sqlite_catalog) as api:
        backup_id = api.backup("site")
        assert api.restore(backup_id, {"to": "full"}).status_code == 200
        (root / "full" / "index.html").write_text("changed since\n")
        (root / "full" / "extra.txt").write_text("kept\n")
        _refused(
            api.restore(backup_id, {"to": "full", "force": True}), "force", "admin", status=403
        )
        assert (root / "full" / "index.html").read_text() == "changed since\n"
        _refused(api.restore(backup_id, {"to": str(project), "force": True}, "admin"), "to:")
        done = api.restore(backup_id, {"to": "full", "force": True}, "admin")
        assert done.status_code == 200, done.text
        assert (root / "full" / "index.html").read_text() == "<h1>hi</h1>\n" * 100
        audit = api.client.get(
            "/api/v1/audit?action=backup.restore",
            headers={"Authorization": f"Bearer {api.tokens['admin']}"},
        ).json()
        forced = [a for a in audit if a["detail"].get("force")]
        assert [a["outcome"] for a in forced] == ["success", "failed", "denied"]
        assert forced[0]["detail"]["into"] == f"directory {root / 'full'}"
        assert "not inside a restore root" in forced[1]["detail"]["refused"]


def test_configured_restore_roots_replace_the_default(
    project: Path, sqlite_catalog: Catalog
) -> None:
    """With ``backup.restore_roots``, paths go inside those roots only (a relative one inside
    the first), and never into or over a local destination."""
    first, second = project / "restores", project / "more"
    with serving(
        project, sqlite_catalog, backup=f"  restore_roots: ['{first}', '{second}', '{project}']\n"
    ) as api:
        backup_id = api.backup("site")
        before = _tree(project)
        _refused(api.restore(backup_id, {"to": str(project.parent / "x")}), "not inside")
        _refused(api.restore(backup_id, {"to": str(project / "repo" / "in")}), "destination")
        _refused(api.restore(backup_id, {"to": str(project / "repo")}), "destination")
        assert _tree(project) == before
        assert api.restore(backup_id, {"to": "a"}).status_code == 200
        assert (first / "a" / "index.html").is_file()
        assert api.restore(backup_id, {"to": str(second / "b")}).status_code == 200
        assert (second / "b" / "index.html").is_file()


class Listener:
    """A server socket nothing should connect to: it counts and closes every connection (so a
    client that does connect fails at once rather than waiting for a greeting)."""

    def __init__(self, sock: socket.socket, host: str, port: int) -> None:
        self.sock, self.host, self.port = sock, host, port
        self.count = 0
        sock.listen(16)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):  # the socket is closed at the end of the test
            while True:
                self.sock.accept()[0].close()
                self.count += 1

    def connections(self) -> int:
        return self.count

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=10)


@contextlib.contextmanager
def listening(port: int = 0) -> Iterator[Listener]:
    """A TCP listener on a random loopback address (and ``port``, or a free one)."""
    for _ in range(50):
        host = "127." + ".".join(str(random.randint(2, 254)) for _ in range(3))
        sock = socket.socket()
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            continue
        listener = Listener(sock, host, sock.getsockname()[1])
        try:
            yield listener
        finally:
            listener.close()
        return
    raise AssertionError("no free loopback address")


@contextlib.contextmanager
def unix_listener(folder: Path) -> Iterator[Listener]:
    """A unix socket where libpq looks for a server on port 5432 in ``folder``."""
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / ".s.PGSQL.5432"))
    listener = Listener(sock, str(folder), 5432)
    try:
        yield listener
    finally:
        listener.close()


def _databases(admin_dsn: str) -> set[str]:
    with psycopg.connect(admin_dsn) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


@contextlib.contextmanager
def dropping(admin_dsn: str) -> Iterator[list[str]]:
    """Drop the databases the block lists (only those: other tests share the server)."""
    names: list[str] = []
    try:
        yield names
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _none_created(admin_dsn: str, names: list[str]) -> None:
    """None of ``names`` (nor its 63-byte truncation, as PostgreSQL would store it) exists."""
    present = _databases(admin_dsn)
    for name in names:
        assert name not in present
        assert name.encode()[:63].decode(errors="ignore") not in present


def _pg_target(pg_database: str) -> str:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int)")
        conn.execute("INSERT INTO t SELECT generate_series(1, 3)")
    return f"    - {{name: pg, source: postgresql, dsn: '{pg_database}'}}\n"


def test_postgresql_restores_reach_only_the_targets_server(
    project: Path, sqlite_catalog: Catalog, pg_database: str, pg_server: str
) -> None:
    """A ``to`` that would connect elsewhere, in any form libpq reads, is 422 before any
    connection; bad database names are 422 and create nothing; the target's own server works."""
    with (
        serving(project, sqlite_catalog, targets=_pg_target(pg_database)) as api,
        dropping(pg_server) as created,
        listening() as other,
        listening(5432) as by_addr,
        unix_listener(project) as local,
    ):
        backup_id = api.backup("pg")
        u = "user=postgres dbname=x"
        for to in (
            f"postgresql://postgres@{other.host}:{other.port}/x",
            f"host={other.host} port={other.port} {u}",
            f"host = {other.host}  port = {other.port} {u}",
            f"host=127.0.0.1,{other.host} port=5432,{other.port} {u}",
            f"postgresql://postgres@127.0.0.1:5432,{other.host}:{other.port}/x",
            f"host=127.0.0.1 hostaddr={by_addr.host} port=5432 {u}",
            f"postgresql://postgres@127.0.0.1:5432/x?host={other.host}&port={other.port}",
            f"postgresql://postgres@127.0.0.1/x?port={other.port}",
            f"host={local.host} port=5432 {u}",
            f"postgresql://postgres@{local.host.replace('/', '%2F')}:5432/x",
        ):
            _refused(api.restore(backup_id, {"to": to}), "to: connects to", "allowed: 127.0.0.1")
        _refused(
            api.restore(backup_id, {"to": "host=127.0.0.1 port=5432 dbname=x service=evil"}),
            "option 'service'",
        )
        _refused(
            api.restore(backup_id, {"to": "host=127.0.0.1 port=5432 dbname=x passfile=/x"}),
            "option 'passfile'",
        )
        _refused(api.restore(backup_id, {"to": "host=127.0.0.1 port=5432"}), "name the database")
        _refused(api.restore(backup_id, {"to": "not a dsn"}), "not a libpq connection string")
        names = ["../../etc", "a" * 200, "é" * 40, "a.b", "a/b", "-x", "", "a b"]
        for name in names:
            _refused(api.restore(backup_id, {"database": name}), "database:", "database name")
        # a NUL anywhere in a payload is refused by the server before the route sees it
        _refused(api.restore(backup_id, {"database": "x\0y"}), "database", "NUL")
        for db in ("..%2F..%2Fetc", "b" * 100, "b.c"):
            _refused(
                api.restore(backup_id, {"to": f"postgresql://postgres@127.0.0.1:5432/{db}"}),
                "to: database name",
            )
        _refused(api.restore(backup_id, {"to": pg_database, "force": True}), "admin", status=403)
        assert [other.connections(), by_addr.connections(), local.connections()] == [0, 0, 0]
        _none_created(pg_server, [*names, "x", "b" * 100, "b.c"])

        name = f"bt_ok-{secrets.token_hex(4)}"
        created.append(name)
        done = api.restore(backup_id, {"database": name})
        assert done.status_code == 200, done.text
        empty = f"bt_empty_{secrets.token_hex(4)}"
        created.append(empty)
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{empty}"')
        secret = "host=127.0.0.1 port=5432 user=postgres password = hunter2-pw"
        _refused(api.restore(backup_id, {"to": f"{secret} dbname=a.b"}), "to: database name")
        into = api.restore(backup_id, {"to": f"{secret} dbname={empty}"})  # trust: pw unused
        assert into.status_code == 200, into.text
        audit = api.client.get(
            "/api/v1/audit?action=backup.restore",
            headers={"Authorization": f"Bearer {api.tokens['admin']}"},
        )
        assert audit.json()[0]["detail"]["into"] == f"postgresql database {empty} on 127.0.0.1:5432"
        assert "hunter2" not in audit.text
        for restored in (name, empty):
            dsn = pg_server.rsplit("/", 1)[0] + f"/{restored}"
            with psycopg.connect(dsn) as conn:
                assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)


def test_restore_servers_widen_the_allowed_servers(
    project: Path, sqlite_catalog: Catalog, pg_database: str, pg_server: str
) -> None:
    """A server listed in ``backup.restore_servers`` is allowed besides the target's own; by
    default it is not (the target names its server ``localhost``, the request 127.0.0.1)."""
    own = pg_database.replace("@127.0.0.1:", "@localhost:")
    empty = f"bt_empty_{secrets.token_hex(4)}"
    to = f"postgresql://postgres@127.0.0.1:5432/{empty}"
    target = _pg_target(own)
    with dropping(pg_server) as created:
        created.append(empty)
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{empty}"')
        with serving(project, sqlite_catalog, targets=target) as api:
            backup_id = api.backup("pg")
            _refused(api.restore(backup_id, {"to": to}), "connects to 127.0.0.1:5432")
        allowed = "  restore_servers: ['127.0.0.1:5432']\n"
        with serving(project, sqlite_catalog, backup=allowed, targets=target) as api:
            done = api.restore(backup_id, {"to": to})
            assert done.status_code == 200, done.text
        with psycopg.connect(pg_server.rsplit("/", 1)[0] + f"/{empty}") as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)


def test_mariadb_restores_reach_only_the_targets_server(
    project: Path, sqlite_catalog: Catalog, mariadb_database: str, mariadb_server: dict[str, Any]
) -> None:
    """A mariadb ``to`` elsewhere or with a bad database name is 422 before any connection, and
    no database is created; ``database`` on the target's server works."""
    import pymysql

    def databases() -> set[str]:
        conn = pymysql.connect(**mariadb_server)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW DATABASES")
                return {r[0] for r in cur.fetchall()}
        finally:
            conn.close()

    conn = pymysql.connect(**mariadb_server, database=mariadb_database.rsplit("/", 1)[1])
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id int)")
        cur.execute("INSERT INTO t VALUES (1), (2)")
    conn.commit()
    conn.close()
    target = f"    - {{name: maria, source: mariadb, dsn: '{mariadb_database}'}}\n"
    name = f"bt_ok_{secrets.token_hex(4)}"
    tried = ["../../etc", "a" * 100, "a" * 64]
    with serving(project, sqlite_catalog, targets=target) as api, listening() as other:
        backup_id = api.backup("maria")
        try:
            _refused(api.restore(backup_id, {"database": "../../etc"}), "database name")
            for db in ("..%2F..%2Fetc", "a" * 100):
                _refused(
                    api.restore(backup_id, {"to": f"mariadb://root@127.0.0.1:3306/{db}"}),
                    "to: database name",
                )
            _refused(
                api.restore(backup_id, {"to": f"mariadb://root@{other.host}:{other.port}/x"}),
                "to: connects to",
            )
            _refused(api.restore(backup_id, {"to": "mariadb://root@127.0.0.1:3307/x"}), "connects")
            assert other.connections() == 0
            assert not set(tried) & databases()  # the server is shared: only these names
            done = api.restore(backup_id, {"database": name})
            assert done.status_code == 200, done.text
            assert name in databases()
        finally:
            conn = pymysql.connect(**mariadb_server, autocommit=True)
            for created in ("../../etc", "a" * 64, name):  # longer names cannot exist
                conn.cursor().execute(f"DROP DATABASE IF EXISTS `{created}`")
            conn.close()


def test_served_restores_go_inside_the_data_directory(project: Path) -> None:
    """``buttress serve --data-dir D`` restores a relative ``to`` into ``D/restored`` (not the
    server's working directory) and refuses ``..`` out of it."""
    config = config_file(project, recipient(project))
    server = start_server(project / "data", env={"BUTTRESS_CONFIG": config})
    try:
        assert server.admin_token is not None
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        api = f"{server.url}api/v1/backups"
        backup_id = httpx.post(f"{api}/targets/site/run", headers=headers).json()["id"]
        deadline = time.monotonic() + 60
        while httpx.get(f"{api}/runs/{backup_id}", headers=headers).json()["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        out = httpx.post(
            f"{api}/runs/{backup_id}/restore", json={"to": "../../out"}, headers=headers
        )
        _refused(out, "not inside a restore root", str(project / "data" / "restored"))
        assert not (project / "out").exists()
        done = httpx.post(f"{api}/runs/{backup_id}/restore", json={"to": "x"}, headers=headers)
        assert done.status_code == 200, done.text
        assert (project / "data" / "restored" / "x" / "index.html").is_file()
        assert not (project / "x").exists()
    finally:
        assert server.stop() == 0
