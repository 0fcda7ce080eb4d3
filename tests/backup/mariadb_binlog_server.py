"""A private MariaDB server with binary logging for the binlog/PITR tests: ``mariadb-install-db``
into a temporary folder, ``mariadbd --log-bin`` on a free port, a user with a password (so
that the tests can look for it where it must not be); stopped and removed afterwards."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest

from tests.conftest import free_port

__all__ = ["BinlogServer", "binlog_server"]


@dataclass
class BinlogServer:
    port: int
    user: str
    password: str
    folder: Path

    def dsn(self, database: str) -> str:
        return f"mariadb://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str | None = None) -> Any:
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            database=database,
            autocommit=True,
        )

    def query(self, sql: str, database: str | None = None) -> list[tuple[Any, ...]]:
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())
        finally:
            conn.close()

    def now(self) -> float:
        """The server's clock (binlog event times are the server's)."""
        return float(self.query("SELECT UNIX_TIMESTAMP(NOW(6))")[0][0])


def _start(folder: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "mariadbd",
            "--no-defaults",
            f"--datadir={folder / 'data'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={folder / 'mysqld.sock'}",
            f"--pid-file={folder / 'mysqld.pid'}",
            f"--log-error={folder / 'error.log'}",
            f"--log-bin={folder / 'data' / 'binlog'}",
            "--server-id=1",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M",
            "--user=root",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def binlog_server() -> Iterator[BinlogServer]:
    """A private mariadbd with --log-bin; fails (never skips) when it cannot start."""
    folder = Path(tempfile.mkdtemp(prefix="buttress-binlog-db-"))
    install = subprocess.run(
        [
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={folder / 'data'}",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"mariadb-install-db failed: {install.stdout[-800:]} {install.stderr[-800:]}")
    port = free_port()
    proc = _start(folder, port)
    server = BinlogServer(port, "archivist", f"pw-{secrets.token_hex(8)}", folder)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="")
                break
            except pymysql.Error:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (folder / "error.log").read_text(errors="replace")[-2000:]
                    pytest.fail(f"private mariadbd did not start: {log}")
                time.sleep(0.2)
        with conn.cursor() as cur:
            cur.execute(f"CREATE USER '{server.user}'@'%' IDENTIFIED BY '{server.password}'")
            cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{server.user}'@'%'")
        conn.close()
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)
