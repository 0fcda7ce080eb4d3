"""PostgreSQL, physical (``kind: physical``): ``pg_basebackup`` of the whole cluster, tar
format, streamed through the pipeline with the WAL that makes it consistent (``-X fetch``):
one artifact, ``base``, the base of point-in-time recovery.

As the tar passes, ``backup_label``, ``backup_manifest`` and ``global/pg_control`` are kept
from it (:mod:`.tar_scan`) and pg_basebackup's stderr is read: the start and stop LSN,
timeline, WAL segments and times go into the manifest's ``metadata["physical"]`` (and the
catalog's ``detail["physical"]``). ``cat base.* | age -d -i key | zstd -d | tar -x -C DIR``
gives the data directory back with stock tools.

A restore test untars into a scratch folder, checks every file against the backup's own
manifest (``pg_verifybackup``), starts the server on a free port to the end of the backup
(``recovery_target = immediate``), compares what the backup recorded (system identifier,
databases, PostgreSQL version, files), stops it and removes the folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from buttress.backup.errors import BackupError, RestoreError
from buttress.backup.sources.base import ReadArtifact, Source, Tool, Unpacking, run_tool
from buttress.backup.sources.postgresql import PostgresSource, _split
from buttress.backup.sources.tar_scan import TarScanner
from buttress.backup.wal import postmaster
from buttress.backup.wal.names import format_lsn, parse_lsn, segment_name, segment_of
from buttress.backup.wal.recovery import RecoveryTarget, write_recovery
from buttress.secrets import redact_echo

__all__ = ["COMPARED", "PhysicalPostgresSource"]

ARTIFACT = "base"
COMPARED = ("databases", "files", "pg_version", "system_identifier")
"""The recorded facts a restore test compares with the restored cluster (exact ones)."""

_KEEP = {
    "backup_label": 1 << 16,
    "backup_manifest": 256 << 20,
    "global/pg_control": 1 << 16,
    "PG_VERSION": 64,
}
_END_POINT = re.compile(r"write-ahead log end point: ([0-9A-Fa-f]+/[0-9A-Fa-f]+)")
_SCRATCH_HBA = "local all all trust\n"  # the restore test's server: its own socket only


def _label(text: str) -> dict[str, str]:
    """``backup_label``'s ``KEY: value`` lines."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _label_time(text: str) -> dt.datetime | None:
    """``START TIME`` of a label written in UTC/GMT (None for other zones' abbreviations)."""
    for zone in (" UTC", " GMT"):
        if text.endswith(zone):
            try:
                return dt.datetime.strptime(text[: -len(zone)], "%Y-%m-%d %H:%M:%S").replace(
                    tzinfo=dt.UTC
                )
            except ValueError:
                return None
    return None


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat()


class PhysicalPostgresSource(Source):
    """A whole PostgreSQL cluster, by ``pg_basebackup`` (see the module's docstring).

    Args:
        dsn: a connection string of a role allowed to replicate (``REPLICATION``, and a
            ``replication`` line in pg_hba.conf); its database is used for the SQL questions.
        bin_dir: the server programs a restore starts (default: the newest installed).
        tmp_dir: where restore tests make their scratch clusters (default: the system's).
    """

    kind = "postgresql"
    dsn: str

    def __init__(
        self,
        dsn: str,
        *,
        bin_dir: Path | None = None,
        tmp_dir: Path | None = None,
        connect_timeout: float = 10,
    ) -> None:
        self.dsn = dsn
        self.bin_dir = bin_dir
        self.tmp_dir = tmp_dir
        self._sql = PostgresSource(dsn, globals=False, connect_timeout=connect_timeout)
        self._facts: dict[str, Any] = {}
        self._scanner: TarScanner | None = None
        self._stderr = ""
        self._servers: dict[str, postmaster.Server] = {}
        self._verified: dict[str, int] = {}

    def describe(self) -> str:
        return f"postgresql cluster {self._sql.describe().removeprefix('postgresql ')}"

    def location(self) -> dict[str, Any]:
        return {**self._sql.location(), "backup": "physical"}

    @property
    def artifacts(self) -> list[str]:
        return [ARTIFACT]

    # -- backup --------------------------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        conn = self._sql._connect()
        try:
            server, num, segment, now = conn.execute(
                "SELECT current_setting('server_version'), "
                "current_setting('server_version_num')::int, "
                "(SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'), "
                "clock_timestamp()"
            ).fetchone()
            system = None
            with contextlib.suppress(Exception):  # a role without the right: pg_control says
                system = conn.execute(
                    "SELECT system_identifier FROM pg_control_system()"
                ).fetchone()[0]
        finally:
            conn.close()  # none is held while the backup runs (an idle one may be cut)
        client = run_tool(
            "pg_basebackup", ["pg_basebackup", "--version"], None, "pg_basebackup --version"
        ).strip()
        client_major, server_major = int(client.split()[-1].split(".")[0]), num // 10000
        if client_major < server_major:
            raise BackupError(
                f"{self.describe()}: server is PostgreSQL {server} but {client} is older; "
                f"install pg_basebackup {server_major} or newer"
            )
        self._facts = {
            "segment_size": int(segment),
            "pg_server_version": server,
            "checked_time": now,
            "system_identifier": None if system is None else str(system),
        }
        return {"server_version": server, "client_version": client}

    @contextlib.contextmanager
    def dump(self, artifact: str) -> Iterator[BinaryIO]:
        if artifact != ARTIFACT:
            raise BackupError(f"{self.describe()}: no artifact {artifact!r} (only {ARTIFACT!r})")
        dsn, env = _split(self.dsn)
        # a tar of the whole cluster on stdout, with the WAL that makes it consistent
        args = [
            "pg_basebackup", "--no-password", "-d", dsn,
            "-D", "-", "-Ft", "-X", "fetch", "-c", "fast", "-v",
        ]  # fmt: skip
        tool = Tool("pg_basebackup", args, env, stdin=False)
        scanner = self._scanner = TarScanner(tool.stdout, _KEEP)  # type: ignore[arg-type]
        try:
            yield scanner  # type: ignore[misc]
        except BaseException:
            tool.kill()
            raise
        tool.proc.wait()
        tool.stderr.seek(0)
        self._stderr = redact_echo(tool.stderr.read().decode(errors="replace"), self.dsn)
        tool.finish(f"{self.describe()} ({artifact})")
        if scanner.problem:
            raise BackupError(f"{self.describe()}: pg_basebackup's tar: {scanner.problem}")

    def metadata(self) -> dict[str, Any]:
        scanner = self._scanner
        if scanner is None:
            raise BackupError(f"{self.describe()}: metadata asked before the dump")
        missing = [n for n in ("backup_label", "global/pg_control") if n not in scanner.captured]
        if missing:
            raise BackupError(f"{self.describe()}: pg_basebackup's tar has no {', '.join(missing)}")
        label = _label(scanner.captured["backup_label"].decode(errors="replace"))
        start_lsn = parse_lsn(label["START WAL LOCATION"].split()[0])
        timeline = int(label.get("START TIMELINE", "1"))
        manifest: dict[str, Any] = {}
        if "backup_manifest" in scanner.captured:
            with contextlib.suppress(ValueError):
                manifest = json.loads(scanner.captured["backup_manifest"])
        ranges = manifest.get("WAL-Ranges") or []
        end = _END_POINT.search(self._stderr)
        if ranges:
            stop_lsn = parse_lsn(ranges[-1]["End-LSN"])
            stop_timeline = int(ranges[-1]["Timeline"])
        elif end:
            stop_lsn, stop_timeline = parse_lsn(end.group(1)), timeline
        else:
            raise BackupError(f"{self.describe()}: pg_basebackup did not say where the backup ends")
        conn = self._sql._connect()
        try:
            # read after pg_basebackup ended, on the server's clock: no earlier than the stop
            stop_time = conn.execute("SELECT clock_timestamp()").fetchone()[0]
            rows = conn.execute("SELECT datname, oid::bigint FROM pg_database ORDER BY 1")
            databases = {str(n): int(o) for n, o in rows.fetchall() if int(o) in scanner.oids}
        finally:
            conn.close()
        control = scanner.captured["global/pg_control"]
        system = self._facts.get("system_identifier") or str(int.from_bytes(control[:8], "little"))
        size = int(self._facts.get("segment_size") or 16 << 20)
        start = _label_time(label.get("START TIME", "")) or self._facts.get("checked_time")
        version = scanner.captured.get("PG_VERSION", b"").decode().strip()
        physical = {
            "timeline": timeline,
            "stop_timeline": stop_timeline,
            "start_lsn": format_lsn(start_lsn),
            "stop_lsn": format_lsn(stop_lsn),
            "start_wal": segment_name(timeline, segment_of(start_lsn, size), size),
            # the last segment the backup needs (its stop point may open the next one)
            "stop_wal": segment_name(stop_timeline, segment_of(stop_lsn - 1, size), size),
            "system_identifier": system,
            "segment_size": size,
            "start_time": _iso(start) if isinstance(start, dt.datetime) else None,
            "stop_time": _iso(stop_time),
            "pg_version": version,
            "server_version": self._facts.get("pg_server_version"),
            "databases": databases,
            "checkpoint_lsn": label.get("CHECKPOINT LOCATION"),
            "manifest_checksum": manifest.get("Manifest-Checksum"),
            "tar_members": scanner.members,
        }
        return {
            "physical": physical,
            "system_identifier": system,
            "databases": databases,
            "pg_version": version,
            "files": len(manifest.get("Files") or []),
        }

    # -- restore -------------------------------------------------------------------------------

    def unpack(self, read: ReadArtifact, to: Path) -> Path:
        """Untar the base backup into ``to`` (made by :func:`postmaster.new_datadir`), as it
        streams; then modes and ownership the server wants."""
        unpacking = Unpacking(to)
        try:
            with contextlib.suppress(BrokenPipeError):  # the untar stopped: finish says why
                read(ARTIFACT, unpacking.writer)
        except BaseException:
            with contextlib.suppress(BaseException):
                unpacking.finish()
            raise
        try:
            unpacking.finish()
        except BackupError as exc:
            raise RestoreError(str(exc)) from None
        if not (to / "PG_VERSION").exists() or not (to / "backup_label").exists():
            raise RestoreError(f"{to}: the backup held no data directory (no PG_VERSION)")
        postmaster.owned(to)
        return to

    def verify_files(self, datadir: Path) -> int:
        """``pg_verifybackup`` of a restored, not yet started, data directory against the
        backup's own manifest (every file's checksum, and the WAL it needs); the number of
        files it lists. RestoreError with its message when anything differs."""
        manifest = datadir / "backup_manifest"
        if not manifest.exists():
            raise RestoreError(f"{datadir}: the backup holds no backup_manifest to check with")
        tool = postmaster.server_bin(self.bin_dir) / "pg_verifybackup"
        run = subprocess.run(
            [str(tool), "--quiet", str(datadir)], capture_output=True, text=True, check=False
        )
        if run.returncode != 0:
            lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
            raise RestoreError(f"pg_verifybackup {datadir}: {' | '.join(lines[-5:])}")
        files = json.loads(manifest.read_bytes()).get("Files") or []
        return len(files)

    @contextlib.contextmanager
    def scratch(self) -> Iterator[str]:
        """A new folder for a scratch cluster (postgres's when root); afterwards its server is
        stopped and the folder removed."""
        root = Path(tempfile.mkdtemp(prefix="buttress-pitr-test-", dir=self.tmp_dir))
        try:
            root.chmod(0o711)  # the postgres user goes through it to its data directory
            postmaster.give(root)
            yield str(root / "data")
        finally:
            server = self._servers.pop(str(root / "data"), None)
            if server is not None:
                server.stop("immediate")
            shutil.rmtree(root, ignore_errors=True)

    def restore(
        self, read: ReadArtifact, to: str, *, force: bool = False, tables: list[str] | None = None
    ) -> str:
        """A restore test's restore: into ``to`` (a :meth:`scratch` folder), files checked,
        server started on a free port of its own socket to the end of the backup."""
        if tables:
            raise RestoreError("a physical backup restores the whole cluster (no --tables)")
        datadir = Path(to)
        root = datadir.parent
        postmaster.new_datadir(datadir)
        self.unpack(read, datadir)
        self._verified[to] = self.verify_files(datadir)
        postmaster.ensure_config(datadir)  # after the check: pg_verifybackup counts extra files
        sock = root / "sock"
        sock.mkdir(mode=0o700, exist_ok=True)
        hba = root / "pg_hba.conf"
        hba.write_text(_SCRATCH_HBA)
        postmaster.give(sock)
        postmaster.give(hba)
        write_recovery(
            datadir,
            RecoveryTarget("immediate"),
            "false",  # the test proves the base alone restores: its tar holds the WAL
            {"archive_mode": "off"},
            note="restore test",
        )
        server = postmaster.Server(
            datadir,
            postmaster.server_bin(self.bin_dir),
            {
                "port": str(_free_port()),
                "listen_addresses": "",
                "unix_socket_directories": str(sock),
                "hba_file": str(hba),
                "lc_messages": "C",
                "logging_collector": "off",
            },
        )
        self._servers[to] = server
        server.start()
        outcome = server.wait()
        if outcome.state != "promoted":
            raise RestoreError(
                f"restore test of {self.describe()}: recovery to the end of the backup "
                f"{outcome.state}: {outcome.error or outcome.reached()}"
            )
        return f"scratch cluster {datadir} ({outcome.reached()})"

    def inspect(self, where: str, tables: list[str] | None = None) -> dict[str, Any]:
        import psycopg

        server = self._servers.get(where)
        if server is None:
            raise RestoreError(f"{where}: no restored server of this restore test is running")
        port = server.options["port"]
        sock = server.options["unix_socket_directories"]
        user = str(self._sql.location().get("user") or "postgres")
        try:
            with psycopg.connect(
                host=sock, port=port, user=user, dbname="postgres", connect_timeout=10
            ) as conn:
                system = conn.execute("SELECT system_identifier FROM pg_control_system()")
                system_id = str(system.fetchone()[0])  # type: ignore[index]
                rows = conn.execute("SELECT datname, oid::bigint FROM pg_database ORDER BY 1")
                databases = {str(n): int(o) for n, o in rows.fetchall()}
        except psycopg.Error as exc:
            raise RestoreError(f"restored cluster {where}: {exc}") from None
        version = (Path(where) / "PG_VERSION").read_text().strip()
        return {
            "system_identifier": system_id,
            "databases": databases,
            "pg_version": version,
            "files": self._verified.get(where, 0),
        }

    def compared(self, recorded: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in recorded.items() if k in COMPARED}

    def compare(self, recorded: dict[str, Any], actual: dict[str, Any]) -> list[str]:
        from buttress.backup.sources.base import compare_metadata

        return compare_metadata(self.compared(recorded), actual)

    def contents(self, to: str) -> list[str] | None:
        path = Path(to)
        if not path.exists():
            return None
        return [f"{len(list(path.iterdir()))} entries"] if any(path.iterdir()) else []

    def remove(self, to: str) -> None:
        shutil.rmtree(to, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
