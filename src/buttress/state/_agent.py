"""The Redis store's background thread: batches, leases and state-change notices.

Shared breakers and retry budgets count outcomes locally (no round trip on the call path);
every ``sync_interval`` (or at once when woken, e.g. after a failure) the agent sends every
participant's pending counts in one pipelined round trip and hands each its reply: the shared
state, which is also how a participant that missed a pub/sub notice catches up. A second
thread listens on the store's channel, so a state change made by one process reaches the
others in about one network round trip.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any

from redis.exceptions import NoScriptError

from buttress.state._base import Op, Participant
from buttress.state.redis_store import STORE_ERRORS

if TYPE_CHECKING:
    from buttress.state.redis_store import RedisStore

__all__ = ["Agent"]

log = logging.getLogger("buttress.state")


class Agent:
    """Runs the sync and listen threads of one :class:`RedisStore` (daemon threads): the
    :class:`~buttress.state.StoreAgent` of a Redis store."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self._members: weakref.WeakSet[Participant] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.rounds = 0
        self._sync = threading.Thread(
            target=self._sync_loop, name="buttress-state-sync", daemon=True
        )
        self._listen = threading.Thread(
            target=self._listen_loop, name="buttress-state-listen", daemon=True
        )
        self._sync.start()
        self._listen.start()

    def register(self, member: Participant) -> None:
        with self._lock:
            self._members.add(member)
        self._wake.set()

    def unregister(self, member: Participant) -> None:
        with self._lock:
            self._members.discard(member)

    def wake(self) -> None:
        """Run a round now rather than at the next interval."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in (self._sync, self._listen):
            if thread is not threading.current_thread():
                thread.join(timeout=5)

    # -- sync --------------------------------------------------------------------------------

    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.store.sync_interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.run_round()
            except Exception:  # a bug must not kill the thread that keeps every breaker in step
                log.exception("state store sync round failed")

    def run_round(self) -> None:
        """One round: every member's ops in one pipeline, replies handed back."""
        with self._lock:
            members = list(self._members)
        batches: list[tuple[Participant, list[Op]]] = []
        for member in members:
            ops = member.sync_ops()
            if ops:
                batches.append((member, ops))
        self.rounds += 1
        if not batches:
            return
        try:
            replies = self._execute([op for _, ops in batches for op in ops])
        except STORE_ERRORS as exc:
            error = self.store.unavailable(exc)
            for member, _ in batches:
                member.sync_failed(error)
            return
        i = 0
        for member, ops in batches:
            member.synced(replies[i : i + len(ops)])
            i += len(ops)

    def _execute(self, ops: list[Op]) -> list[Any]:
        client: Any = self.store.client  # redis-py's pipeline commands are untyped
        # on a cluster the pipeline sends each node the scripts of its slots
        now = self.store._now()
        for attempt in range(2):
            pipe = client.pipeline(transaction=False)
            for script, keys, args in ops:
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args, now)
            replies = pipe.execute(raise_on_error=False)
            missing = {ops[i][0] for i, r in enumerate(replies) if isinstance(r, NoScriptError)}
            if not missing or attempt:
                break
            for script in missing:  # Redis restarted or flushed its scripts: load them once
                client.script_load(script.text)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return list(replies)

    # -- listen ------------------------------------------------------------------------------

    def _listen_loop(self) -> None:
        while not self._stop.is_set():
            pubsub = None
            try:
                client: Any = self.store.client
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.store.channel)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is not None and message.get("type") == "message":
                        self._dispatch(message["data"])
            except STORE_ERRORS:
                # the sync round reports the outage; wait, then subscribe again
                self._stop.wait(self.store.retry_interval)
            except Exception:
                log.exception("state store listener failed; restarting it")
                self._stop.wait(self.store.retry_interval)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(*STORE_ERRORS):
                        pubsub.close()

    def _dispatch(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        fields = text.split("|")
        if len(fields) < 2:
            return
        key = (fields[0], fields[1])
        with self._lock:
            members = [m for m in self._members if m.notice_key == key]
        for member in members:
            member.notice(fields[2:])
