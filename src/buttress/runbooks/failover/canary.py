"""A canary writer for failover drills: a thread that inserts sequence-numbered rows into a
table on the current primary (the DSN is asked for before each connection: a DSN file the
repoint step rewrites, or a callable), and notes which rows were acknowledged, when and by
which server. After the drill, :meth:`Canary.data_loss` lists the acknowledged rows missing on
the new primary and :meth:`Canary.failover_time` the time from the fence to the first write
the new primary acknowledged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString

import psycopg
from psycopg import sql

from buttress.runbooks.failover.errors import FailoverError
from buttress.secrets import mask_dsn

__all__ = ["Ack", "Canary"]

TABLE = "buttress_canary"
RETRY_PAUSE = 0.02
"""Seconds between two connection attempts while no primary takes writes."""


@dataclass(frozen=True, slots=True)
class Ack:
    """A row whose commit the server acknowledged."""

    seq: int
    at: float
    """``time.monotonic()`` when the commit returned."""
    dsn: str


def _reader(source: Path | Callable[[], str] | str) -> Callable[[], str]:
    if isinstance(source, Path):
        return lambda: source.read_text().strip()
    if isinstance(source, str):
        return lambda: source
    return source


class Canary:
    """Sequence-numbered writes on "the current primary", in a thread, until :meth:`stop`.

    Args:
        source: the primary's DSN: a file (read before each connection), a callable, or a
            fixed string.
        table: the table written (created if missing, on the first primary).
        pause: seconds between two writes (0: as fast as commits return).
    """

    def __init__(
        self,
        source: Path | Callable[[], str] | str,
        *,
        table: str = TABLE,
        pause: float = 0.0,
    ) -> None:
        self._dsn = _reader(source)
        self._table = table
        self._pause = pause
        self._acks: list[Ack] = []
        self._errors = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._next = 1

    @property
    def acks(self) -> list[Ack]:
        with self._lock:
            return list(self._acks)

    @property
    def errors(self) -> int:
        """Writes that failed (not acknowledged: they may or may not have committed)."""
        return self._errors

    def start(self) -> Canary:
        """Create the table (on the current primary) and start writing."""
        with psycopg.connect(self._dsn(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                self._sql(
                    "CREATE TABLE IF NOT EXISTS {} (seq bigint PRIMARY KEY,"
                    " at timestamptz NOT NULL DEFAULT clock_timestamp())"
                )
            )
            row = conn.execute(self._sql("SELECT COALESCE(max(seq), 0) FROM {}")).fetchone()
        self._next = int(row[0]) + 1 if row else 1
        self._thread = threading.Thread(target=self._run, name="buttress-canary", daemon=True)
        self._thread.start()
        return self

    def wait_acks(self, count: int, timeout: float = 30.0) -> None:
        """Until ``count`` rows were acknowledged (FailoverError after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while len(self.acks) < count:
            if time.monotonic() > deadline:
                raise FailoverError(f"canary: {len(self.acks)} of {count} writes in {timeout} s")
            time.sleep(0.01)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __enter__(self) -> Canary:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _sql(self, template: LiteralString) -> sql.Composed:
        return sql.SQL(template).format(sql.Identifier(self._table))

    def _run(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        insert = self._sql("INSERT INTO {} (seq) VALUES (%s)")
        current = ""
        while not self._stopping.is_set():
            try:
                if conn is None:
                    current = self._dsn()
                    conn = psycopg.connect(current, autocommit=True, connect_timeout=1)
                seq = self._next
                self._next += 1  # a failed write's number is never reused
                conn.execute(insert, (seq,))
                with self._lock:
                    self._acks.append(Ack(seq, time.monotonic(), current))
            except (psycopg.Error, OSError):
                self._errors += 1
                if conn is not None:
                    conn.close()
                    conn = None
                self._stopping.wait(RETRY_PAUSE)
                continue
            if self._pause:
                self._stopping.wait(self._pause)
        if conn is not None:
            conn.close()

    def data_loss(self, dsn: str) -> list[int]:
        """The acknowledged sequence numbers missing from the table on ``dsn``.

        Raises:
            FailoverError: ``dsn`` cannot be read.
        """
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                rows = conn.execute(self._sql("SELECT seq FROM {}")).fetchall()
        except psycopg.Error as exc:
            raise FailoverError(f"canary: cannot read {mask_dsn(dsn)}: {exc}") from exc
        present = {int(r[0]) for r in rows}
        return sorted(a.seq for a in self.acks if a.seq not in present)

    def failover_time(self, since: float, new_primary: str) -> float | None:
        """Seconds from ``since`` (``time.monotonic()``, the fence's start) to the first write
        ``new_primary`` acknowledged after it (None: none yet)."""
        for ack in self.acks:
            if ack.at >= since and ack.dsn == new_primary:
                return ack.at - since
        return None
