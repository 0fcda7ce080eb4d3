"""RedisStore: policy state in Redis, shared by every process and replica.

One round trip per rate-limit decision (EVALSHA of a script loaded once, reloaded on
NOSCRIPT), on Redis server time. Breakers and retry budgets keep a local view that a
background thread (:mod:`buttress.state._agent`) reconciles with Redis in batches, and learn
state changes through pub/sub. Keys are ``<prefix>:<kind>:{<name>:<key>}``: the braces are a
Redis Cluster hash tag, so every key a script touches lives in one slot.

On a Redis Cluster (``redis+cluster://``, ``cluster=True``, or detected with ``INFO cluster``
when the store first connects) the clients are redis-py's cluster clients, which route each
script by its keys' slot and follow ``MOVED``/``ASK`` redirections.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisClusterException, RedisError, ResponseError
from redis.retry import Retry

from buttress._deadlines import LoopDeadlines, current_task
from buttress.secrets import mask_url
from buttress.state import scripts
from buttress.state._base import SharedStateStore, StoreUnavailableError
from buttress.state.scripts import Script

if TYPE_CHECKING:
    from buttress.state._agent import Agent

__all__ = ["STORE_ERRORS", "ClusterModeError", "RedisStore"]

DEFAULT_URL = "redis://127.0.0.1:6379/0"

_SCHEMES = ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")


class ClusterModeError(RedisError):
    """The server is a Redis Cluster node but the store was told it is not (``cluster=False``):
    a single-endpoint client would get ``MOVED`` for most keys."""


#: what a Redis call of the store can raise when Redis fails or refuses (redis-py's cluster
#: client raises ``RedisClusterException``, which is not a ``RedisError``, e.g. when no node
#: answers)
STORE_ERRORS: tuple[type[BaseException], ...] = (RedisError, RedisClusterException, OSError)


def _escape(part: str) -> str:
    # braces would end the hash tag early; % escapes keep distinct names distinct
    return part.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


#: the store's own script: ``check`` loads it (with every script loaded so far), so that a store
#: whose ACL or proxy refuses scripting is found before a policy needs it
_PROBE = scripts.load("buttress.state", "probe")


class RedisStore(SharedStateStore):
    """Policy state in Redis: standalone, Sentinel-fronted, a cluster proxy or a Redis Cluster.

    Args:
        url: ``redis://[user:password@]host:port/db`` (``rediss://`` for TLS;
            ``redis+cluster://`` or ``rediss+cluster://`` for any node of a Redis Cluster).
            The password is never printed: :meth:`describe` and every error mask it.
        prefix: namespace of every key, e.g. ``"shop:prod"`` (one per application and
            environment).
        connect_timeout: seconds to open a connection.
        command_timeout: seconds to wait for an answer; a decision is made within it.
        pool_size: connections per client (one sync client, one async client per event loop).
        retry_interval: seconds a policy keeps its failure mode before asking Redis again.
        sync_interval: seconds between two batches of breaker and budget outcomes (and the
            longest a missed pub/sub message can leave a process's view stale).
        ssl_ca_file, ssl_cert_file, ssl_key_file, ssl_verify: TLS settings (``rediss://``).

    .. versionadded:: 0.2
    """

    shared = True

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        prefix: str = "buttress",
        connect_timeout: float = 1.0,
        command_timeout: float = 0.25,
        pool_size: int = 50,
        retry_interval: float = 1.0,
        sync_interval: float = 0.1,
        ssl_ca_file: str | None = None,
        ssl_cert_file: str | None = None,
        ssl_key_file: str | None = None,
        ssl_verify: bool = True,
        cluster: bool | None = None,
    ) -> None:
        if not url.startswith(_SCHEMES):
            raise ValueError(
                f"state store url {mask_url(url)!r}: expected redis://, rediss://, unix://, "
                "redis+cluster:// or rediss+cluster://"
            )
        if "+cluster://" in url.split("@", 1)[0]:
            if cluster is False:
                raise ValueError(
                    f"state store url {mask_url(url)!r} names a cluster but cluster=False"
                )
            cluster = True
        if cluster and url.startswith("unix://"):
            raise ValueError(f"state store url {mask_url(url)!r}: a Redis Cluster needs TCP")
        if cluster and urlsplit(url).path.strip("/") not in ("", "0"):
            raise ValueError(
                f"state store url {mask_url(url)!r}: a Redis Cluster has database 0 only"
            )
        for field, value in (
            ("connect_timeout", connect_timeout),
            ("command_timeout", command_timeout),
            ("retry_interval", retry_interval),
            ("sync_interval", sync_interval),
        ):
            if not value > 0:
                raise ValueError(f"state store {field}={value!r}: expected seconds > 0")
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ValueError(f"state store pool_size={pool_size!r}: expected an integer >= 1")
        if not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(f"state store prefix={prefix!r}: expected a non-empty name, no braces")
        self.url = url
        self._url = url.replace("+cluster://", "://", 1)  # what redis-py's clients parse
        #: ``None`` until the first connection detects it (see ``cluster`` above)
        self.cluster: bool | None = cluster
        # the server's INFO agreed with ``cluster`` (a cluster client checks that itself)
        self._verified = cluster is True
        self.prefix = prefix
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.retry_interval = retry_interval
        self.sync_interval = sync_interval
        self.channel = f"{prefix}:events"
        self._options: dict[str, Any] = {
            "socket_connect_timeout": connect_timeout,
            "socket_timeout": command_timeout,
            "retry": Retry(NoBackoff(), 0),  # the policy's failure mode decides, not a retry loop
            "max_connections": pool_size,
            "timeout": command_timeout,  # waiting for a free connection in the pool
        }
        if url.startswith("rediss://"):
            self._options.update(
                ssl_ca_certs=ssl_ca_file,
                ssl_certfile=ssl_cert_file,
                ssl_keyfile=ssl_key_file,
                ssl_cert_reqs="required" if ssl_verify else "none",
            )
        # the cluster clients keep a pool per node (no wait for a free connection: "timeout")
        self._cluster_options = {k: v for k, v in self._options.items() if k != "timeout"}
        self._client: Any = None  # redis.Redis, or redis.cluster.RedisCluster on a cluster
        # the single-endpoint pool (opens nothing until used)
        self._pool = redis.BlockingConnectionPool.from_url(self._url, **self._options)
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]
        self._aclients = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._agent: Agent | None = None
        self._closed = False
        self._idle: list[Any] = []  # connections held between single commands (see _execute)
        self._held = 0
        self._aheld: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Held]
        self._aheld = weakref.WeakKeyDictionary()  # the same, per event loop (see _aexecute)
        self._pid = os.getpid()
        #: tests only: a clock (seconds) the scripts use instead of the Redis server's time
        self.pinned_time: Callable[[], float] | None = None

    # -- connections ------------------------------------------------------------------------

    def describe(self) -> str:
        return f"redis {mask_url(self.url)}"

    @property
    def client(self) -> Any:
        """The pooled sync client (created on first use): a ``redis.Redis``, or a
        ``redis.cluster.RedisCluster`` on a cluster.

        Raises:
            RedisError: the first connection, which detects cluster mode, failed (or met a
                cluster node with ``cluster=False``: :class:`ClusterModeError`).
        """
        client = self._client
        if client is None:
            if not self._verified:
                self._detect()
            with self._lock:
                if self._client is None:
                    if self.cluster:
                        from redis.cluster import RedisCluster

                        self._client = RedisCluster.from_url(self._url, **self._cluster_options)
                    else:
                        self._client = redis.Redis(connection_pool=self._pool)
                client = self._client
        return client

    def _detect(self) -> None:
        """Ask the server ``INFO cluster`` on a new connection, which the store then holds
        for its decisions (one endpoint), or closes (a cluster, or a refusal)."""
        with self._lock:
            self._held += 1
        pool: Any = self._pool
        conn = pool.connection_class(**pool.connection_kwargs)
        try:
            reply = self._send(conn, ("INFO", "cluster"), self._idle)
        except ResponseError:
            reply = b""  # no INFO (some proxies): one endpoint
        try:
            self._detected(reply)
        finally:
            if not (self._verified and self.cluster is False):
                for idle in self._drain(self._idle):
                    idle.disconnect()

    def _drain(self, idle: list[Any]) -> list[Any]:
        gone, idle[:] = list(idle), []
        with self._lock:
            self._held -= len(gone)
        return gone

    def _detected(self, reply: Any) -> None:
        """Record what ``INFO cluster`` said (refusing a cluster node when told ``False``)."""
        enabled = _says_cluster(reply)
        if enabled and self.cluster is False:
            raise ClusterModeError(
                "the server is a Redis Cluster node (INFO cluster: cluster_enabled:1) but "
                "state.cluster is false: a single-endpoint client gets MOVED for most keys; "
                "set cluster: true (or leave it unset) or use redis+cluster://"
            )
        self.cluster, self._verified = enabled, True

    async def _adetect(self, held: _Held) -> None:
        """:meth:`_detect` for the asyncio face, on a connection of the running loop."""
        conn = self._aconnection(held)
        if conn is None:  # pool_size callers at once: ask through the loop's client
            reply = await self.aclient().info("cluster")
        else:
            try:
                reply = await self._asend(conn, ("INFO", "cluster"), held)
            except ResponseError:
                reply = b""
        try:
            self._detected(reply)
        finally:
            if not (self._verified and self.cluster is False):
                idle, held.idle = held.idle, []
                held.count -= len(idle)
                for gone in idle:
                    await gone.disconnect()
                loop = asyncio.get_running_loop()
                client = self._aclients.get(loop)
                if isinstance(client, redis.asyncio.Redis):  # made for the connection's kwargs
                    del self._aclients[loop]
                    await client.aclose()
                    await client.connection_pool.disconnect()

    async def _acluster(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop's cluster client, initialized before any caller uses it: redis.asyncio's
        cluster client initializes on first use, and several callers initializing it at once
        close each other's connections ("Connection closed by server")."""
        client = self._new_acluster()
        try:
            await client.initialize()
        except BaseException:
            await client.aclose()
            raise
        self._aclients[loop] = client

    def _new_acluster(self) -> Any:
        from redis.asyncio.cluster import RedisCluster
        from redis.asyncio.retry import Retry as AsyncRetry

        options = {**self._cluster_options, "retry": AsyncRetry(NoBackoff(), 0)}
        return RedisCluster.from_url(self._url, **options)

    def aclient(self) -> Any:
        """The pooled asyncio client of the running event loop (one per loop): a
        ``redis.asyncio.Redis``, or a ``redis.asyncio.cluster.RedisCluster`` on a cluster
        (cluster mode must be known: see :meth:`_adetect`)."""
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            if self.cluster:
                client = self._new_acluster()  # initialized on first use (see _acluster)
            else:
                pool = redis.asyncio.BlockingConnectionPool.from_url(self._url, **self._options)
                client = redis.asyncio.Redis(connection_pool=pool)
            self._aclients[loop] = client
        return client

    def unavailable(self, exc: BaseException) -> StoreUnavailableError:
        """A store error naming the store (masked) and the cause, for the policies."""
        cause = str(exc) or type(exc).__name__
        return StoreUnavailableError(f"{self.describe()}: {type(exc).__name__}: {cause}")

    def key(self, kind: str, name: str, key: str = "") -> str:
        """The Redis key of one logical state: all its keys share the ``{...}`` hash tag."""
        return f"{self.prefix}:{kind}:{{{_escape(name)}:{_escape(key)}}}"

    @staticmethod
    def notice_name(name: str) -> str:
        """A policy name as it appears in the ``kind|name|...`` notices on :attr:`channel`."""
        return name.replace("%", "%25").replace("|", "%7C")

    @property
    def agent(self) -> Agent:
        """The background thread that batches breaker/budget outcomes, renews bulkhead leases
        and listens to state changes (started on first use)."""
        if self._agent is None:
            with self._lock:
                if self._agent is None:
                    from buttress.state._agent import Agent

                    self._agent = Agent(self)
        return self._agent

    def close(self) -> None:
        """Stop the background thread and close the sync client's connections."""
        self._closed = True
        agent, self._agent = self._agent, None
        if agent is not None:
            agent.stop()
        client, self._client = self._client, None
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.disconnect()
        with self._lock:
            self._held -= len(idle)
        if client is not None:
            client.close()
            if self.cluster:  # close() leaves the nodes' pools connected
                client.disconnect_connection_pools()
        self._pool.disconnect()

    async def aclose(self) -> None:
        """Close the running loop's asyncio client (call it before the loop ends, or its
        connections are only closed by the garbage collector, with a ResourceWarning)."""
        loop = asyncio.get_running_loop()
        held = self._aheld.pop(loop, None)
        if held is not None:
            idle, held.idle = held.idle, []
            held.count -= len(idle)
            for conn in idle:
                await conn.disconnect()
        client = self._aclients.pop(loop, None)
        if client is not None:
            await client.aclose()
            if not self.cluster:
                await client.connection_pool.disconnect()

    def check(self) -> dict[str, Any]:
        """Ask Redis what a policy will need: answers, version, round trip, clock, scripts,
        and whether it is a Redis Cluster (``cluster``: ``None`` for one endpoint, else the
        number of primaries; a cluster whose state is not ``ok`` is refused).

        Raises:
            StoreUnavailableError: Redis refused, timed out, refused the credentials, or is a
                cluster node while the store was told ``cluster=False``, or a cluster that
                is down.
        """
        import time

        try:
            client = self.client
            one: dict[str, Any] = {"target_nodes": client.RANDOM} if self.cluster else {}
            trips = []
            for _ in range(5):
                started = time.perf_counter()
                client.ping(**one)
                trips.append(time.perf_counter() - started)
            seconds, micros = client.time(**one)
            skew = seconds + micros / 1e6 - time.time()
            version = client.info("server", **one).get("redis_version", "?")
            primaries = None
            if self.cluster:
                state = client.cluster_info().get("cluster_state")
                if state != "ok":
                    raise RedisClusterException(f"cluster_state:{state}")
                primaries = len(client.get_primaries())
            loaded = [_PROBE, *(s for s in scripts.loaded() if s is not _PROBE)]
            for script in loaded:
                client.script_load(script.text)  # on a cluster: on every primary
        except STORE_ERRORS as exc:
            raise self.unavailable(exc) from None
        return {
            "store": self.describe(),
            "prefix": self.prefix,
            "redis_version": version,
            "cluster": primaries,
            "round_trip_ms": min(trips) * 1000,
            "clock_offset_ms": skew * 1000,
            "scripts_loaded": len(loaded),
        }

    # -- scripts ----------------------------------------------------------------------------

    def _now(self) -> str:
        # every script's last argument: empty (Redis server time) or a pinned time (tests)
        pinned = self.pinned_time
        return "" if pinned is None else repr(pinned() * 1e6)

    def eval(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run ``script`` (EVALSHA; EVAL once if Redis lost it).

        Raises:
            StoreUnavailableError: Redis refused, timed out or failed.
        """
        args = [*args, self._now()]
        try:
            try:
                return self._execute("EVALSHA", script.sha, len(keys), *keys, *args)
            except NoScriptError:
                return self._execute("EVAL", script.text, len(keys), *keys, *args)
        except STORE_ERRORS as exc:
            raise self.unavailable(exc) from None

    def _execute(self, *command: Any) -> Any:
        """One command on a connection this store keeps between commands.

        redis-py's client checks a connection out of its pool for every command: a queue with
        a condition variable, and a poll of the socket for unread data, which cost about a
        third of a loopback round trip (measured: EVALSHA at 0.71x PING through the client,
        1.09x on a held connection). Policy decisions are single commands whose replies are
        read in full, so connections go back to a plain list (``pop``/``append`` are atomic)
        after each one; at most ``pool_size`` are held this way, beyond that the client's
        pool serves. A connection that fails is dropped; one that had waited idle and fails
        to connect or send (the server restarted meanwhile) is replaced once.
        """
        pid = os.getpid()
        if pid != self._pid:  # forked: the parent's sockets are not this process's
            self._idle, self._held, self._pid = [], 0, pid
        idle = self._idle
        try:
            conn = idle.pop()
        except IndexError:
            conn = self._connection()
            if conn is None:
                client: Any = self.client  # redis-py's execute_command is untyped
                return client.execute_command(*command)
            return self._send(conn, command, idle)
        try:
            return self._send(conn, command, idle)
        except redis.ConnectionError:
            fresh = self._connection()
            if fresh is None:
                raise
            return self._send(fresh, command, idle)

    def _connection(self) -> Any:
        """A new connection like the client pool's, or ``None`` at ``pool_size`` of them or on
        a cluster (whose client routes every command to its slot's node)."""
        client = self.client  # the first use detects cluster mode on a connection it holds
        if self.cluster:
            return None
        try:
            return self._idle.pop()  # that connection
        except IndexError:
            pass
        with self._lock:
            if self._held >= self._options["max_connections"]:
                return None
            self._held += 1
        pool: Any = client.connection_pool
        return pool.connection_class(**pool.connection_kwargs)

    def _send(self, conn: Any, command: tuple[Any, ...], idle: list[Any]) -> Any:
        try:
            conn.send_packed_command([_pack(command)], check_health=False)
            reply = conn.read_response()
        except redis.ResponseError:
            idle.append(conn)  # an error reply, read in full: the connection is fine
            raise
        except BaseException:
            conn.disconnect()
            with self._lock:
                self._held -= 1
            raise
        idle.append(conn)
        return reply

    async def aeval(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """:meth:`eval` on a connection of the running event loop."""
        args = [*args, self._now()]
        try:
            try:
                return await self._aexecute("EVALSHA", script.sha, len(keys), *keys, *args)
            except NoScriptError:
                return await self._aexecute("EVAL", script.text, len(keys), *keys, *args)
        except STORE_ERRORS as exc:
            raise self.unavailable(exc) from None

    async def _aexecute(self, *command: Any) -> Any:
        """:meth:`_execute` for asyncio: connections held per event loop.

        Through redis.asyncio's client a command also checks a connection out of the pool, and
        it bounds the write with ``asyncio.wait_for``, which starts a task on Python 3.11 (a
        third of a loopback round trip together). A held connection is created without a
        socket timeout; one ``asyncio.timeout(command_timeout)`` bounds write and read, and a
        connection that is cut off, cancelled or failing is closed rather than put back.
        """
        loop = asyncio.get_running_loop()
        held = self._aheld.get(loop)
        if held is None:
            held = self._aheld[loop] = _Held(loop)
        try:
            conn = held.idle.pop()
        except IndexError:
            if not self._verified or (self.cluster and loop not in self._aclients):
                async with held.detecting:  # the loop's first callers wait for one answer
                    if not self._verified:
                        await self._adetect(held)
                    if self.cluster and loop not in self._aclients:
                        await self._acluster(loop)
                if not self.cluster and held.idle:
                    return await self._asend(held.idle.pop(), command, held)
            conn = self._aconnection(held)
            if conn is None:
                client: Any = self.aclient()
                try:
                    return await client.execute_command(*command)
                except AttributeError as exc:
                    # redis.asyncio's cluster client, when a timeout elsewhere disconnected the
                    # node connection it was writing to ('NoneType' has no 'writelines'):
                    # a lost connection, for the store's failure handling like any other
                    raise redis.ConnectionError(f"connection lost mid-command ({exc})") from exc
            return await self._asend(conn, command, held)
        try:
            return await self._asend(conn, command, held)
        except redis.ConnectionError:
            fresh = self._aconnection(held)
            if fresh is None:
                raise
            return await self._asend(fresh, command, held)

    def _aconnection(self, held: _Held) -> Any:
        """A new connection like the loop's client pool's (no socket timeout: see
        :meth:`_aexecute`), or ``None`` at ``pool_size`` of them or on a cluster."""
        if self.cluster or held.count >= self._options["max_connections"]:
            return None
        held.count += 1
        pool: Any = self.aclient().connection_pool
        return pool.connection_class(**{**pool.connection_kwargs, "socket_timeout": None})

    async def _asend(self, conn: Any, command: tuple[Any, ...], held: _Held) -> Any:
        try:
            if not conn.is_connected:
                await conn.connect()  # within connect_timeout
            deadlines = held.deadlines
            entry = deadlines.start(current_task(deadlines.loop), self.command_timeout)
            try:
                await conn.send_packed_command([_pack(command)], check_health=False)
                reply = await conn.read_response()
            except asyncio.CancelledError:
                if deadlines.expired(entry):
                    raise redis.TimeoutError(
                        f"no answer within command_timeout={self.command_timeout}s"
                    ) from None
                raise
            finally:
                deadlines.end(entry)
        except redis.ResponseError:
            held.idle.append(conn)  # an error reply, read in full: the connection is fine
            raise
        except BaseException:
            held.count -= 1
            await conn.disconnect(nowait=True)  # closes without waiting: never suspends
            raise
        held.idle.append(conn)
        return reply

    # -- rate limits ------------------------------------------------------------------------

    def _limit_call(
        self,
        name: str,
        key: str,
        script: Script,
        args: tuple[float, ...],
        cost: float,
        reserve: bool,
    ) -> tuple[Script, list[str], list[Any]]:
        base = self.key("rl", name, key)
        suffixes = script.keys
        keys = [base] if suffixes == ("",) else [base + suffix for suffix in suffixes]
        return script, keys, [*args, cost, 1 if reserve else 0]

    def limit(
        self,
        name: str,
        key: str,
        script: Script,
        args: tuple[float, ...],
        cost: float,
        reserve: bool,
    ) -> tuple[int, float, float, float]:
        """One rate-limit decision: (code, retry seconds, remaining, reset seconds); code 1 =
        taken, 2 = reserved (wait first), 0 = refused, -1 = never grantable."""
        reply = self.eval(*self._limit_call(name, key, script, args, cost, reserve))
        return _decision(reply)

    async def alimit(
        self,
        name: str,
        key: str,
        script: Script,
        args: tuple[float, ...],
        cost: float,
        reserve: bool,
    ) -> tuple[int, float, float, float]:
        """:meth:`limit` for asyncio."""
        reply = await self.aeval(*self._limit_call(name, key, script, args, cost, reserve))
        return _decision(reply)

    # -- plain reads and writes (the fleet level, its CLI) -------------------------------------

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        """Redis's failures as :class:`StoreUnavailableError` (what every plain call raises)."""
        try:
            yield
        except STORE_ERRORS as exc:
            raise self.unavailable(exc) from None

    def publish(self, channel: str, message: str) -> None:
        """Publish ``message`` on ``channel``.

        Raises:
            StoreUnavailableError: Redis refused, timed out or failed.
        """
        with self._answering():
            self.client.publish(channel, message)

    def server_time(self) -> float:
        """The Redis server's clock, Unix seconds (microsecond resolution).

        Raises:
            StoreUnavailableError: Redis refused, timed out or failed.
        """
        with self._answering():
            seconds, micros = self.client.time()
        return int(seconds) + int(micros) / 1e6

    def get(self, key: str) -> str | None:
        """The string at ``key``, or ``None``.

        Raises:
            StoreUnavailableError: Redis refused, timed out or failed.
        """
        with self._answering():
            value = self.client.get(key)
        return None if value is None else _text(value)

    def hash_items(self, key: str) -> dict[str, str]:
        """Every field of the hash at ``key`` (empty when there is none).

        Raises:
            StoreUnavailableError: Redis refused, timed out or failed.
        """
        with self._answering():
            items = self.client.hgetall(key)
        return {_text(field): _text(value) for field, value in items.items()}

    def hash_delete(self, key: str, field: str) -> None:
        """Remove ``field`` from the hash at ``key``.

        Raises:
            StoreUnavailableError: Redis refused, timed out or failed.
        """
        with self._answering():
            self.client.hdel(key, field)


def _pack(command: tuple[Any, ...]) -> bytes:
    """``command`` as RESP bytes, as redis-py packs it (str as UTF-8, float by ``repr``) in a
    third less time: a decision's command is built and sent thousands of times a second."""
    out = [b"*%d\r\n" % len(command)]
    for arg in command:
        if isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, float):
            data = repr(arg).encode()
        elif isinstance(arg, int):
            data = b"%d" % arg
        else:
            raise TypeError(f"redis command argument {arg!r}: expected str, bytes, int or float")
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


class _Held:
    """The connections one event loop holds between single commands, and the deadlines of
    the commands running on them (all ``command_timeout`` long: one timer serves them)."""

    __slots__ = ("count", "deadlines", "detecting", "idle")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.idle: list[Any] = []
        self.count = 0
        self.deadlines = LoopDeadlines(loop)
        self.detecting = asyncio.Lock()  # cluster mode is asked once (see _adetect)


def _says_cluster(reply: Any) -> bool:
    """Does an ``INFO cluster`` reply (raw bytes, or parsed by redis-py) say cluster mode?"""
    if isinstance(reply, dict):
        return str(reply.get("cluster_enabled")) == "1"
    return isinstance(reply, bytes) and b"cluster_enabled:1" in reply


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decision(reply: Any) -> tuple[int, float, float, float]:
    code, retry, remaining, reset = reply
    return code, retry / 1e6, remaining / 1e6, reset / 1e6
