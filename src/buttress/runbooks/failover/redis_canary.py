"""A canary writer for Redis failover drills, and the drill itself.

The canary appends sequence numbers to a list (RPUSH) on whichever server takes writes,
trying the next one when a write fails (READONLY, paused, refused), and records each write
the server acknowledged. With ``wait_replicas=1`` a write counts as acknowledged only once
``WAIT 1`` says a replica has it, which is what makes a failover lossless. After the drill,
:meth:`RedisCanary.lost` lists the acknowledged numbers the new primary does not have, and
:meth:`RedisCanary.first_ack` gives the failover time (from the fence to the first
acknowledged write on the new primary).

.. versionadded:: 0.9
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.redis import (
    RedisPair,
    catch_up,
    check_lag,
    fence,
    promote,
    reattach,
    wait_writable,
)
from buttress.secrets import mask_url

__all__ = ["CanaryWrite", "DrillResult", "RedisCanary", "drill"]

DEFAULT_KEY = "buttress:canary"


@dataclass(frozen=True, slots=True)
class CanaryWrite:
    """Write ``seq`` was acknowledged by server ``server`` (an index into the canary's URLs)
    at ``at`` (monotonic seconds)."""

    seq: int
    server: int
    at: float


@dataclass(frozen=True, slots=True)
class DrillResult:
    """One failover drill: ``failover_seconds`` from the fence to the first acknowledged
    write on the new primary, ``lost`` acknowledged writes it does not have."""

    wait_replicas: int
    acknowledged: int
    lost: int
    failover_seconds: float | None
    lag_bytes: int | None


class RedisCanary:
    """Sequence-numbered writes on the current primary, in a thread.

    Args:
        urls: the servers that may be primary; writes go to the first that takes them.
        key: the list the numbers are appended to.
        wait_replicas: 0 for asynchronous replication; 1: WAIT 1 before a write counts.
        wait_timeout: how long WAIT may take (seconds); a write not replicated by then is
            not acknowledged.
        timeout: for each answer (seconds): a paused server stops a write this long.
        interval: pause between writes (seconds).
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        key: str = DEFAULT_KEY,
        wait_replicas: int = 0,
        wait_timeout: float = 0.5,
        timeout: float = 0.25,
        interval: float = 0.001,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not urls:
            raise ValueError("urls: at least one server")
        self.urls = tuple(urls)
        self.key = key
        self.wait_replicas = wait_replicas
        self.wait_timeout = wait_timeout
        self.interval = interval
        self._clock = clock
        self._timeout = timeout
        self._acked: list[CanaryWrite] = []
        self._failed = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"RedisCanary({', '.join(mask_url(url) for url in self.urls)})"

    def _client(self, url: str) -> redis.Redis:
        return redis.Redis.from_url(
            url,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def start(self) -> None:
        """Start writing (in a daemon thread)."""
        self._thread = threading.Thread(target=self._run, name="redis-canary", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop writing and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> RedisCanary:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        clients = [self._client(url) for url in self.urls]
        wait_ms = str(int(self.wait_timeout * 1000))
        current = 0
        seq = 0
        try:
            while not self._stop.is_set():
                seq += 1
                client = clients[current]
                send: Callable[..., Any] = client.execute_command
                try:
                    send("RPUSH", self.key, str(seq))
                    if (
                        self.wait_replicas
                        and int(send("WAIT", str(self.wait_replicas), wait_ms)) < self.wait_replicas
                    ):
                        raise redis.ResponseError("not replicated in time")
                except redis.RedisError:
                    with self._lock:
                        self._failed += 1
                    current = (current + 1) % len(clients)
                    self._stop.wait(0.005)
                    continue
                with self._lock:
                    self._acked.append(CanaryWrite(seq, current, self._clock()))
                if self.interval:
                    self._stop.wait(self.interval)
        finally:
            for client in clients:
                client.close()

    @property
    def acknowledged(self) -> list[CanaryWrite]:
        """The writes acknowledged so far, in order."""
        with self._lock:
            return list(self._acked)

    @property
    def failed(self) -> int:
        """Writes refused or not acknowledged in time."""
        with self._lock:
            return self._failed

    def wait_for(self, count: int, timeout: float, *, server: int | None = None) -> None:
        """Return once ``count`` writes (on ``server``, if given) were acknowledged.

        Raises:
            FailoverError: fewer after ``timeout`` seconds.
        """
        start = self._clock()
        while True:
            got = [w for w in self.acknowledged if server is None or w.server == server]
            if len(got) >= count:
                return
            if self._clock() - start > timeout:
                raise FailoverError(f"canary: {len(got)} of {count} writes in {timeout:g} s")
            time.sleep(0.01)

    def first_ack(self, server: int, after: float) -> float | None:
        """When ``server`` first acknowledged a write at or after ``after``."""
        for write in self.acknowledged:
            if write.server == server and write.at >= after:
                return write.at
        return None

    def failover_time(self, since: float, new_primary: str) -> float | None:
        """Seconds from ``since`` (the fence, monotonic) to the first write ``new_primary``
        acknowledged (the PostgreSQL :class:`~.canary.Canary`'s name and shape)."""
        first = self.first_ack(self.urls.index(new_primary), since)
        return None if first is None else first - since

    def data_loss(self, url: str) -> list[int]:
        """The same as :meth:`lost` (the PostgreSQL canary's name)."""
        return self.lost(url)

    def lost(self, url: str) -> list[int]:
        """The acknowledged numbers the server at ``url`` does not have."""
        client = self._client(url)
        try:
            present = {int(v) for v in client.lrange(self.key, 0, -1)}
        finally:
            client.close()
        return [w.seq for w in self.acknowledged if w.seq not in present]


def drill(
    pair: RedisPair,
    *,
    wait_replicas: int = 0,
    warmup_writes: int = 200,
    key: str = DEFAULT_KEY,
    deadline: float = 30.0,
    wait_catch_up: bool = True,
) -> DrillResult:
    """Fail ``pair`` over under a canary load and re-attach the old primary: fence, catch
    up, check lag, promote, wait until writable, re-attach; then count the acknowledged
    writes the new primary lacks.

    Args:
        wait_replicas: the canary's WAIT (0: asynchronous).
        warmup_writes: acknowledged writes before the fence.
        deadline: for the new primary to become writable, and for its first acknowledged
            canary write (seconds).
        wait_catch_up: let the replica catch up after the fence (False: promote at once,
            what was not yet replicated is lost).
    """
    canary = RedisCanary([pair.primary, pair.replica], key=key, wait_replicas=wait_replicas)
    with canary:
        canary.wait_for(warmup_writes, deadline, server=0)
        fenced = fence(pair)
        if wait_catch_up:
            catch_up(pair, timeout=min(deadline, pair.pause_seconds / 2), force=True)
        lag = check_lag(pair, force=True)
        promote(pair, force=True)
        wait_writable(pair.replica, deadline, timeout=pair.timeout)
        reattach(pair)
        canary.wait_for(1, deadline, server=1)
    seconds = canary.failover_time(fenced.at, pair.replica)
    lost = canary.data_loss(pair.replica)
    return DrillResult(
        wait_replicas=wait_replicas,
        acknowledged=len(canary.acknowledged),
        lost=len(lost),
        failover_seconds=seconds,
        lag_bytes=lag.status.lag_bytes,
    )
