"""ASGI middleware that rate-limits requests by key and says so in standard headers.

::

    from buttress.resilience import RateLimiter
    from buttress.resilience.integrations.asgi import RateLimitMiddleware

    app = RateLimitMiddleware(app, limiter=RateLimiter.gcra(rate=100, per=60), key=client_ip)

A refused request gets ``429 Too Many Requests`` with ``Retry-After`` (whole seconds, rounded
up) and ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset``; an allowed one gets
the three ``RateLimit-*`` headers added to its response. A deny-listed key gets ``403``.
Pure ASGI: no framework is imported.
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Literal

from buttress.resilience.rate_limit import Decision, RateLimiter

__all__ = ["RateLimitMiddleware", "api_key_header", "client_ip"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
KeyFunc = Callable[[Scope], str | None]


def client_ip(scope: Scope) -> str | None:
    """The client's address as the ASGI server saw it (put a proxy-aware server in front)."""
    client = scope.get("client")
    return str(client[0]) if client else None


def api_key_header(name: str = "x-api-key") -> KeyFunc:
    """A key function reading a request header (e.g. an API key); ``None`` when absent."""
    wanted = name.lower().encode("latin-1")

    def key(scope: Scope) -> str | None:
        for header, value in scope.get("headers", ()):
            if header == wanted:
                return str(value.decode("latin-1"))
        return None

    return key


def _headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    if math.isinf(decision.limit):
        return []
    return [
        (b"ratelimit-limit", str(int(decision.limit)).encode()),
        (b"ratelimit-remaining", str(max(0, math.floor(decision.remaining + 1e-9))).encode()),
        (b"ratelimit-reset", str(math.ceil(decision.reset_after)).encode()),
    ]


MissingKey = Literal["client", "refuse", "allow"]


def _exempt_rule(paths: Iterable[str]) -> Callable[[str], bool] | None:
    """Whole paths or path segments (``/healthz`` exempts ``/healthz`` and ``/healthz/db``,
    not ``/healthzX``); an entry with ``*`` is a glob over the whole path (``*`` also
    crosses ``/``)."""
    exact: set[str] = set()
    prefixes: list[str] = []
    globs: list[str] = []
    for path in paths:
        if not path.startswith("/"):
            raise ValueError(f"exempt path {path!r}: expected a path starting with '/'")
        if "*" in path:
            globs.append(path)
            continue
        base = path.rstrip("/") or "/"
        exact.add(base)
        prefixes.append(base if base == "/" else base + "/")
    if not (exact or globs):
        return None
    starts = tuple(prefixes)

    def exempt(path: str) -> bool:
        return (
            path in exact
            or path.startswith(starts)
            or any(fnmatch.fnmatchcase(path, g) for g in globs)
        )

    return exempt


class RateLimitMiddleware:
    """Rate-limits HTTP requests per key with a :class:`RateLimiter`.

    Args:
        limiter: the limiter (its tiers, allow- and deny-lists apply).
        key: maps the ASGI scope to a key (default: the client address).
        missing_key: what a request whose ``key`` is ``None`` (no API key header, no client
            address) gets: ``"client"`` (default) is limited by its client address instead
            (keys ``client:ADDRESS``, or ``client:unknown`` with none); ``"refuse"`` answers
            ``401``; ``"allow"`` lets it through unlimited (write it out only if you mean it).
        cost: permits per request, or a function of the scope.
        exempt_paths: paths never limited (health checks, metrics): whole paths and what lies
            under them (``/healthz`` exempts ``/healthz/db``, not ``/healthzX``); an entry with
            ``*`` is a glob over the whole path (``/static/*.css``; ``*`` also crosses ``/``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        key: KeyFunc = client_ip,
        missing_key: MissingKey = "client",
        cost: float | Callable[[Scope], float] = 1,
        exempt_paths: Iterable[str] = (),
    ) -> None:
        if missing_key not in ("client", "refuse", "allow"):
            raise ValueError(f"missing_key={missing_key!r}: use 'client', 'refuse' or 'allow'")
        self.app = app
        self.limiter = limiter
        self.key = key
        self.missing_key = missing_key
        self.cost = cost
        self.exempt = _exempt_rule(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            self.exempt is not None and self.exempt(str(scope.get("path", "")))
        ):
            await self.app(scope, receive, send)
            return
        key = self.key(scope)
        if key is None:
            if self.missing_key == "allow":
                await self.app(scope, receive, send)
                return
            if self.missing_key == "refuse":
                await _answer(
                    send, 401, {"error": "unauthorized", "message": "this request has no key"}
                )
                return
            key = f"client:{client_ip(scope) or 'unknown'}"
        cost = self.cost(scope) if callable(self.cost) else self.cost
        decision = await self.limiter.atry_acquire(key, cost)  # a shared store: no blocking
        if not decision.allowed:
            await self._refuse(decision, send)
            return
        extra = _headers(decision)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refuse(self, decision: Decision, send: Send) -> None:
        body: dict[str, str | int]
        if decision.reason == "denied":
            status, body = 403, {"error": "forbidden", "message": "this client is not allowed"}
            headers: list[tuple[bytes, bytes]] = []
        else:
            wait = math.ceil(decision.retry_after)
            status = 429
            body = {
                "error": "rate_limited",
                "message": f"too many requests; retry in {wait}s",
                "retry_after": wait,
            }
            headers = [(b"retry-after", str(wait).encode()), *_headers(decision)]
        await _answer(send, status, body, headers)


async def _answer(
    send: Send,
    status: int,
    body: dict[str, str | int],
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
