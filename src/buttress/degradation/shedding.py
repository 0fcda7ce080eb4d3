"""Load shedding for ASGI applications (FastAPI, Starlette...).

``LoadSheddingMiddleware(app, routes=..., limit=AIMDLimit(...), cpu=CpuThrottle(...))``:

- **Disabled features**: a request whose route maps to a feature that is off at the current
  degradation level (:mod:`buttress.flags`) gets 503 with ``Retry-After`` (or the configured
  fallback response).
- **Priority classes**: each route is ``critical``, ``standard`` (the default) or
  ``sheddable``. Under overload the lower classes go first: a request is admitted while the
  requests in flight are below its class's share of the concurrency limit (critical 100%,
  standard 80%, sheddable 50% by default), and a CPU above the warning threshold sheds
  ``sheddable``, above the critical threshold ``standard`` too. Shed requests get 503 with
  ``Retry-After``; critical ones are never shed by CPU.
- **Adaptive concurrency (AIMD)**: the limit grows by ``increase / limit`` for each request
  that finishes within ``target`` seconds without a server error (about +``increase`` per round
  of ``limit`` requests), and is multiplied by ``backoff`` (0.9) when one is slower or fails,
  at most once per ``cooldown`` seconds; it stays between ``minimum`` and ``maximum``. This is
  TCP's congestion rule applied to latency, as in Netflix's concurrency-limits AIMD limiter.
- Every request's duration and whether it failed (5xx) go to the degradation controller's
  request statistics (``error_rate``, ``response_time_p95``) when one is given.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from buttress.degradation import flags
from buttress.degradation.events import RequestShed
from buttress.events import emit

__all__ = [
    "AIMDLimit",
    "CpuThrottle",
    "LoadSheddingMiddleware",
    "RequestShed",
    "Route",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Priority = Literal["critical", "standard", "sheddable"]

SHARES: dict[str, float] = {"critical": 1.0, "standard": 0.8, "sheddable": 0.5}


@dataclass(frozen=True)
class Route:
    """Requests whose path matches ``path`` (a glob: ``/api/recommendations*``)."""

    path: str
    priority: Priority = "standard"
    feature: str | None = None  # off at the current level: 503 (or the fallback)


_EXEMPT = Route("", "critical")  # the cached rule of exempt paths


class AIMDLimit:
    """An adaptive concurrency limit (see the module docstring)."""

    def __init__(
        self,
        *,
        initial: float = 20,
        minimum: float = 4,
        maximum: float = 1000,
        target: float = 0.5,
        increase: float = 1.0,
        backoff: float = 0.9,
        cooldown: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < minimum <= initial <= maximum:
            raise ValueError("AIMD: need 0 < minimum <= initial <= maximum")
        if not 0 < backoff < 1 or increase <= 0 or target <= 0:
            raise ValueError("AIMD: need 0 < backoff < 1, increase > 0 and target > 0")
        self.limit = float(initial)
        self.minimum, self.maximum = float(minimum), float(maximum)
        self.target, self.increase, self.backoff = target, increase, backoff
        self.cooldown = cooldown
        self.clock = clock
        self._last_drop = -float("inf")
        self._lock = threading.Lock()

    def update(self, seconds: float, failed: bool) -> None:
        with self._lock:
            if failed or seconds > self.target:
                now = self.clock()
                if now - self._last_drop >= self.cooldown:
                    self.limit = max(self.minimum, self.limit * self.backoff)
                    self._last_drop = now
            else:
                self.limit = min(self.maximum, self.limit + self.increase / self.limit)


@dataclass
class CpuThrottle:
    """Shed by CPU use (percent, all cores): ``sheddable`` above ``warning``, ``standard`` too
    above ``critical``. The reading is refreshed at most every ``every`` seconds."""

    warning: float = 80.0
    critical: float = 95.0
    every: float = 0.5
    read: Callable[[], float] | None = None
    _value: float = field(default=0.0, init=False)
    _at: float = field(default=-float("inf"), init=False)

    def __post_init__(self) -> None:
        if not 0 < self.warning <= self.critical <= 100:
            raise ValueError("CPU throttle: need 0 < warning <= critical <= 100")
        if self.read is None:
            import psutil

            psutil.cpu_percent(interval=None)
            self.read = lambda: float(psutil.cpu_percent(interval=None))

    def level(self) -> float:
        now = time.monotonic()
        if now - self._at >= self.every:
            if self.read is None:  # __post_init__ sets it
                raise RuntimeError("CpuThrottle.read is unset: build it with CpuThrottle(...)")
            self._value = self.read()
            self._at = now
        return self._value

    def sheds(self, priority: str) -> bool:
        if priority == "critical":
            return False
        cpu = self.level()
        return cpu > self.critical or (priority == "sheddable" and cpu > self.warning)


class LoadSheddingMiddleware:
    """A pure ASGI middleware (see the module docstring).

    Args:
        app: the application.
        routes: route rules, first match wins; unmatched paths are ``standard``.
        limit: the concurrency limit (None: no concurrency shedding).
        cpu: the CPU throttle (None: none).
        shares: each class's share of the limit.
        retry_after: seconds to put in ``Retry-After``.
        fallback: ``(status, headers, body)`` answered instead of 503 for disabled features.
        stats: where request durations and errors go (a controller's ``requests``).
        exempt: glob paths never shed (health probes...).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[Route] = (),
        limit: AIMDLimit | None = None,
        cpu: CpuThrottle | None = None,
        shares: dict[str, float] | None = None,
        retry_after: int = 5,
        fallback: tuple[int, dict[str, str], bytes] | None = None,
        stats: Any = None,
        exempt: Sequence[str] = ("/healthz", "/readyz", "/metrics"),
    ) -> None:
        self.app = app
        self.routes = tuple(routes)
        self.limit = limit
        self.cpu = cpu
        self.shares = {**SHARES, **(shares or {})}
        self.retry_after = str(retry_after)
        self.fallback = fallback
        self.stats = stats
        self.exempt = tuple(exempt)
        self.in_flight = 0
        self.shed = {"feature": 0, "concurrency": 0, "cpu": 0}
        self._cache: dict[str, Route | None] = {}

    def _route(self, path: str) -> Route | None:
        """The rule for ``path`` (``_EXEMPT`` for exempt paths), computed once per path."""
        try:
            return self._cache[path]
        except KeyError:
            pass
        found: Route | None
        if any(fnmatch.fnmatchcase(path, e) for e in self.exempt):
            found = _EXEMPT
        else:
            found = next((r for r in self.routes if fnmatch.fnmatchcase(path, r.path)), None)
        if len(self._cache) < 10_000:  # bounded: paths with ids in them vary without end
            self._cache[path] = found
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        route = self._route(path)
        if route is _EXEMPT:
            await self.app(scope, receive, send)
            return
        priority = route.priority if route else "standard"
        if route is not None and route.feature is not None and not flags.enabled(route.feature):
            await self._refuse(send, path, priority, "feature", route.feature)
            return
        if self.cpu is not None and self.cpu.sheds(priority):
            await self._refuse(send, path, priority, "cpu")
            return
        if self.limit is not None and self.in_flight >= self.limit.limit * self.shares[priority]:
            await self._refuse(send, path, priority, "concurrency")
            return
        self.in_flight += 1
        started = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.in_flight -= 1
            seconds = time.perf_counter() - started
            failed = status >= 500
            if self.limit is not None:
                self.limit.update(seconds, failed)
            if self.stats is not None:
                self.stats.record(seconds, failed)

    async def _refuse(
        self, send: Send, path: str, priority: str, why: str, feature: str | None = None
    ) -> None:
        self.shed[why] += 1
        emit(RequestShed(path, priority, why))
        if why == "feature" and self.fallback is not None:
            status, headers, body = self.fallback
            raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        else:
            status = 503
            message = (
                f"{feature} is switched off at degradation level {flags.level()}"
                if why == "feature"
                else "the service is shedding load; retry later"
            )
            body = json.dumps({"error": "unavailable", "message": message}).encode()
            raw = [(b"content-type", b"application/json")]
        raw += [
            (b"retry-after", self.retry_after.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})
