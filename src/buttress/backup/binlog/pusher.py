"""The binlog pusher: ``mariadb-binlog --read-from-remote-server --raw --stop-never`` streams
the server's binary logs into the spool folder (as a replica would receive them), and every
``interval`` each finished file (every one but the file being written) is stored in the
target's repository (:mod:`.store`: one object, age(zstd(raw)), every destination, the
required count) and then removed from the spool. At stop the file being written is stored as
it is (its whole events). A file that cannot be stored stays in the spool and is tried again.

It starts from the newest file already archived (streamed again, whole: stored again only if
it grew), else from the oldest file the server has. The password reaches mariadb-binlog in an
option file (mode 0600, in a folder only the pusher can read) for as long as it runs, never on
its command line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from buttress.backup.binlog.archive import list_archived
from buttress.backup.binlog.layout import BinlogName, object_key, parse_name
from buttress.backup.binlog.scan import scan
from buttress.backup.binlog.store import file_sha256, store_file
from buttress.backup.errors import BackupError
from buttress.backup.sources.mariadb import parse_dsn
from buttress.catalog import claims
from buttress.errors import ButtressError, UsageError
from buttress.platform.dsn import MariadbParams
from buttress.secrets import redact

if TYPE_CHECKING:
    from buttress.backup.service import Backups
    from buttress.catalog import Catalog
    from buttress.config import BinlogArchiveConfig, MariadbTargetConfig

__all__ = [
    "BinlogPusher",
    "PushReport",
    "binlog_target",
    "binlog_tool",
    "claim_key",
    "client_args",
    "option_file",
    "run_exclusively",
]

log = logging.getLogger("buttress.backup.binlog")


def binlog_tool() -> str:
    return "mariadb-binlog" if shutil.which("mariadb-binlog") else "mysqlbinlog"


def binlog_target(backups: Backups, name: str) -> tuple[MariadbTargetConfig, BinlogArchiveConfig]:
    """Target ``name`` and its ``binlog:`` section (UsageError when it has none)."""
    from buttress.config import MariadbTargetConfig

    target = backups.target(name)
    if not isinstance(target, MariadbTargetConfig):
        raise UsageError(
            f"target {name!r} is a {target.source} target: binlogs are MariaDB/MySQL's"
        )
    if target.binlog is None:
        raise UsageError(f"target {name!r} has no `binlog:` section (binlog archiving is off)")
    return target, target.binlog


@contextlib.contextmanager
def option_file(params: MariadbParams) -> Iterator[Path]:
    """A ``[client]`` option file with the password, mode 0600 in a folder of mode 0700,
    removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="buttress-binlog-"))
    try:
        path = folder / "client.cnf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            password = str(params["password"]).replace("\\", "\\\\").replace('"', '\\"')
            out.write(f'[client]\npassword="{password}"\n')
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def client_args(tool: str, options: Path, params: MariadbParams) -> list[str]:
    """A client tool's command line up to its own options (the password in ``options``)."""
    return [
        tool,
        f"--defaults-extra-file={options}",
        f"--host={params['host']}",
        f"--port={params['port']}",
        f"--user={params['user']}",
    ]


@dataclass
class PushReport:
    """What one pass stored."""

    stored: list[str] = field(default_factory=list)  # file names stored (or already held)
    removed: list[str] = field(default_factory=list)  # finished files taken off the spool
    errors: list[str] = field(default_factory=list)


class BinlogPusher:
    """The pusher of one target. :meth:`run` until the event is set; or :meth:`start`,
    :meth:`push` and :meth:`stop` one by one (tests, ``buttress serve``)."""

    def __init__(self, backups: Backups, name: str, say: Callable[[str], None] | None = None):
        self.target, self.config = binlog_target(backups, name)
        self.params = parse_dsn(self.target.dsn)
        self.destinations = backups.destinations(self.target)
        self.settings = backups.settings(self.target)
        self.spool = Path(self.config.spool_dir)
        self.say = say or log.info
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr: IO[bytes] | None = None
        self._options: contextlib.ExitStack | None = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        p = self.params
        return f"binlog pusher of {self.target.name} ({p['user']}@{p['host']}:{p['port']})"

    # -- the stream ------------------------------------------------------------------------------

    def _server_logs(self) -> list[str]:
        import pymysql

        try:
            conn = pymysql.connect(
                host=self.params["host"],
                port=int(self.params["port"]),
                user=self.params["user"],
                password=self.params["password"],
                connect_timeout=10,
            )
        except pymysql.Error as exc:
            raise BackupError(f"{self.describe()}: {redact(str(exc))}") from None
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW BINARY LOGS")
                names = [str(row[0]) for row in cur.fetchall()]
                cur.execute("SELECT @@GLOBAL.binlog_format")
                row = cur.fetchone()
                form = str(row[0]) if row else ""
            if form.upper() != "ROW":
                self.say(
                    f"warning: {self.describe()}: binlog_format is {form}: a restore to a time "
                    "replays only the statements run with the target's database as the default "
                    "one (USE db; mariadb-binlog --database's rule for statements); with "
                    "binlog_format=ROW every change to its tables is replayed"
                )
            return names
        except pymysql.Error as exc:
            raise BackupError(
                f"{self.describe()}: cannot list the server's binary logs (is log_bin on?): "
                f"{redact(str(exc))}"
            ) from None
        finally:
            conn.close()

    def rotate(self) -> None:
        """``FLUSH BINARY LOGS``: the file being written is finished (and so stored)."""
        import pymysql

        try:
            conn = pymysql.connect(
                host=self.params["host"],
                port=int(self.params["port"]),
                user=self.params["user"],
                password=self.params["password"],
                connect_timeout=10,
            )
            try:
                with conn.cursor() as cur:
                    cur.execute("FLUSH BINARY LOGS")
            finally:
                conn.close()
        except pymysql.Error as exc:
            raise BackupError(f"{self.describe()}: FLUSH BINARY LOGS: {redact(str(exc))}") from None

    def first_file(self) -> str:
        """Where the stream starts: the newest archived file, else the server's oldest."""
        on_server = self._server_logs()
        if not on_server:
            raise BackupError(f"{self.describe()}: the server has no binary log (log_bin off?)")
        archived = list_archived(self.target.name, self.destinations)
        if not archived:
            return on_server[0]
        newest = archived[-1].name.name
        if newest in on_server:
            return newest
        later = [n for n in on_server if _number(n) > archived[-1].name.number]
        start = later[0] if later else on_server[-1]
        self.say(
            f"warning: {newest} (the newest archived) is no longer on the server; starting "
            f"from {start}: anything logged between them is missing from the archive"
        )
        return start

    def start(self) -> None:
        """Start mariadb-binlog (from :meth:`first_file`)."""
        self.spool.mkdir(parents=True, exist_ok=True)
        first = self.first_file()
        stack = contextlib.ExitStack()
        options = stack.enter_context(option_file(self.params))
        self.stderr = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115  # closed with the stack
        args = [
            *client_args(binlog_tool(), options, self.params),
            "--read-from-remote-server",
            "--raw",
            "--stop-never",
            f"--stop-never-slave-server-id={self.config.server_id}",
            f"--result-file={self.spool}{os.sep}",
            first,
        ]
        try:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr
            )
        except FileNotFoundError:
            stack.close()
            raise BackupError(f"{binlog_tool()} is not installed (not found on PATH)") from None
        self._options = stack
        self.say(f"{self.describe()}: streaming from {first} into {self.spool}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _end_stream(self) -> str:
        """Stop mariadb-binlog (if it runs); what it said when it failed ("" otherwise)."""
        said = ""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            elif self.proc.returncode != 0 and self.stderr is not None:
                self.stderr.seek(0)
                lines = [x for x in self.stderr.read().decode(errors="replace").splitlines() if x]
                said = redact(" | ".join(lines[-3:])) or f"exit code {self.proc.returncode}"
            self.proc = None
        if self._options is not None:
            self._options.close()
            self._options = None
        self.stderr = None
        return said

    # -- storing ---------------------------------------------------------------------------------

    def spooled(self) -> list[BinlogName]:
        """The binlog files in the spool, oldest first."""
        found = []
        for path in self.spool.iterdir() if self.spool.is_dir() else ():
            with contextlib.suppress(ValueError):
                found.append(parse_name(path.name))
        return sorted(found, key=lambda n: (n.base, n.number))

    def push(self, *, final: bool = False) -> PushReport:
        """Store each finished file of the spool (with ``final``, the one being written too,
        as it is) and remove the finished ones stored."""
        report = PushReport()
        with self._lock:
            files = self.spooled()
            for i, name in enumerate(files):
                path = self.spool / name.name
                try:
                    facts = scan(path)
                except (OSError, ValueError) as exc:
                    report.errors.append(f"{path}: {exc}")
                    continue
                finished = facts.finished or i < len(files) - 1
                if not (finished or final) or facts.events == 0:
                    continue
                sha = file_sha256(path, facts.end)
                key = object_key(self.target.name, name.name, sha)
                try:
                    store_file(path, facts.end, key, self.destinations, self.settings)
                except (BackupError, OSError) as exc:
                    report.errors.append(str(exc))
                    continue
                report.stored.append(name.name)
                if finished:
                    path.unlink(missing_ok=True)
                    report.removed.append(name.name)
        for what in report.stored:
            self.say(f"{self.describe()}: stored {what}")
        for error in report.errors:
            self.say(f"{self.describe()}: error: {error}")
        return report

    def stop(self) -> PushReport:
        """End the stream and store what it wrote, the current file too."""
        said = self._end_stream()
        if said:
            self.say(f"{self.describe()}: {binlog_tool()} failed: {said}")
        return self.push(final=True)

    def run(self, stop: threading.Event) -> None:
        """Stream and store until ``stop`` is set (then store the current file, and return).
        A stream that ends (the server restarted...) is started again after ``interval``."""
        interval = float(self.config.interval)
        rotate = self.config.rotate_every
        next_rotate = time.monotonic() + float(rotate) if rotate else None
        try:
            self.start()
        except BackupError as exc:
            self.say(f"{self.describe()}: {exc}")
        try:
            while not stop.wait(interval):
                if not self.alive():
                    said = self._end_stream()
                    if said:
                        self.say(f"{self.describe()}: {binlog_tool()} stopped: {said}")
                    self.push()
                    try:
                        self.start()
                    except BackupError as exc:
                        self.say(f"{self.describe()}: {exc}")
                        continue
                if next_rotate is not None and rotate and time.monotonic() >= next_rotate:
                    next_rotate = time.monotonic() + float(rotate)
                    try:
                        self.rotate()
                    except BackupError as exc:
                        self.say(str(exc))
                self.push()
        finally:
            self.stop()


def _number(name: str) -> int:
    try:
        return parse_name(name).number
    except ValueError:
        return -1


def claim_key(target: str) -> str:
    """The catalog claim one pusher of ``target`` holds (two streams with one replica server
    id would take the connection from each other, and store every file twice)."""
    return f"binlog:{target}"


def run_exclusively(
    pusher: BinlogPusher,
    catalog: Catalog,
    stop: threading.Event,
    *,
    retry: float = claims.HEARTBEAT,
    lease: float = claims.LEASE,
) -> None:
    """:meth:`BinlogPusher.run` while holding the target's claim, until ``stop``: one pusher
    per target across processes and hosts sharing the catalog (``buttress serve`` replicas, a
    ``buttress binlog pusher``). While another holds it, wait and try again every ``retry``
    seconds; a claim lost (the catalog unreachable past the lease) stops the stream, which is
    claimed again."""
    key = claim_key(pusher.target.name)
    holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    told = ""
    while not stop.is_set():
        try:
            with catalog.begin() as session:
                claims.acquire(session=session, key=key, holder=holder, lease=lease)
        except claims.ClaimHeldError as exc:
            if exc.claim.holder != told:
                told = exc.claim.holder
                pusher.say(
                    f"{pusher.describe()}: another pusher streams this target ({exc.claim.holder} "
                    f"on {exc.claim.host}); waiting for it to stop"
                )
            stop.wait(retry)
            continue
        except ButtressError as exc:
            pusher.say(f"{pusher.describe()}: cannot claim the target: {exc}")
            stop.wait(retry)
            continue
        told = ""
        beat = claims.Heartbeat(catalog, key, holder, every=min(retry, lease / 3), lease=lease)
        beat.start()
        running = threading.Event()

        def watch(beat: claims.Heartbeat = beat, running: threading.Event = running) -> None:
            while not (stop.wait(0.2) or beat.lost.is_set()):
                pass
            running.set()

        watcher = threading.Thread(target=watch, name="buttress-binlog-watch", daemon=True)
        watcher.start()
        try:
            pusher.run(running)
        finally:
            running.set()
            watcher.join()
            beat.stop()
            with contextlib.suppress(ButtressError), catalog.begin() as session:
                claims.release(session=session, key=key, holder=holder)
        if beat.lost.is_set() and not stop.is_set():
            pusher.say(f"{pusher.describe()}: lost the claim on the target; claiming it again")
