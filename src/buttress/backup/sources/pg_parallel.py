"""Parallel restore of a streamed pg_dump custom-format archive.

``pg_restore --jobs`` needs a seekable file; a backup arrives as a stream. This sink reads the
archive's table of contents from the head of the stream and keeps it as a small file, restores
the schema from it (``--section=pre-data``), then hands each table's data block, as it streams
past, to one of ``jobs`` pg_restore processes (each sees the TOC, then only its blocks), and ends
with the sequences and ``--section=post-data --jobs`` (indexes, constraints, in parallel).

Indexes and primary keys of tables whose data is in wait for no other table: once the stream
has passed its last table, a worker that finishes builds those of every loaded table while the
others still load (as ``pg_restore --jobs`` does from a file).

The stream is read once. A large table is spread over several workers: when the one it streams
to has its share of memory waiting and another could take rows, the block is cut between two
rows (:func:`row_cut`) and the rest goes to the other worker as a block of its own, so the
table loads over several COPYs at once. Where no cut is proven (rows wider than a piece) and a
worker is free while more tables follow, the rest of the block goes to a temporary file (in
``tmp_dir``) so the next table can start at once; when every worker is busy the stream waits.
Small tables are batched into one pg_restore. Memory stays within ``memory`` bytes (shared by
the workers), temporary disk within the largest table's data.

Only uncompressed archives of table data qualify (buttress's own backups are); anything else
(large objects, compressed archives, unknown versions) goes to the sequential restore.
"""

from __future__ import annotations

import collections
import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

from buttress.backup.errors import BackupError, CorruptBackupError, RestoreError
from buttress.backup.sources.base import Tool, run_tool
from buttress.backup.sources.pg_archive import (
    BLOCK_END,
    SECTION_DATA,
    SECTION_NONE,
    SECTION_POST_DATA,
    SECTION_PRE_DATA,
    ArchiveHead,
    Short,
    block_header,
    block_start,
    read_head,
    row_cut,
)

__all__ = ["ParallelRestoreSink", "RestoreSink"]

HEAD_LIMIT = 256 << 20  # a TOC larger than this: restored sequentially instead


class RestoreSink(Protocol):
    def write(self, data: bytes) -> int: ...
    def flush(self) -> None: ...
    def finish(self, what: str) -> None: ...
    def abort(self) -> None: ...
    def cleanup(self) -> None: ...


def eligible(head: ArchiveHead) -> bool:
    """Whether the parallel restore can take this archive."""
    return (
        not head.compressed
        and head.int_size == 4  # BLOCK_END, and row_cut, read 4-byte lengths
        and all(
            e.desc == "TABLE DATA" and e.section == SECTION_DATA
            for e in head.entries
            if e.had_dumper
        )
    )


def _copy(buf: bytearray, start: int, end: int) -> bytes:
    """``bytes(buf[start:end])`` in one copy instead of two (memory stays flatter)."""
    with memoryview(buf) as view:
        return bytes(view[start:end])


def _listing(path: Path, ids: list[int]) -> str:
    """A ``pg_restore --use-list`` file naming ``ids`` (restored in that order); its path."""
    path.write_text("".join(f"{i};\n" for i in ids))
    return str(path)


class _Spool:
    """The bytes of one worker's blocks on their way to its pg_restore: memory first, then (once
    the reader has had to run ahead) a temporary file. Guarded by the sink's condition."""

    def __init__(self, cond: threading.Condition, tmp_dir: Path) -> None:
        self.cond = cond
        self.tmp_dir = tmp_dir
        self.chunks: collections.deque[bytes] = collections.deque()
        self.memory = 0
        self.file: IO[bytes] | None = None
        self.written = 0
        self.read = 0
        self.closed = False

    def spill(self, data: bytes) -> None:
        try:
            if self.file is None:
                self.file = tempfile.TemporaryFile(dir=self.tmp_dir)  # noqa: SIM115  # see get()
            self.file.write(data)
            self.file.flush()
        except OSError as exc:  # a full disk, most likely: say where
            raise RestoreError(
                f"keeping table data for a restore job in {self.tmp_dir}: "
                f"{exc.strerror or exc} (set tmp_dir, or restore with fewer --jobs)"
            ) from None
        self.written += len(data)

    def get(self) -> bytes | None:
        """The next bytes for pg_restore, waiting for them; ``None`` at the end."""
        with self.cond:
            while True:
                if self.chunks:
                    data = self.chunks.popleft()
                    self.memory -= len(data)
                    self.cond.notify_all()
                    return data
                if self.read < self.written:
                    if self.file is None:  # what was written beyond memory is in the file
                        raise BackupError("restore spool: data spilled to no file")
                    fd, at, count = (
                        self.file.fileno(),
                        self.read,
                        min(1 << 20, self.written - self.read),
                    )
                    break
                if self.closed:
                    if self.file is not None:
                        self.file.close()
                    return None
                self.cond.wait()
        data = os.pread(fd, count, at)  # outside the lock: the reader may go on appending
        with self.cond:
            self.read += len(data)
        return data


class _Worker:
    """One pg_restore taking the TOC, then the data blocks of ``ids`` from its spool."""

    def __init__(self, sink: ParallelRestoreSink, ids: list[int], first: list[bytes]) -> None:
        self.sink = sink
        self.ids = ids
        self.spool = _Spool(sink.cond, sink.work)
        for data in first:
            self.spool.chunks.append(data)
            self.spool.memory += len(data)
        number = len(sink._workers)  # a name of its own: two workers may load one table
        listing = _listing(sink.work / f"data-{ids[0]}-{number}.list", ids)
        self.tool = Tool("pg_restore", [*sink.args, "--use-list", listing], sink.env, True)
        self.error: BaseException | None = None
        self.loaded = False  # its data is in (set under the sink's condition)
        self.done = False
        self.thread = threading.Thread(target=self._run, name="buttress-pg-restore", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        stdin = self.tool.stdin
        try:
            with contextlib.suppress(BrokenPipeError):  # pg_restore stopped: finish() says why
                stdin.write(self.sink.toc)
                while (data := self.spool.get()) is not None:
                    stdin.write(data)
                stdin.close()
            self.tool.finish(f"restoring table data ({len(self.ids)} tables)")
            self.sink._early_post_data(self)
        except BaseException as exc:  # noqa: BLE001  # raised by the sink's reading thread
            self.error = exc
            self.tool.kill()
        finally:
            with self.sink.cond:
                self.done = True
                self.sink.cond.notify_all()


class ParallelRestoreSink:
    """Where a restore writes a custom-format dump to be restored by ``jobs`` pg_restores.

    Args:
        args: the pg_restore command and connection options (no section or list options).
        env: its environment (the password in PGPASSWORD).
        jobs: pg_restore processes loading data at once, and post-data jobs.
        tmp_dir: where the TOC and spilled data wait (default: the system's).
        sequential: the sink to use instead when the archive does not qualify.
        memory: bytes the workers' queued data may take in memory, together (each gets an
            equal share, at least 64 KiB), whatever the database size.
    """

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        jobs: int,
        tmp_dir: Path | None,
        sequential: Callable[[], RestoreSink],
        memory: int = 4 << 20,
    ) -> None:
        self.args, self.env, self.jobs = args, env, jobs
        self.budget = max(64 << 10, memory // jobs)  # per worker
        self._sequential = sequential
        self._fallback: RestoreSink | None = None
        self._work = tempfile.TemporaryDirectory(prefix="buttress-pgrestore-", dir=tmp_dir)
        self.work = Path(self._work.name)
        self.cond = threading.Condition()
        self.buffer = bytearray()
        self.head: ArchiveHead | None = None
        self.toc = b""
        self._next_try = 1 << 16
        self._expected: list[int] = []  # dump ids of the data blocks, in stream order
        self._seen = 0  # blocks begun
        self._open: int | None = None  # the block being read, by dump id
        self._scan = 0  # where to look for the open block's end
        self._batch: list[int] = []  # blocks read but not yet given to a worker
        self._batch_bytes: list[bytes] = []
        self._batch_size = 0
        self._worker: _Worker | None = None  # the worker the open block streams to now
        self._streams: list[_Worker] = []  # every worker the open block has streamed to
        self._workers: list[_Worker] = []
        self._splittable: set[int] = set()  # data blocks of COPY text (one row per chunk)
        self._table_of: dict[int, int] = {}  # table data's dump id -> its table's
        self._loaded: set[int] = set()  # tables (dump ids) whose data is in
        self._early: dict[int, set[int]] = {}  # post-data entries that may run early -> tables
        self._claimed: set[int] = set()  # ... and those that ran
        self._order: dict[int, int] = {}  # dump id -> place in the TOC

    # -- the stream ---------------------------------------------------------------------------

    def write(self, data: bytes) -> int:
        if self._fallback is not None:
            return self._fallback.write(data)
        self.buffer += data
        if self.head is None:
            if len(self.buffer) >= self._next_try or len(self.buffer) > HEAD_LIMIT:
                self._start()
            return len(data)
        self._blocks()
        return len(data)

    def flush(self) -> None:
        return None

    def _start(self) -> None:
        try:
            head = read_head(self.buffer)
        except Short:
            if len(self.buffer) <= HEAD_LIMIT:
                self._next_try = len(self.buffer) * 2
                return
            head = None
        except CorruptBackupError:
            head = None  # not for us: pg_restore says what it is
        if head is None or not eligible(head):
            self._fallback = self._sequential()
            buffered, self.buffer = bytes(self.buffer), bytearray()
            self._fallback.write(buffered)
            return
        self.head = head
        self.toc = bytes(self.buffer[: head.size])
        del self.buffer[: head.size]
        (self.work / "toc.dump").write_bytes(self.toc)
        self._expected = [e.dump_id for e in head.entries if e.had_dumper]
        self._splittable = {
            e.dump_id for e in head.entries if e.had_dumper and e.copy_stmt.startswith("COPY ")
        }
        self._order = {e.dump_id: n for n, e in enumerate(head.entries)}
        self._plan_early(head)
        self._from_toc(["--section=pre-data"], "restoring the schema (pre-data)")
        self._blocks()

    def _head(self) -> ArchiveHead:
        """The archive's table of contents, read before any block of data."""
        if self.head is None:
            raise CorruptBackupError("postgresql dump: table data before its table of contents")
        return self.head

    def _blocks(self) -> None:
        """Hand the complete part of the buffer on, block by block."""
        head = self._head()
        buf, pos = self.buffer, 0
        header = head.block_header_size()
        while pos < len(buf):
            if self._open is None:
                if len(buf) - pos < header:
                    break
                dump_id = block_start(head, buf, pos)
                if self._seen >= len(self._expected) or dump_id != self._expected[self._seen]:
                    raise CorruptBackupError(
                        f"postgresql dump: unexpected data block {dump_id} (block "
                        f"{self._seen + 1} of {len(self._expected)} in the table of contents)"
                    )
                self._seen += 1
                self._open, self._scan = dump_id, pos + header
                self._batch.append(dump_id)
            end = buf.find(BLOCK_END, self._scan)
            if end < 0:
                cut = max(self._scan, len(buf) - (len(BLOCK_END) - 1))
                if cut > pos:
                    self._emit(_copy(buf, pos, cut), ended=False)
                pos = self._scan = cut
                break
            self._emit(_copy(buf, pos, end + len(BLOCK_END)), ended=True)
            pos = end + len(BLOCK_END)
            self._open = None
        del buf[:pos]
        self._scan -= pos
        self._check_workers()

    def _emit(self, data: bytes, *, ended: bool) -> None:
        """Bytes of the open block (``ended``: its last)."""
        if self._worker is not None:  # the open block streams to a worker already
            if ended:
                self._put(self._worker.spool, data)
                self._close_worker()
                return
            data, _ = self._fan_out(data)
            splittable = self._open in self._splittable
            while data and not self._put(self._worker.spool, data, run_ahead=not splittable):
                # full, and a job came free while waiting: spread the table over it, or (no
                # whole row proven in this piece) run ahead to the next table after all
                data, moved = self._fan_out(data)
                if not moved:
                    self._put(self._worker.spool, data)
                    break
            return
        self._batch_bytes.append(data)
        self._batch_size += len(data)
        if self._batch_size >= self.budget:  # too much to hold: give the batch to a worker now
            self._dispatch()
            if ended:
                self._close_worker()

    def _dispatch(self) -> None:
        """Give the batched blocks to a new worker, once one may start."""
        with self.cond:
            while self._running() >= self.jobs:
                self._raise_failed()
                self.cond.wait()
        worker = _Worker(self, self._batch, self._batch_bytes)
        self._workers.append(worker)
        self._worker = worker
        self._streams = [worker]
        self._batch, self._batch_bytes, self._batch_size = [], [], 0

    def _fan_out(self, data: bytes) -> tuple[bytes, bool]:
        """Spread a large table over several COPYs: when the worker the open block streams to
        has its fill and another could take rows (one of the block's workers with room, or a
        free job), cut the block after a whole row and go on with that other one, as a block of
        its own. Returns what is left for ``self._worker``, and whether it changed."""
        worker, dump_id, head = self._worker, self._open, self._head()
        if worker is None or dump_id is None:
            raise BackupError("parallel restore: table data outside an open block")
        if dump_id not in self._splittable:
            return data, False
        with self.cond:
            self._raise_failed()
            if worker.spool.memory < self.budget or worker.spool.file is not None:
                return data, False
            roomy = [w for w in self._streams if w is not worker and w.spool.memory < self.budget]
            free = self._running() < self.jobs
        if not roomy and not free:
            return data, False
        cut = row_cut(data)
        if cut < 0:  # no whole row proven in this piece (very wide rows): carry on
            return data, False
        self._put(worker.spool, data[:cut], wait=False)
        rest = data[cut:]
        if roomy:
            self._worker = min(roomy, key=lambda w: w.spool.memory)
            return rest, True
        joined = _Worker(self, [dump_id], [block_header(head, dump_id), rest])
        self._workers.append(joined)
        self._streams.append(joined)
        self._worker = joined
        return b"", True

    def _close_worker(self) -> None:
        """The open block is over (or handed on whole): no more data for its workers. The one
        it streamed to last has the block's end already; the others get one each."""
        current, self._worker = self._worker, None
        streams, self._streams = self._streams, []
        with self.cond:
            for worker in streams:
                if worker is not current:
                    self._append(worker.spool, BLOCK_END)
                worker.spool.closed = True
            self.cond.notify_all()

    @staticmethod
    def _append(spool: _Spool, data: bytes) -> None:
        """Queue ``data`` for a worker, past its budget (call with the condition held)."""
        if spool.file is not None:  # once spilling, the rest follows (order)
            spool.spill(data)
        else:
            spool.chunks.append(data)
            spool.memory += len(data)

    def _put(
        self, spool: _Spool, data: bytes, *, wait: bool = True, run_ahead: bool = True
    ) -> bool:
        """Queue ``data`` for a worker, waiting while its spool is full. When a job is free and
        more tables follow, spill to disk instead (``run_ahead``), or return False without
        queueing anything (the caller may spread the table over that job instead)."""
        with self.cond:
            while True:
                self._raise_failed()
                if not wait or spool.file is not None or spool.memory < self.budget:
                    self._append(spool, data)
                elif self._seen < len(self._expected) and (
                    self._running() < self.jobs
                ):  # a worker is free and more tables follow: run ahead to the next one
                    if not run_ahead:
                        return False
                    spool.spill(data)
                else:
                    self.cond.wait()
                    continue
                self.cond.notify_all()
                return True

    def _plan_early(self, head: ArchiveHead) -> None:
        """Which post-data entries depend only on the schema and on tables' data: indexes
        and (primary key, unique) constraints. Foreign keys, triggers and the rest wait for the
        final post-data step."""
        by_id = {e.dump_id: e for e in head.entries}
        for entry in head.entries:
            if entry.had_dumper:
                owners = [d for d in entry.deps if d in by_id and by_id[d].desc == "TABLE"]
                if len(owners) == 1:
                    self._table_of[entry.dump_id] = owners[0]
        with_data = set(self._table_of.values())
        for entry in head.entries:
            if entry.section != SECTION_POST_DATA or entry.desc not in ("INDEX", "CONSTRAINT"):
                continue
            tables: set[int] = set()
            for dep in entry.deps:
                if dep in with_data:
                    tables.add(dep)
                elif dep not in by_id or by_id[dep].section != SECTION_PRE_DATA:
                    break
            else:
                if tables:
                    self._early[entry.dump_id] = tables

    def _early_post_data(self, finished: _Worker) -> None:
        """A worker's data is in: once no table is left to stream, build what depends only
        on loaded tables (in this worker's thread, holding its place among the jobs)."""
        with self.cond:
            finished.loaded = True
            for i in finished.ids:  # a table spread over several workers waits for them all
                if i in self._table_of and all(w.loaded for w in self._workers if i in w.ids):
                    self._loaded.add(self._table_of[i])
            if self._seen < len(self._expected) or self._batch:
                return  # more data to load first: the job's place is needed for it
            ready = [d for d, tables in self._early.items() if tables <= self._loaded]
            for dump_id in ready:
                del self._early[dump_id]
            self._claimed.update(ready)
            # the places of workers that are done are free: use them too
            jobs = self.jobs - self._running() + 1
        if ready:
            ready.sort(key=lambda i: self._order[i])
            listing = _listing(self.work / f"early-{ready[0]}.list", ready)
            self._from_toc(
                [f"--jobs={max(1, jobs)}", "--use-list", listing],
                f"building {len(ready)} indexes and keys",
            )

    def _from_toc(self, options: list[str], what: str) -> None:
        """Run pg_restore with ``options`` on the TOC file (no data: schema, lists)."""
        run_tool("pg_restore", [*self.args, *options, str(self.work / "toc.dump")], self.env, what)

    def _running(self) -> int:
        """Workers not yet done (call with the condition held)."""
        return sum(not w.done for w in self._workers)

    def _raise_failed(self) -> None:
        for worker in self._workers:
            if worker.error is not None:
                error = worker.error
                raise error if isinstance(error, BackupError) else RestoreError(str(error))

    def _check_workers(self) -> None:
        with self.cond:
            self._raise_failed()

    # -- the end ------------------------------------------------------------------------------

    def finish(self, what: str) -> None:
        if self._fallback is not None:
            self._fallback.finish(what)
            return
        if self.head is None:
            self._start()  # a short stream: parsed now, or given to the sequential restore
            if self._fallback is not None:
                self._fallback.finish(what)
                return
            if self.head is None:
                raise CorruptBackupError("postgresql dump ended inside its table of contents")
        if self._open is not None or self.buffer or self._seen < len(self._expected):
            missing = len(self._expected) - self._seen
            raise CorruptBackupError(
                f"postgresql dump ended inside its table data ({missing} tables not reached)"
            )
        if self._batch:
            self._dispatch()
            self._close_worker()
        for worker in self._workers:
            worker.thread.join()
        self._raise_failed()
        head = self._head()
        rest = [e.dump_id for e in head.entries if e.section == SECTION_DATA and not e.had_dumper]
        if rest:  # sequence values and other data without a block
            self._from_toc(["--use-list", _listing(self.work / "rest.list", rest)], what)
        if not self._claimed:
            post = ["--section=post-data"]
        else:  # the post-data section (as pg_restore counts it) less what ran early
            section, left = SECTION_PRE_DATA, []
            for entry in head.entries:
                if entry.section != SECTION_NONE:
                    section = entry.section
                if section == SECTION_POST_DATA and entry.dump_id not in self._claimed:
                    left.append(entry.dump_id)
            post = ["--use-list", _listing(self.work / "post.list", left)]
        self._from_toc([*post, f"--jobs={self.jobs}"], what)

    def abort(self) -> None:
        if self._fallback is not None:
            self._fallback.abort()
            return
        with self.cond:
            for worker in self._workers:
                worker.spool.closed = True
            self.cond.notify_all()
        for worker in self._workers:
            worker.tool.kill()
            worker.thread.join()

    def cleanup(self) -> None:
        if self._fallback is not None:
            self._fallback.cleanup()
        for worker in self._workers:
            if worker.spool.file is not None:
                with contextlib.suppress(OSError):
                    worker.spool.file.close()
        self._work.cleanup()
