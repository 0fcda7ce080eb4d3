"""A restored cluster's data directory and its server: a new directory made safe to restore
into, the server started on a chosen port (as the ``postgres`` OS user when buttress runs as
root: PostgreSQL refuses root), watched until recovery ends, and stopped.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from buttress.backup.errors import RestoreError
from buttress.backup.wal.recovery import RecoveryOutcome, read_outcome

__all__ = [
    "LOG_NAME",
    "Server",
    "as_owner",
    "ensure_config",
    "give",
    "live_postmaster",
    "new_datadir",
    "owned",
    "server_bin",
]

LOG_NAME = "buttress-restore.log"  # in the data directory: the log of the server we start
_OWNER = "postgres"
_POLL = 0.2  # seconds between looks at the log
_EARLY = 5.0  # seconds a started server has to write its postmaster.pid (once it logged)
_NEVER = 60.0  # and when it logged nothing


def _read(log: Path) -> str:
    try:
        return log.read_text(errors="replace")
    except OSError:
        return ""


def _is_root() -> bool:
    return os.geteuid() == 0


def as_owner(args: Sequence[str]) -> list[str]:
    """``args`` run as the postgres OS user when buttress runs as root, else as is."""
    return ["runuser", "-u", _OWNER, "--", *args] if _is_root() else list(args)


def _env() -> dict[str, str]:
    # a server started from here inherits no PG* variable of ours (a PGPASSWORD, a PGDATA)
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def server_bin(configured: Path | None) -> Path:
    """The PostgreSQL server programs: ``bin_dir`` of the target, else the newest
    ``/usr/lib/postgresql/*/bin`` (RestoreError when there is none)."""
    if configured is not None:
        if not (configured / "pg_ctl").exists():
            raise RestoreError(f"bin_dir {configured}: no pg_ctl there")
        return configured
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")]
    versions = [p for p in found if p.parent.name.isdigit()]
    if not versions:
        raise RestoreError(
            "no PostgreSQL server programs in /usr/lib/postgresql/*/bin: install the server "
            "package of the backup's version, or set bin_dir on the target"
        )
    return max(versions, key=lambda p: int(p.parent.name))


def live_postmaster(datadir: Path) -> int | None:
    """The pid of a live server that ``datadir``'s ``postmaster.pid`` names (None: none)."""
    try:
        first = (datadir / "postmaster.pid").read_text().split("\n", 1)[0].strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not first.isdigit():
        return None
    try:
        os.kill(int(first), 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return int(first)  # alive, someone else's
    return int(first)


def give(path: Path) -> None:
    """Give ``path`` (one file or folder) to the postgres user, when buttress runs as root."""
    if _is_root():
        shutil.chown(path, _OWNER, _OWNER)


def new_datadir(path: Path) -> bool:
    """Make ``path`` ready to restore a cluster into: a new or empty directory, mode 0700,
    owned by postgres when root (and reachable by that user). Returns whether it was created
    (a failed restore removes only what it created).

    Raises:
        RestoreError: a live server uses it, it holds anything, or it cannot be made so;
            nothing was written.
    """
    pid = live_postmaster(path)
    if pid is not None:
        raise RestoreError(
            f"{path}: a running PostgreSQL server uses it (postmaster.pid: pid {pid}); a "
            "restore goes into a new data directory, never over a running cluster; nothing "
            "was written"
        )
    if path.exists() and not path.is_dir():
        raise RestoreError(f"{path} is not a directory; nothing was written")
    if path.is_dir():
        held = sorted(p.name for p in path.iterdir())
        if held:
            shown = ", ".join(held[:5]) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
            raise RestoreError(
                f"{path} is not empty ({shown}); a physical restore goes into a new or empty "
                "data directory; nothing was written"
            )
        created = False
    else:
        try:
            path.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise RestoreError(f"cannot create {path}: {exc.strerror}") from None
        created = True
    try:
        path.chmod(0o700)
        give(path)
        if _is_root():
            reach = subprocess.run(
                as_owner(["test", "-r", str(path), "-a", "-w", str(path), "-a", "-x", str(path)]),
                capture_output=True,
                check=False,
            )
            if reach.returncode != 0:
                raise RestoreError(
                    f"{path}: the {_OWNER} OS user cannot reach it (a folder above it is "
                    f"closed to that user); choose a directory {_OWNER} can reach; nothing "
                    "was written"
                )
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
    return created


_MINIMAL = {
    "postgresql.conf": "",
    "pg_hba.conf": (
        "local all all peer\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
        "host all all ::1/128 scram-sha-256\n"
    ),
    "pg_ident.conf": "",
}


def ensure_config(datadir: Path) -> list[str]:
    """Write the configuration files a restored data directory lacks (its server kept them
    elsewhere, as Debian's do in /etc/postgresql): minimal ones, so that it starts. The names
    of those written."""
    written = []
    for name, text in _MINIMAL.items():
        path = datadir / name
        if not path.exists():
            path.write_text(
                f"# written by buttress restore: the base backup held no {name} (its server "
                "keeps its configuration outside the data directory); put your settings "
                f"here\n{text}"
            )
            path.chmod(0o600)
            give(path)
            written.append(name)
    return written


def owned(path: Path) -> None:
    """Give a restored tree to the postgres user (when root) and the server's modes."""
    path.chmod(0o700)
    if not _is_root():
        return
    shutil.chown(path, _OWNER, _OWNER)
    for p in path.rglob("*"):
        os.chown(p, *_ids(), follow_symlinks=False)


def _ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(_OWNER)
    return entry.pw_uid, entry.pw_gid


@dataclass
class Server:
    """A restored cluster's server, started by this process.

    Args:
        datadir: the data directory.
        bin: the server programs (:func:`server_bin`).
        options: ``-c name=value`` settings for this start only (``pg_ctl -o``).
    """

    datadir: Path
    bin: Path
    options: dict[str, str]

    @property
    def log(self) -> Path:
        return self.datadir / LOG_NAME

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            as_owner([str(self.bin / "pg_ctl"), "-D", str(self.datadir), *args]),
            capture_output=True,
            text=True,
            check=False,
            env=_env(),
        )

    def start(self) -> None:
        """Start it (not waiting: recovery may take long). RestoreError if pg_ctl fails."""
        if _is_root() and not self.log.exists():
            self.log.touch(mode=0o600)
            give(self.log)
        opts = " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in self.options.items())
        run = self._pg_ctl("-W", "-l", str(self.log), "-o", opts, "start")
        if run.returncode != 0:
            raise RestoreError(
                f"pg_ctl start of {self.datadir} failed: {run.stderr.strip() or run.stdout}"
                f"{self._tail()}"
            )

    def _tail(self, lines: int = 8) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return ("; server log: " + " | ".join(text[-lines:])) if text else ""

    def running(self) -> bool:
        return live_postmaster(self.datadir) is not None

    def wait(self, timeout: float | None = None) -> RecoveryOutcome:
        """Until recovery ends (promoted, paused, shut down, or failed), as the log says; a
        server that exits while recovering has failed (its last FATAL line says why)."""
        began = time.monotonic()
        deadline = None if timeout is None else began + timeout
        started = False
        while True:
            alive = self.running()
            started = started or alive
            text = _read(self.log)
            # a server that fails before it writes postmaster.pid (no configuration file, a
            # bad setting, the data directory's modes) leaves only its complaint in the log
            waited = time.monotonic() - began
            early = not started and ((waited > _EARLY and text.strip()) or waited > _NEVER)
            outcome = read_outcome(text)
            if outcome.state in ("promoted", "paused", "failed"):
                return outcome
            if outcome.state == "shutdown" and not alive:
                return outcome
            gone = started or "database system is shut down" in text
            if not alive and (gone or early):
                # gone without saying it reached the target (look once more: the last lines
                # may have landed after the read above)
                again = read_outcome(_read(self.log))
                if again.done:
                    return again
                lines = [ln.strip() for ln in _read(self.log).splitlines() if ln.strip()]
                why = again.last_fatal or (
                    f"the server exited during recovery: {' | '.join(lines[-3:])}"
                    if lines
                    else "the server did not start (its log is empty)"
                )
                return replace(again, state="failed", error=why)
            if deadline is not None and time.monotonic() > deadline:
                return RecoveryOutcome(
                    "failed", outcome.stopping, error=f"recovery not over after {timeout:.0f}s"
                )
            time.sleep(_POLL)

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            self._pg_ctl("-m", mode, "-w", "-t", "120", "stop")
