"""Private PostgreSQL clusters for the WAL, base-backup and PITR tests: ``initdb`` into a
folder of the test's, started on a free port as the ``postgres`` OS user (PostgreSQL refuses to
run as root), with whatever settings the test asks for (``archive_mode``...).

``archive_command``/``restore_command`` run as that user, so the buttress they call (this
checkout's, through ``PYTHONPATH``, which the server inherits from ``pg_ctl``) and every file it
reads must be readable by it: :func:`postgres_can_run_buttress` says whether it is
(``scripts/check.sh`` makes it so), and the folders the fixture makes are the user's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import free_port

AS_PG = ["runuser", "-u", "postgres", "--"]
SRC = Path(__file__).resolve().parents[2] / "src"


def bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("no PostgreSQL server programs in /usr/lib/postgresql; run scripts/check.sh")
    return found[-1].parent


def buttress_command() -> str:
    """The buttress a server's archive/restore command runs: this interpreter's, this tree's."""
    return f"{sys.executable} -m buttress"


def postgres_can_run_buttress() -> str:
    """Why the postgres OS user cannot run this checkout's buttress ("" when it can)."""
    run = subprocess.run(
        [*AS_PG, "env", f"PYTHONPATH={SRC}", sys.executable, "-c", "import buttress"],
        capture_output=True,
        text=True,
    )
    return "" if run.returncode == 0 else (run.stderr.strip() or f"exit code {run.returncode}")


def pg_env() -> dict[str, str]:
    """The environment a server (and so its archive/restore command) starts with."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "BUTTRESS_"))}
    env["PYTHONPATH"] = str(SRC)
    return env


def owned_dir(prefix: str) -> Path:
    """A new folder the postgres user owns (pytest's tmp_path is root-only)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    shutil.chown(root, "postgres", "postgres")
    return root


def chown_tree(path: Path) -> None:
    """Give ``path`` and everything under it to the postgres user."""
    shutil.chown(path, "postgres", "postgres")
    for p in path.rglob("*"):
        shutil.chown(p, "postgres", "postgres")


@dataclass
class Cluster:
    """One private cluster: its data directory, port and log."""

    root: Path
    data: Path
    port: int
    bin: Path
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*AS_PG, str(self.bin / "pg_ctl"), "-D", str(self.data), *args],
            capture_output=True,
            text=True,
            check=check,
            env=pg_env(),
        )

    def start(self, wait: bool = True) -> None:
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
        args = ["-l", str(self.log), "-o", options]
        run = self.pg_ctl(*(["-w", "-t", "60"] if wait else ["-W"]), *args, "start", check=False)
        if run.returncode != 0:
            tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise AssertionError(f"pg_ctl start failed: {run.stderr}\n{tail}")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "-w", "stop", check=False)

    def running(self) -> bool:
        return self.pg_ctl("status", check=False).returncode == 0

    def configure(self, **settings: Any) -> None:
        """Append settings to postgresql.conf (a restart or reload applies them)."""
        self.settings.update(settings)
        with (self.data / "postgresql.conf").open("a") as f:
            for key, value in settings.items():
                text = value if isinstance(value, int | float) else f"'{value}'"
                f.write(f"{key} = {text}\n")

    def sql(self, query: str, params: Sequence[Any] = (), database: str = "postgres") -> list[Any]:
        with psycopg.connect(self.dsn(database), autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def value(self, query: str, params: Sequence[Any] = (), database: str = "postgres") -> Any:
        rows = self.sql(query, params, database)
        return rows[0][0] if rows else None

    def switch_wal(self) -> str:
        """Force a segment switch (the current segment is archived); the finished one's name."""
        return str(self.value("SELECT pg_walfile_name(pg_switch_wal())"))

    def wait_archived(self, name: str, timeout: float = 60) -> None:
        """Until ``pg_stat_archiver`` says ``name`` (or a later segment) was archived."""
        deadline = time.monotonic() + timeout
        while True:
            last, failed = self.sql(
                "SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver"
            )[0]
            if last is not None and last >= name:
                return
            if time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise AssertionError(
                    f"{name} not archived in {timeout}s (last {last}, failed {failed})\n{tail}"
                )
            time.sleep(0.1)

    def pgbench(self, *args: str, database: str = "postgres") -> str:
        run = subprocess.run(
            ["pgbench", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", *args, database],
            capture_output=True,
            text=True,
            check=True,
        )
        return run.stdout + run.stderr


def make_cluster(root: Path, start: bool = True, **settings: Any) -> Cluster:
    """initdb a new cluster in ``root``/data (``root`` owned by postgres), with ``settings``."""
    data = root / "data"
    (root / "sock").mkdir(exist_ok=True)
    shutil.chown(root / "sock", "postgres", "postgres")
    cluster = Cluster(root, data, free_port(), bin_dir())
    run = subprocess.run(
        [
            *AS_PG,
            str(cluster.bin / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise AssertionError(f"initdb failed: {run.stderr}")
    base = {"fsync": "off", "max_wal_senders": 4, "wal_level": "replica"}
    cluster.configure(**{**base, **settings})
    if start:
        cluster.start()
    return cluster


@pytest.fixture
def pg_clusters() -> Iterator[list[Cluster]]:
    """Make clusters with ``make_cluster(owned_dir(...))`` and append them here: each is
    stopped (immediately) and removed after the test."""
    made: list[Cluster] = []
    reason = postgres_can_run_buttress()
    if reason:
        pytest.fail(
            f"the postgres OS user cannot run buttress from this checkout ({reason}); "
            "run scripts/check.sh (it lets that user reach the Python interpreter)"
        )
    yield made
    for cluster in made:
        cluster.stop("immediate")
        shutil.rmtree(cluster.root, ignore_errors=True)
