"""The contract every source meets."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any, BinaryIO, ClassVar

from buttress.backup.errors import BackupError, RestoreError
from buttress.secrets import redact

__all__ = [
    "ReadArtifact",
    "Source",
    "Unpacking",
    "compare_metadata",
    "count_kinds",
    "feed",
    "produced",
    "run_tool",
    "tar_stream",
]

ReadArtifact = Callable[[str, BinaryIO], int]
"""Writes the raw bytes of the named artifact of the backup being restored into a writer."""


class Source:
    """A thing to back up: a database or a directory.

    The engine calls :meth:`check`, then :meth:`dump` once per name in :attr:`artifacts`, then
    :meth:`metadata` (the facts a restore test compares: exact row counts, schema fingerprint,
    file checksums...). A restore calls :meth:`restore` with a function that streams an
    artifact's raw bytes, and :meth:`inspect` on what it restored.
    """

    kind: str = ""
    dsn: str | None = None
    """The server's connection string, for sources on a database server (None: a file or a
    directory). Secret: never shown; :meth:`describe` is what messages use."""
    has_databases: ClassVar[bool] = False
    """The source is one database among others on a server: a restore can go to another
    database of that server (:meth:`database_dsn`, :meth:`create_database`)."""
    has_globals: ClassVar[bool] = False
    """Its backups hold server-wide objects (roles, tablespaces: :meth:`restore_globals`)."""

    def database_dsn(self, name: str) -> str:
        """The connection string of database ``name`` on the source's server."""
        raise RestoreError(f"a {self.kind or 'this'} source has no databases to restore into")

    def create_database(self, name: str, *, new: bool = False) -> str:
        """Create database ``name`` on the source's server (``new``: refuse an existing one);
        its connection string."""
        raise RestoreError(f"a {self.kind or 'this'} source cannot create a database")

    def restore_globals(self, read: ReadArtifact, to: str) -> str:
        """Apply the backup's server-wide objects to the server of ``to``."""
        raise RestoreError(f"a {self.kind or 'this'} source has no server-wide objects")

    def describe(self) -> str:
        """Where the source is, for messages: secrets masked (never a password)."""
        raise NotImplementedError

    def location(self) -> dict[str, Any]:
        """Where the source is, for the manifest and the catalog: ``host``, ``port``,
        ``database``, ``user`` (or ``path``); never a connection string."""
        return {}

    def check(self) -> dict[str, Any]:
        """Reach the source (raising BackupError with a clear reason); returns facts for the
        manifest (``server_version``...)."""
        raise NotImplementedError

    @property
    def artifacts(self) -> list[str]:
        raise NotImplementedError

    def dump(self, artifact: str) -> AbstractContextManager[BinaryIO]:
        """The raw stream of one artifact; leaving the context checks that the dump ended well."""
        raise NotImplementedError

    def metadata(self) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what a backup holds (connections, snapshots) even when it failed midway;
        the engine calls it last, always."""
        return

    def scratch(self) -> AbstractContextManager[str]:
        """A temporary, empty restore target (dropped afterwards), for restore tests."""
        raise NotImplementedError

    def restore(
        self, read: ReadArtifact, to: str, *, force: bool = False, tables: list[str] | None = None
    ) -> str:
        """Restore into ``to`` (refusing a non-empty target unless ``force``); returns a
        description of where."""
        raise NotImplementedError

    def contents(self, to: str) -> list[str] | None:
        """What restore target ``to`` holds now, counted by kind (``["2 tables", "1 view"]``):
        empty when it exists and holds nothing, None when it does not exist (a restore would
        create it). Anything a restore could clash with or overwrite counts."""
        raise NotImplementedError

    def preflight(self, to: str, *, force: bool, tables: list[str] | None) -> None:
        """Refuse (RestoreError) a restore over non-empty ``to`` that cannot go ahead, before
        the backup is read; nothing to check by default."""
        return

    def remove(self, to: str) -> None:
        """Remove restore target ``to``; called only on one that a failed restore created."""
        raise NotImplementedError

    def inspect(self, where: str, tables: list[str] | None = None) -> dict[str, Any]:
        """The same facts as :meth:`metadata`, read from a restored copy."""
        raise NotImplementedError

    def compare(self, recorded: dict[str, Any], actual: dict[str, Any]) -> list[str]:
        """What differs between the recorded facts and a restored copy's (empty: the same)."""
        return compare_metadata(recorded, actual)

    def compared(self, recorded: dict[str, Any]) -> dict[str, Any]:
        """The recorded facts :meth:`compare` compares (all, unless a source records more)."""
        return recorded


def compare_metadata(recorded: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Differences between what the backup recorded and what a restore holds, one per line."""
    problems = []
    for key in sorted(set(recorded) | set(actual)):
        want, got = recorded.get(key), actual.get(key)
        if key == "sequences" and isinstance(want, dict) and isinstance(got, dict):
            # sequences are not transactional: the dump reads them a moment after the counts,
            # so a restored value may be higher under concurrent writes, never lower
            for sub in sorted(want):
                if sub not in got or (got[sub] or 0) < (want[sub] or 0):
                    problems.append(
                        f"{key}[{sub}]: backed up {want[sub]!r}, restored {got.get(sub)!r}"
                    )
        elif isinstance(want, dict) and isinstance(got, dict):
            for sub in sorted(set(want) | set(got)):
                if want.get(sub) != got.get(sub):
                    problems.append(
                        f"{key}[{sub}]: backed up {want.get(sub)!r}, restored {got.get(sub)!r}"
                    )
        elif want != got:
            problems.append(f"{key}: backed up {want!r}, restored {got!r}")
    return problems


def count_kinds(kinds: list[str]) -> list[str]:
    """``["table", "view", "table"]`` as ``["2 tables", "1 view"]`` (in order of appearance)."""
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    return [f"{n} {kind}{'' if n == 1 else 's'}" for kind, n in counts.items()]


class Tool:
    """A dump/restore tool running as a child process, its stderr kept for the error message."""

    def __init__(self, name: str, args: list[str], env: dict[str, str] | None, stdin: bool) -> None:
        self.name = name
        self.stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  # closed in finish()
        try:
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if stdin else subprocess.PIPE,
                stderr=self.stderr,
                env=env,
            )
        except FileNotFoundError:
            self.stderr.close()
            raise BackupError(f"{name} is not installed (not found on PATH)") from None

    @property
    def stdin(self) -> IO[bytes]:
        """What the tool reads (a tool started with ``stdin=True``)."""
        if self.proc.stdin is None:
            raise BackupError(f"{self.name} was started without a pipe to its input")
        return self.proc.stdin

    @property
    def stdout(self) -> IO[bytes]:
        """What the tool writes (a tool started with ``stdin=False``)."""
        if self.proc.stdout is None:
            raise BackupError(f"{self.name} was started without a pipe from its output")
        return self.proc.stdout

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdout, self.proc.stdin):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def finish(self, what: str) -> None:
        rc = self.proc.wait()
        self._close_pipes()
        if rc != 0:
            self.stderr.seek(0)
            error = _failed(self.name, what, self.stderr.read(), rc)
            self.stderr.close()
            raise error
        self.stderr.close()

    @contextlib.contextmanager
    def output(self, what: str) -> Iterator[BinaryIO]:
        """The tool's stdout for the caller to read; the tool is killed if the caller fails,
        and its exit is checked (BackupError naming ``what``) when the caller is done."""
        stdout = self.stdout
        try:
            yield stdout  # type: ignore[misc]
        except BaseException:
            self.kill()
            raise
        self.finish(what)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_pipes()
        self.stderr.close()


def run_tool(name: str, args: list[str], env: dict[str, str] | None, what: str) -> str:
    """Run a tool to completion; its stdout, or BackupError with its last stderr lines."""
    try:
        done = subprocess.run(args, capture_output=True, env=env, check=False)
    except FileNotFoundError:
        raise BackupError(f"{name} is not installed (not found on PATH)") from None
    if done.returncode != 0:
        raise _failed(name, what, done.stderr, done.returncode)
    return done.stdout.decode(errors="replace")


def _failed(name: str, what: str, stderr: bytes, rc: int) -> BackupError:
    """The error of a tool that exited ``rc``: its last stderr lines, secrets redacted."""
    lines = [ln for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
    detail = redact(" | ".join(lines[-3:])) if lines else f"exit code {rc}"
    return BackupError(f"{what}: {name} failed: {detail}")


@contextlib.contextmanager
def produced(produce: Callable[[BinaryIO], None], what: str) -> Iterator[BinaryIO]:
    """The read end of a pipe that ``produce`` writes into from a thread of its own (the
    writer is closed for it). What ``produce`` raised is raised after the reading is done, as
    a BackupError naming ``what``."""
    rfd, wfd = os.pipe()
    reader, writer = os.fdopen(rfd, "rb"), os.fdopen(wfd, "wb")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            produce(writer)
        except BaseException as exc:  # noqa: BLE001  # handed to the reading side
            errors.append(exc)
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    thread = threading.Thread(target=run, name="buttress-producer", daemon=True)
    thread.start()
    try:
        yield reader
    finally:
        reader.close()
        thread.join()
    if errors:
        exc = errors[0]
        if isinstance(exc, BackupError):
            raise exc
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BackupError(f"{what}: {detail}")


def tar_stream(folder: Path) -> AbstractContextManager[BinaryIO]:
    """A tar of ``folder``'s contents, produced as it is read."""
    import tarfile

    def produce(out: BinaryIO) -> None:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(folder.iterdir()):
                tar.add(path, arcname=path.name)

    return produced(produce, f"packing {folder}")


def feed(tool: Tool, read: ReadArtifact, artifact: str, what: str) -> None:
    """Stream ``artifact`` into ``tool``'s stdin and wait for the tool.

    Raises:
        RestoreError: the tool failed (its last stderr lines say why, secrets redacted).
    """
    stdin = tool.stdin
    try:
        read(artifact, stdin)  # type: ignore[arg-type]
        stdin.close()
    except BrokenPipeError:
        pass  # the tool stopped early: its own error says why
    except BaseException:
        tool.kill()
        raise
    try:
        tool.finish(what)
    except BackupError as exc:
        raise RestoreError(str(exc)) from None


class Unpacking:
    """A tar written to :attr:`writer` is unpacked into ``folder`` by a thread; :meth:`finish`
    waits for it and returns the folder (or raises what went wrong)."""

    def __init__(self, folder: Path) -> None:
        import tarfile

        self.folder = folder
        rfd, wfd = os.pipe()
        self.reader, self.writer = os.fdopen(rfd, "rb"), os.fdopen(wfd, "wb")
        self.errors: list[BaseException] = []

        def consume() -> None:
            try:
                with tarfile.open(fileobj=self.reader, mode="r|") as tar:
                    tar.extractall(folder, filter="data")
            except BaseException as exc:  # noqa: BLE001  # handed to finish()
                self.errors.append(exc)
                with contextlib.suppress(OSError):  # unblock the writer
                    while self.reader.read(1 << 20):
                        pass
            finally:
                self.reader.close()

        self.thread = threading.Thread(target=consume, name="buttress-untar", daemon=True)
        self.thread.start()

    def finish(self) -> Path:
        with contextlib.suppress(OSError):
            self.writer.close()
        self.thread.join()
        if self.errors:
            raise BackupError(f"unpacking into {self.folder}: {self.errors[0]}")
        return self.folder
