"""The base every policy shares: its name, its listeners, and the faces a policy shows.

A policy implements ``call``/``acall`` (the drivers, a few lines each over a shared core) and,
when a ``with`` block makes sense for it, ``_enter``/``_exit`` (sync) and ``_aenter``/``_aexit``.
This base turns those into the decorator (sync or async, picked from the function; its
wrappers are ``_wrap``/``_awrap``), the pipeline stages (``_link``/``_alink``) and the
``with`` / ``async with`` faces. A policy whose success path is worth a frame overrides the
wrappers and stages with it inlined (the breaker's and retry's are generated from their async
source by scripts/gen_faces.py).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import itertools
import math
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, TypeVar, overload

from buttress.resilience import events
from buttress.state._base import (
    OnStoreFailure,
    SharedStateStore,
    StateStore,
    check_on_store_failure,
)

if TYPE_CHECKING:
    from buttress.resilience._store_guard import StoreGuard

__all__ = ["AsyncLink", "Link", "Policy", "invoke"]

P = ParamSpec("P")
T = TypeVar("T")

Link = Callable[[Callable[[], Any]], Any]
"""A pipeline stage: runs the no-argument call it is given (through the stages within)."""
AsyncLink = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]


def invoke(thunk: Callable[[], Any]) -> Any:
    """The innermost stage of a chain, sync or async: make the call (an async stage around it
    awaits what it returns, so it needs no coroutine of its own)."""
    return thunk()


_names = itertools.count(1)


class Policy:
    """Base of every resilience policy."""

    name: str
    _listeners: tuple[events.Listener, ...]
    _guard: StoreGuard | None = None  # set by _init_store for a policy with shared state
    _store: SharedStateStore | None = None  # the same (a policy's shared variant narrows it)
    # a policy class whose shared-state variant is another class names its constructor here
    # (e.g. "CircuitBreaker.shared"): a shared store given to this class is refused
    _shared_via: ClassVar[str | None] = None
    _cm: contextvars.ContextVar[tuple[Any, ...]]

    def _init_policy(
        self, name: str | None, kind: str, listeners: tuple[events.Listener, ...]
    ) -> None:
        self.name = name or f"{kind}-{next(_names)}"
        self._kind = kind
        self._listeners = tuple(listeners)
        # created here, not on first `with`: two threads creating it at once would each get
        # their own and one of them would lose the token it pushed
        self._cm = contextvars.ContextVar(f"buttress-policy-{id(self)}", default=())

    def _init_store(self, store: StateStore | None, on_store_failure: OnStoreFailure) -> None:
        """Attach a shared state store (``None`` or a memory store: in-process state)."""
        check_on_store_failure(on_store_failure)
        self._store = None
        self._guard = None
        if store is None or not store.shared:
            return
        if not isinstance(store, SharedStateStore):
            raise TypeError(
                f"store {store.describe()!r} says it is shared but is no SharedStateStore: a "
                "shared backend implements buttress.state.SharedStateStore"
            )
        if self._shared_via is not None:
            raise TypeError(
                f"{type(self).__name__}(store=...) keeps its state in this process: for state "
                f"shared through {type(store).__name__}, build it with {self._shared_via}(...)"
            )
        if self.name.startswith(f"{self._kind}-"):
            raise ValueError(
                f"a {self._kind.replace('_', ' ')} with shared state needs a name= (its state "
                "is found by name in every process)"
            )
        from buttress.resilience._store_guard import StoreGuard

        self._store = store
        self._guard = StoreGuard(self, store, on_store_failure)

    @property
    def store_mode(self) -> str:
        """``memory`` (in-process state), ``shared`` (the store answers), or the
        ``on_store_failure`` mode in force while it does not (``local``, ``allow``, ``deny``)."""
        guard = self._guard
        return "memory" if guard is None else guard.current_mode

    # -- listeners ---------------------------------------------------------------------------

    def add_listener(self, listener: events.Listener) -> None:
        """Deliver this policy's events to ``listener``."""
        if listener not in self._listeners:
            self._listeners = (*self._listeners, listener)
            self._listeners_changed()

    def remove_listener(self, listener: events.Listener) -> None:
        """Stop delivering this policy's events to ``listener``."""
        self._listeners = tuple(x for x in self._listeners if x is not listener)
        self._listeners_changed()

    def _listeners_changed(self) -> None:
        """Hook for policies whose fast path depends on whether anyone listens."""

    def _emit(self, event: events.Event) -> None:
        events.emit(self._listeners, event)

    # -- the faces -----------------------------------------------------------------------------

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` under this policy."""
        raise NotImplementedError

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn(*args, **kwargs)`` under this policy."""
        raise NotImplementedError

    @overload
    def __call__(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]: ...
    @overload
    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]: ...
    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Use the policy as a decorator, on a plain or an ``async def`` function."""
        wrapper = self._awrap(fn) if inspect.iscoroutinefunction(fn) else self._wrap(fn)
        return functools.update_wrapper(wrapper, fn)

    def _wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` under this policy, taking fn's own arguments: the decorator's wrapper. A
        policy whose success path is worth a frame inlines it here, and links its pipeline
        stages with this wrapper too (see :meth:`_link`)."""
        call = self.call

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return call(fn, *args, **kwargs)

        return wrapper

    def _awrap(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """:meth:`_wrap` for asyncio: ``fn`` returns an awaitable, and so does the wrapper."""
        acall = self.acall

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await acall(fn, *args, **kwargs)

        return wrapper

    # -- links: the policy as one stage of a pipeline --------------------------------------------

    def _link(self, inner: Link) -> Link:
        """This policy around ``inner`` as a pipeline stage: a function of one argument, the
        call to make (a no-argument callable), that runs ``inner(thunk)`` under the policy.

        By default the stage is the sync driver itself, ``call(inner, thunk)``, bound with a
        C-level ``partial`` (no frame of its own). A policy on a pipeline's hot path overrides
        it with its wrapper's fast path for the one argument (a ``*args, **kwargs`` wrapper
        costs a tuple and a dict per stage), and leaves the rest to ``call``.
        """
        return functools.partial(self.call, inner)

    def _alink(self, inner: AsyncLink) -> AsyncLink:
        """:meth:`_link` for asyncio: ``acall(inner, thunk)``; the result is an awaitable."""
        return functools.partial(self.acall, inner)

    def _enter(self) -> object:
        raise TypeError(self._no_with())

    def _exit(self, token: object, exc: BaseException | None) -> None:
        raise TypeError(self._no_with())

    async def _aenter(self) -> object:
        return self._enter()

    async def _aexit(self, token: object, exc: BaseException | None) -> None:
        self._exit(token, exc)

    def _no_with(self) -> str:
        kind = type(self).__name__
        return f"{kind} cannot guard a with-block; use .call(), .acall() or the decorator"

    def _push(self, token: object) -> None:
        self._cm.set((*self._cm.get(), token))

    def _pop(self) -> object:
        stack = self._cm.get()
        self._cm.set(stack[:-1])
        return stack[-1]

    def __enter__(self) -> None:
        self._push(self._enter())

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._exit(self._pop(), exc)

    async def __aenter__(self) -> None:
        self._push(await self._aenter())

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._aexit(self._pop(), exc)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def settings(self) -> dict[str, Any]:
        """The policy's effective settings, as plain values (what ``Pipeline.describe()``,
        the API and the dashboard show): defaults filled in, callables by name."""
        return {}

    def summary(self) -> dict[str, Any]:
        """``{"kind", "name", "settings"}``, and ``store_mode`` for a policy with shared state:
        one entry of ``Pipeline.describe()``."""
        out: dict[str, Any] = {"kind": type(self).__name__, "name": self.name}
        out["settings"] = self.settings()
        if self._guard is not None:
            out["store_mode"] = self.store_mode
        return out


def plain(value: Any) -> Any:
    """A setting as JSON-friendly data: dataclasses and slotted objects (backoffs, rate-limit
    algorithms) as their type and fields, other callables by name, infinities as ``None``."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    fields = list(getattr(value, "__dataclass_fields__", ()))
    if not fields and not inspect.isroutine(value):
        fields = [f for c in type(value).__mro__ for f in getattr(c, "__slots__", ())]
    if fields:
        out: dict[str, Any] = {"kind": type(value).__name__}
        out.update({f: plain(getattr(value, f)) for f in fields if not f.startswith("_")})
        return out
    name = getattr(value, "__qualname__", None) or type(value).__qualname__
    module = getattr(value, "__module__", None) or type(value).__module__
    return f"{module}.{name}" if module and module != "builtins" else name
