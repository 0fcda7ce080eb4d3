"""A shared store that fails on demand, written against ``SharedStateStore`` alone: what a
drill's fault-injecting store is. It proves the interface is complete: a policy on it reaches
the inner store only through the declared operations (mypy refuses to build it if one is
missing), and sees an injected failure exactly as a real outage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from buttress.state import (
    Op,
    Participant,
    Script,
    SharedStateStore,
    StoreAgent,
    StoreUnavailableError,
)


class FaultyStore(SharedStateStore):
    """Every operation goes to ``inner`` unless :attr:`failing`: then it raises
    :class:`StoreUnavailableError` (and a sync round fails for every participant)."""

    def __init__(self, inner: SharedStateStore) -> None:
        self.inner = inner
        self.channel = inner.channel
        self.retry_interval = inner.retry_interval
        self.failing = False
        self.injected = 0  # failures raised so far
        self._agent = _FaultyAgent(self)

    def fault(self) -> StoreUnavailableError:
        self.injected += 1
        return StoreUnavailableError(f"{self.describe()}: injected fault")

    def _gate(self) -> None:
        if self.failing:
            raise self.fault()

    def describe(self) -> str:
        return f"faulty {self.inner.describe()}"

    def close(self) -> None:
        self.inner.close()

    def key(self, kind: str, name: str, key: str = "") -> str:
        return self.inner.key(kind, name, key)

    def notice_name(self, name: str) -> str:
        return self.inner.notice_name(name)

    def eval(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        self._gate()
        return self.inner.eval(script, keys, args)

    async def aeval(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        self._gate()
        return await self.inner.aeval(script, keys, args)

    def limit(
        self,
        name: str,
        key: str,
        script: Script,
        args: tuple[float, ...],
        cost: float,
        reserve: bool,
    ) -> tuple[int, float, float, float]:
        self._gate()
        return self.inner.limit(name, key, script, args, cost, reserve)

    async def alimit(
        self,
        name: str,
        key: str,
        script: Script,
        args: tuple[float, ...],
        cost: float,
        reserve: bool,
    ) -> tuple[int, float, float, float]:
        self._gate()
        return await self.inner.alimit(name, key, script, args, cost, reserve)

    @property
    def agent(self) -> StoreAgent:
        return self._agent

    def unavailable(self, exc: BaseException) -> StoreUnavailableError:
        return self.inner.unavailable(exc)

    def publish(self, channel: str, message: str) -> None:
        self._gate()
        self.inner.publish(channel, message)

    def server_time(self) -> float:
        self._gate()
        return self.inner.server_time()

    def get(self, key: str) -> str | None:
        self._gate()
        return self.inner.get(key)

    def hash_items(self, key: str) -> dict[str, str]:
        self._gate()
        return self.inner.hash_items(key)

    def hash_delete(self, key: str, field: str) -> None:
        self._gate()
        self.inner.hash_delete(key, field)

    def check(self) -> dict[str, Any]:
        self._gate()
        return self.inner.check()

    async def aclose(self) -> None:
        await self.inner.aclose()


class _FaultyAgent:
    """The inner store's agent, with each participant behind a proxy whose round fails while
    the store is failing."""

    def __init__(self, store: FaultyStore) -> None:
        self.store = store
        self._proxies: dict[int, _Proxy] = {}  # held here: the inner agent holds them weakly

    def register(self, member: Participant) -> None:
        proxy = self._proxies.setdefault(id(member), _Proxy(member, self.store))
        self.store.inner.agent.register(proxy)

    def unregister(self, member: Participant) -> None:
        proxy = self._proxies.pop(id(member), None)
        if proxy is not None:
            self.store.inner.agent.unregister(proxy)

    def wake(self) -> None:
        self.store.inner.agent.wake()

    def run_round(self) -> None:
        self.store.inner.agent.run_round()


class _Proxy:
    def __init__(self, member: Participant, store: FaultyStore) -> None:
        self.member = member
        self.store = store
        self.notice_key = member.notice_key

    def sync_ops(self) -> list[Op]:
        if self.store.failing:
            self.member.sync_failed(self.store.fault())
            return []
        return self.member.sync_ops()

    def synced(self, replies: list[Any]) -> None:
        self.member.synced(replies)

    def sync_failed(self, error: BaseException) -> None:
        self.member.sync_failed(error)

    def notice(self, fields: list[str]) -> None:
        self.member.notice(fields)
