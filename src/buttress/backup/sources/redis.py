"""Redis: an RDB snapshot of the whole server, taken over the replication protocol
(``redis-cli --rdb``: the server forks and streams a point-in-time copy; nothing is written on
the server's disk when it uses diskless replication).

The snapshot lands in a temporary file first (``tmp_dir``, default the system's), where its
keys are counted per database and type straight from the RDB (:mod:`.rdb`); then it is
streamed through the pipeline. A restore writes ``dump.rdb`` into a directory, and a
``redis-server --dir DIR --dbfilename dump.rdb`` started there serves the data; the restore
test does exactly that on a private socket and compares the key counts.

The password reaches redis-cli through ``REDISCLI_AUTH``, never argv.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from buttress.backup.errors import BackupError, RestoreError
from buttress.backup.sources.base import ReadArtifact, Source, run_tool
from buttress.backup.sources.rdb import RdbError, count_keys
from buttress.secrets import mask_url, redact

__all__ = ["RedisSource", "serve_rdb"]

TYPES = ("string", "list", "set", "zset", "hash", "stream")


class RedisSource(Source):
    """One Redis server (every database in it).

    Args:
        dsn: ``redis://[user:password@]host:port``.
        tmp_dir: where the snapshot waits while it is counted and streamed.
        connect_timeout: seconds.
    """

    kind = "redis"
    dsn: str

    def __init__(
        self, dsn: str, *, tmp_dir: str | Path | None = None, connect_timeout: float = 10.0
    ) -> None:
        parts = urlsplit(dsn)
        if parts.scheme != "redis" or not parts.hostname:
            raise BackupError(
                f"redis dsn {mask_url(dsn)!r}: expected redis://[user:password@]host:port"
            )
        self.dsn = dsn
        self.host = parts.hostname
        self.port = parts.port or 6379
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.tmp_dir = Path(tmp_dir) if tmp_dir else None
        self.connect_timeout = connect_timeout
        self._meta: dict[str, Any] = {}

    def describe(self) -> str:
        return f"redis {mask_url(self.dsn)}"

    def location(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "user": self.user}

    @property
    def artifacts(self) -> list[str]:
        return ["rdb"]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("REDISCLI_AUTH", None)
        if self.password is not None:
            env["REDISCLI_AUTH"] = self.password
        return env

    def _cli(self, *args: str) -> list[str]:
        base = ["redis-cli", "-h", self.host, "-p", str(self.port)]
        if self.user:
            base += ["--user", self.user]
        return base + list(args)

    def check(self) -> dict[str, Any]:
        import redis

        client = redis.Redis(
            host=self.host,
            port=self.port,
            username=self.user,
            password=self.password,
            socket_connect_timeout=self.connect_timeout,
            socket_timeout=self.connect_timeout,
        )
        try:
            version = str(client.info("server")["redis_version"])
        except redis.RedisError as exc:
            raise BackupError(f"{self.describe()}: {redact(str(exc))}") from None
        finally:
            client.close()
        return {"server_version": version}

    @contextlib.contextmanager
    def dump(self, artifact: str) -> Iterator[BinaryIO]:
        with tempfile.TemporaryDirectory(prefix="buttress-rdb-", dir=self.tmp_dir) as folder:
            path = Path(folder) / "dump.rdb"
            run_tool("redis-cli", self._cli("--rdb", str(path)), self._env(), self.describe())
            if not path.is_file() or path.stat().st_size == 0:
                raise BackupError(f"{self.describe()}: redis-cli --rdb wrote no snapshot")
            with open(path, "rb") as f:
                try:
                    counts = count_keys(f)
                except RdbError as exc:
                    raise BackupError(f"{self.describe()}: snapshot unreadable: {exc}") from None
                self._meta = {"keys": counts.keys, "volatile": counts.volatile}
                f.seek(0)
                yield f

    def metadata(self) -> dict[str, Any]:
        return self._meta

    # -- restore -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def scratch(self) -> Iterator[str]:
        with tempfile.TemporaryDirectory(prefix="buttress-restore-", dir=self.tmp_dir) as folder:
            yield folder

    def restore(
        self, read: ReadArtifact, to: str, *, force: bool = False, tables: list[str] | None = None
    ) -> str:
        if tables:
            raise RestoreError("redis: --tables does not apply; the snapshot is restored whole")
        folder = Path(to)
        target = folder / "dump.rdb"
        if target.exists() and not force:
            raise RestoreError(f"redis {target} exists; choose a new directory, or pass --force")
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / "dump.rdb.partial"
        try:
            with open(partial, "wb") as out:
                read("rdb", out)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return (
            f"redis snapshot {target} (serve it with: redis-server --dir {folder} "
            "--dbfilename dump.rdb)"
        )

    def contents(self, to: str) -> list[str] | None:
        """A directory holding a ``dump.rdb`` is not empty; a missing one is None."""
        folder = Path(to)
        if not folder.exists():
            return None
        return ["a dump.rdb"] if (folder / "dump.rdb").exists() else []

    def remove(self, to: str) -> None:
        """Remove the directory a failed restore created (empty: its .partial is gone)."""
        with contextlib.suppress(OSError):
            Path(to).rmdir()

    def inspect(self, where: str, tables: list[str] | None = None) -> dict[str, Any]:
        with serve_rdb(Path(where) / "dump.rdb") as client:
            keys: dict[str, dict[str, int]] = {}
            volatile: dict[str, int] = {}
            for db_name, info in client.info("keyspace").items():
                index = int(str(db_name)[2:])
                client.execute_command("SELECT", index)
                per_type = {}
                for kind in TYPES:
                    n = sum(1 for _ in client.scan_iter(count=1000, _type=kind))
                    if n:
                        per_type[kind] = n
                keys[str(db_name)] = per_type
                if info.get("expires"):
                    volatile[str(db_name)] = int(info["expires"])
            return {"keys": keys, "volatile": volatile}

    def compare(self, recorded: dict[str, Any], actual: dict[str, Any]) -> list[str]:
        """Key counts per database and type must match, except that keys which carried an
        expiry may have expired since the snapshot (a server drops them when loading)."""
        problems = []
        want: dict[str, dict[str, int]] = recorded.get("keys", {})
        got: dict[str, dict[str, int]] = actual.get("keys", {})
        for db in sorted(set(want) | set(got)):
            missing = 0
            for kind in sorted(set(want.get(db, {})) | set(got.get(db, {}))):
                w, g = want.get(db, {}).get(kind, 0), got.get(db, {}).get(kind, 0)
                if g > w:
                    problems.append(f"keys[{db}][{kind}]: backed up {w}, restored {g}")
                missing += w - g if g < w else 0
            allowed = recorded.get("volatile", {}).get(db, 0)
            if missing > allowed:
                problems.append(
                    f"keys[{db}]: {missing} keys missing after restore, only {allowed} "
                    "had an expiry"
                )
        return problems


@contextlib.contextmanager
def serve_rdb(path: Path, timeout: float = 60.0) -> Iterator[Any]:
    """A private redis-server (unix socket only, no TCP port, nothing saved) serving the RDB
    file ``path``; yields a redis-py client, stops the server afterwards."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        raise BackupError("redis-server is not installed (needed to serve a restored snapshot)")
    if not path.is_file():
        raise RestoreError(f"no snapshot at {path}")
    with tempfile.TemporaryDirectory(prefix="buttress-redis-") as run_dir:
        sock = Path(run_dir) / "redis.sock"
        log = Path(run_dir) / "redis.log"
        proc = subprocess.Popen(
            [
                binary,
                "--port", "0",
                "--unixsocket", str(sock),
                "--unixsocketperm", "700",
                "--dir", str(path.parent),
                "--dbfilename", path.name,
                "--save", "",
                "--appendonly", "no",
                "--logfile", str(log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(unix_socket_path=str(sock), socket_timeout=timeout)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    tail = log.read_text(errors="replace").strip().splitlines()[-3:]
                    raise RestoreError(
                        f"redis-server refused the snapshot {path}: {' | '.join(tail)}"
                    )
                try:
                    if client.ping() and not int(client.info("persistence")["loading"]):
                        break
                except (redis.ConnectionError, redis.BusyLoadingError, FileNotFoundError):
                    pass
                if time.monotonic() > deadline:
                    raise RestoreError(f"redis-server did not load {path} within {timeout:g}s")
                time.sleep(0.02)
            yield client
        finally:
            client.close()
            proc.kill()
            proc.wait()
