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

import json
import math
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

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


class RateLimitMiddleware:
    """Rate-limits HTTP requests per key with a :class:`RateLimiter`.

    Args:
        limiter: the limiter (its tiers, allow- and deny-lists apply).
        key: maps the ASGI scope to a key (default: the client address); ``None`` skips limiting.
        cost: permits per request, or a function of the scope.
        exempt_paths: path prefixes never limited (health checks, metrics).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        key: KeyFunc = client_ip,
        cost: float | Callable[[Scope], float] = 1,
        exempt_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.key = key
        self.cost = cost
        self.exempt = tuple(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            self.exempt and str(scope.get("path", "")).startswith(self.exempt)
        ):
            await self.app(scope, receive, send)
            return
        key = self.key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
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
