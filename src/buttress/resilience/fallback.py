"""Fallback: when the primary call fails, answer from the next handler in a chain.

Each handler is called with the primary's own arguments (``primary -> cached -> default``);
:meth:`Fallback.value` makes a handler that returns a constant. Handlers are tried in order
until one does not fail; if every one fails, the last exception propagates (the earlier ones
are chained as its ``__context__``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from buttress.resilience import events
from buttress.resilience._handles import ExceptionRule, ResultRule, describe_rule, exception_rule
from buttress.resilience._policy import Policy, plain

__all__ = ["Fallback"]

T = TypeVar("T")


class _Value:
    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __call__(self, *args: Any, **kwargs: Any) -> object:
        return self.value

    def __repr__(self) -> str:
        return f"Fallback.value({self.value!r})"


class Fallback(Policy):
    """Answers from fallback handlers when the primary fails.

    >>> Fallback(lambda user: {"user": user, "cached": True}).call(lambda user: 1 / 0, "ann")
    {'user': 'ann', 'cached': True}

    Args:
        *handlers: callables taking the primary's arguments, tried in order (async ones are
            awaited in ``acall``), or :meth:`Fallback.value` constants.
        on: exceptions that trigger the fallback (types or predicate; default ``Exception``).
        on_result: predicate on a result that triggers the fallback (e.g. an empty answer).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        *handlers: Callable[..., Any],
        name: str | None = None,
        on: ExceptionRule | None = Exception,
        on_result: ResultRule | None = None,
        listeners: tuple[events.Listener, ...] = (),
    ) -> None:
        if not handlers:
            raise ValueError(
                "fallback: give at least one handler (a callable or Fallback.value(x))"
            )
        for handler in handlers:
            if not callable(handler):
                raise TypeError(
                    f"fallback handler {handler!r} is not callable; "
                    "wrap constants in Fallback.value()"
                )
        self._init_policy(name, "fallback", listeners)
        self.handlers = tuple(handlers)
        self._on = exception_rule(on, "on")
        self._on_given = on
        self._on_result = on_result

    def settings(self) -> dict[str, Any]:
        return {
            "handlers": [repr(h) if isinstance(h, _Value) else plain(h) for h in self.handlers],
            "on": describe_rule(self._on_given),
            "on_result": describe_rule(self._on_result),
        }

    @staticmethod
    def value(value: object) -> Callable[..., Any]:
        """A handler that returns ``value`` whatever the arguments."""
        return _Value(value)

    # -- the core: which outcome ends the chain (no I/O) ----------------------------------------

    def _triggers(self, exc: BaseException) -> bool:
        return self._on is not None and self._on(exc)

    def _result_triggers(self, result: object) -> bool:
        check = self._on_result
        return check is not None and bool(check(result))

    def _ends_with_error(self, index: int, exc: BaseException) -> bool:
        """Handler ``index`` raised ``exc``: the chain ends with it (the last handler, or an
        error that is no trigger) instead of going on to the next handler."""
        return index == len(self.handlers) - 1 or not self._triggers(exc)

    def _answers(self, index: int, answer: object) -> bool:
        """Handler ``index`` returned ``answer``: it is the answer (the last one's always is)."""
        return index == len(self.handlers) - 1 or not self._result_triggers(answer)

    def _used(self, index: int, cause: BaseException | None) -> None:
        if self._listeners or events.global_listeners:
            self._emit(events.FallbackUsed(self.name, index, cause))

    # -- drivers: the only code that calls the primary and the handlers -------------------------

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn``; on a triggering failure, the handlers in order."""
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            if not self._triggers(exc):
                raise
            return self._chain(args, kwargs, exc)  # type: ignore[no-any-return]  # a handler's answer
        if self._result_triggers(result):
            return self._chain(args, kwargs, None)  # type: ignore[no-any-return]  # a handler's answer
        return result

    def _chain(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], exc: BaseException | None
    ) -> Any:
        for index, handler in enumerate(self.handlers):
            try:
                answer = handler(*args, **kwargs)
            except BaseException as e:
                if self._ends_with_error(index, e):
                    raise
                exc = e
                continue
            if self._answers(index, answer):
                self._used(index, exc)
                return answer
        raise AssertionError("unreachable: the last handler answers or raises")  # pragma: no cover

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn``; on a triggering failure, the handlers in order (awaited if async)."""
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            if not self._triggers(exc):
                raise
            return await self._achain(args, kwargs, exc)  # type: ignore[no-any-return]  # a handler's answer
        if self._result_triggers(result):
            return await self._achain(args, kwargs, None)  # type: ignore[no-any-return]  # a handler's answer
        return result

    async def _achain(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], exc: BaseException | None
    ) -> Any:
        for index, handler in enumerate(self.handlers):
            try:
                answer = handler(*args, **kwargs)
                if inspect.isawaitable(answer):
                    answer = await answer
            except BaseException as e:
                if self._ends_with_error(index, e):
                    raise
                exc = e
                continue
            if self._answers(index, answer):
                self._used(index, exc)
                return answer
        raise AssertionError("unreachable: the last handler answers or raises")  # pragma: no cover

    def _no_with(self) -> str:
        return "a fallback needs a call to replace: use .call(), .acall() or the decorator"
