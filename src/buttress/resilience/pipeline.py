"""Pipeline: policies composed in order, outermost first.

``Pipeline(fallback, retry, breaker, timeout, bulkhead, limiter)`` runs a call as
``fallback(retry(breaker(timeout(bulkhead(limiter(fn))))))``: the retry retries what the breaker
lets through, the breaker counts each attempt, the limiter is asked last, just before the call.
That is the documented default order (:data:`DEFAULT_ORDER`); :meth:`Pipeline.standard` sorts
policies into it.

The stages are linked once, when the pipeline is built: each policy wraps the stage within it
(:meth:`Policy._link`), and a call passes one no-argument callable down the chain (the function
itself, or a ``functools.partial`` of it and its arguments).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from buttress.resilience._policy import AsyncLink, Link, Policy, invoke

__all__ = ["DEFAULT_ORDER", "Pipeline"]

T = TypeVar("T")

DEFAULT_ORDER = ("Fallback", "Retry", "CircuitBreaker", "Timeout", "Bulkhead", "RateLimiter")
"""Outermost first: the order :meth:`Pipeline.standard` and the YAML configuration use."""


class Pipeline(Policy):
    """Policies applied in the given order, outermost first; built once, then frozen.

    >>> from buttress.resilience import Retry, CircuitBreaker
    >>> Pipeline(Retry(attempts=2), CircuitBreaker()).call(lambda: "ok")
    'ok'

    .. versionadded:: 0.1
    """

    def __init__(self, *policies: Policy, name: str | None = None) -> None:
        if not policies:
            raise ValueError("pipeline: give at least one policy")
        seen: set[int] = set()
        for policy in policies:
            if not isinstance(policy, Policy):
                raise TypeError(f"pipeline: {policy!r} is not a resilience policy")
            if id(policy) in seen:
                raise ValueError(f"pipeline: {policy!r} appears twice")
            seen.add(id(policy))
        self._init_policy(name, "pipeline", ())
        self.policies = tuple(policies)
        chain: Link = invoke
        achain: AsyncLink = invoke
        for policy in reversed(policies):
            chain = policy._link(chain)
            achain = policy._alink(achain)
        self._chain = chain
        self._achain = achain

    @classmethod
    def standard(cls, *policies: Policy, name: str | None = None) -> Pipeline:
        """A pipeline with the policies sorted into :data:`DEFAULT_ORDER`.

        Raises:
            ValueError: two policies of one kind, or a kind the default order does not know.
        """

        def rank(policy: Policy) -> int:
            for klass in type(
                policy
            ).__mro__:  # a subclass (e.g. a shared breaker) ranks as its base
                if klass.__name__ in DEFAULT_ORDER:
                    return DEFAULT_ORDER.index(klass.__name__)
            kind = type(policy).__name__
            raise ValueError(
                f"pipeline: no default place for {kind}; build Pipeline(...) in your order"
            )

        ranks = [rank(p) for p in policies]
        if len(set(ranks)) != len(ranks):
            raise ValueError(
                "pipeline: two policies of the same kind; build Pipeline(...) in your order"
            )
        return cls(*sorted(policies, key=rank), name=name)

    def describe(self) -> list[dict[str, Any]]:
        """The structure, outermost first, with each policy's effective settings:
        ``[{"kind": "Retry", "name": "db-retry", "settings": {"attempts": 3, ...}}, ...]``."""
        return [p.summary() for p in self.policies]

    def settings(self) -> dict[str, Any]:
        return {"policies": self.describe()}

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` through every policy, outermost first."""
        return self._chain(partial(fn, *args, **kwargs) if args or kwargs else fn)  # type: ignore[no-any-return]  # fn's result

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn`` through every policy, outermost first."""
        return await self._achain(partial(fn, *args, **kwargs) if args or kwargs else fn)  # type: ignore[no-any-return]  # fn's result

    def _link(self, inner: Link) -> Link:
        chain = inner
        for policy in reversed(self.policies):  # a pipeline within a pipeline: its stages
            chain = policy._link(chain)
        return chain

    def _alink(self, inner: AsyncLink) -> AsyncLink:
        chain = inner
        for policy in reversed(self.policies):
            chain = policy._alink(chain)
        return chain

    def _enter(self) -> list[tuple[Policy, object]]:
        entered: list[tuple[Policy, object]] = []
        try:
            for policy in self.policies:
                entered.append((policy, policy._enter()))
        except BaseException as exc:
            for policy, token in reversed(entered):
                policy._exit(token, exc)
            raise
        return entered

    def _exit(self, token: object, exc: BaseException | None) -> None:
        # inner policies first; an error raised by one (a timeout noticing an overrun) is
        # what the outer ones see, and what the block ends with
        if not isinstance(token, list):
            raise TypeError(f"pipeline {self.name!r}: exit without its enter")
        raised: BaseException | None = None
        for policy, inner in reversed(token):
            try:
                policy._exit(inner, exc)
            except BaseException as error:  # noqa: BLE001  # re-raised below, after the outer exits
                exc = raised = error
        if raised is not None:
            raise raised

    async def _aenter(self) -> list[tuple[Policy, object]]:
        entered: list[tuple[Policy, object]] = []
        try:
            for policy in self.policies:
                entered.append((policy, await policy._aenter()))
        except BaseException as exc:
            for policy, token in reversed(entered):
                await policy._aexit(token, exc)
            raise
        return entered

    async def _aexit(self, token: object, exc: BaseException | None) -> None:
        if not isinstance(token, list):
            raise TypeError(f"pipeline {self.name!r}: exit without its enter")
        raised: BaseException | None = None
        for policy, inner in reversed(token):
            try:
                await policy._aexit(inner, exc)
            except BaseException as error:  # noqa: BLE001  # re-raised below, after the outer exits
                exc = raised = error
        if raised is not None:
            raise raised
