"""The request gate: authenticate, bound and check a request before FastAPI reads its body.

FastAPI parses a JSON body before it resolves the dependencies that check the token, so an
anonymous caller could make the server buffer any body, and malformed JSON got 422 instead of
401. This pure ASGI middleware runs first:

1. ``/api/`` routes (except the OpenAPI document and its page) need a valid bearer token, else
   401, before a byte of the body is read; the principal is handed on in ``scope["state"]``
   and the routes' dependencies keep checking roles;
2. a NUL character in the path or the query string is a 422;
3. the body is read here, at most ``max_body_bytes`` (413 past it, from ``Content-Length`` at
   once or counted as chunks stream in) and within ``body_timeout`` seconds (408 after);
4. a JSON body with a NUL character in any string or key, an integer that does not fit in
   64 bits, or NaN/Infinity is a 422 naming the field (``payload.py``);

then the body is handed to the app as if it came from the client.
"""

from __future__ import annotations

import json

import anyio
import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from buttress.catalog import Catalog, tokens
from buttress.catalog.tokens import Principal
from buttress.platform.http import error_body
from buttress.server.payload import json_problem, target_problem

__all__ = ["DEFAULT_BODY_TIMEOUT", "DEFAULT_MAX_BODY_BYTES", "RequestGate"]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_BODY_TIMEOUT = 30.0

_PUBLIC = frozenset({"/api/openapi.json", "/api/docs", "/api/docs/oauth2-redirect"})


class _Reject(Exception):  # control flow inside the gate, never escapes it
    def __init__(self, status: int, code: str, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class RequestGate:
    """Authenticates ``/api/`` requests and reads bounded bodies before the app sees them."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        catalog: Catalog,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        self.app = app
        self.catalog = catalog
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            if _needs_token(scope["path"]):
                principal = await self._authenticate(scope)
                scope.setdefault("state", {})["principal"] = principal
            problem = target_problem(scope["path"], scope.get("query_string", b""))
            if problem is not None:
                raise _Reject(422, "invalid_request", problem)
            body = await self._read_body(scope, receive)
            if body and "json" in (_header(scope, b"content-type") or "").lower():
                found = json_problem(body)
                if found is not None:
                    field, message = found
                    raise _Reject(
                        422,
                        "invalid_request",
                        f"{field}: {message}",
                        problems=[{"field": field, "message": message}],
                    )
        except _Reject as rejected:
            await _answer(send, rejected)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _authenticate(self, scope: Scope) -> Principal:
        header = _header(scope, b"authorization")
        scheme, _, credentials = (header or "").partition(" ")
        if header is None or scheme.lower() != "bearer" or not credentials.strip():
            raise _Reject(
                401, "unauthorized", "missing API token: send 'Authorization: Bearer <token>'"
            )

        def lookup() -> Principal | None:
            with self.catalog.begin() as session:
                return tokens.authenticate(session=session, token=credentials.strip())

        principal = await anyio.to_thread.run_sync(lookup)
        if principal is None:
            raise _Reject(401, "unauthorized", "invalid or revoked API token")
        return principal

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        length = _header(scope, b"content-length")
        chunked = "chunked" in (_header(scope, b"transfer-encoding") or "").lower()
        if length is None and not chunked:
            return b""
        if length is not None:
            if not length.strip().isdigit():
                raise _Reject(400, "bad_request", f"invalid Content-Length header {length!r}")
            if int(length) > self.max_body_bytes:
                raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        with anyio.move_on_after(self.body_timeout) as deadline:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break  # the client went away: the app sees an empty body, then the disconnect
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise self._too_large()
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if deadline.cancelled_caught:
            raise _Reject(
                408,
                "request_timeout",
                f"the request body did not arrive within {self.body_timeout:g} seconds "
                "(server.body_timeout)",
            )
        return b"".join(chunks)

    def _too_large(self) -> _Reject:
        return _Reject(
            413,
            "payload_too_large",
            f"the request body is larger than {self.max_body_bytes} bytes (server.max_body_bytes)",
        )


def _needs_token(path: str) -> bool:
    return path.startswith("/api/") and path not in _PUBLIC


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send: Send, rejected: _Reject) -> None:
    payload = json.dumps(error_body(rejected.code, rejected.message, **rejected.extra)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if rejected.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if rejected.status in (408, 413):
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": rejected.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
