"""ASGI rate-limit middleware and the httpx transports, over real HTTP where it matters."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from buttress.resilience import CircuitBreaker, CircuitOpenError, Pipeline, RateLimiter, Retry
from buttress.resilience.integrations.asgi import RateLimitMiddleware, api_key_header
from buttress.resilience.integrations.httpx import AsyncResilientTransport, ResilientTransport
from tests.resilience.conftest import FakeClock


async def hello(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("10.1.2.3", 4000)),
        base_url="http://testserver",
    )


@pytest.mark.anyio
async def test_middleware_limits_with_standard_headers(clock: FakeClock) -> None:
    """Allowed responses carry RateLimit-*; the refused one is 429 with Retry-After."""
    limiter = RateLimiter.fixed_window(limit=2, window=60, clock=clock)
    clock.now = 30.0
    async with client_for(RateLimitMiddleware(hello, limiter=limiter)) as client:
        first = await client.get("/")
        second = await client.get("/")
        third = await client.get("/")
    assert (first.status_code, first.text) == (200, "hello")
    assert first.headers["ratelimit-limit"] == "2"
    assert first.headers["ratelimit-remaining"] == "1"
    assert first.headers["ratelimit-reset"] == "30"
    assert second.headers["ratelimit-remaining"] == "0"
    assert third.status_code == 429
    assert third.headers["retry-after"] == "30"
    assert third.json()["error"] == "rate_limited"


@pytest.mark.anyio
async def test_middleware_keys_deny_list_and_exempt_paths(clock: FakeClock) -> None:
    """Keys come from a header; deny-listed keys get 403; exempt paths and keyless requests pass."""
    limiter = RateLimiter.gcra(rate=1, per=60, deny={"bad"}, clock=clock)
    app = RateLimitMiddleware(
        hello, limiter=limiter, key=api_key_header(), exempt_paths=("/healthz",)
    )
    async with client_for(app) as client:
        assert (await client.get("/", headers={"x-api-key": "a"})).status_code == 200
        assert (await client.get("/", headers={"x-api-key": "a"})).status_code == 429
        assert (await client.get("/", headers={"x-api-key": "b"})).status_code == 200
        denied = await client.get("/", headers={"x-api-key": "bad"})
        assert denied.status_code == 403
        assert "retry-after" not in denied.headers
        for _ in range(3):
            assert (await client.get("/healthz", headers={"x-api-key": "a"})).status_code == 200
        # no key: limited by the client address instead (one left for 10.1.2.3)
        assert (await client.get("/")).status_code == 200
        assert (await client.get("/")).status_code == 429


@pytest.mark.anyio
async def test_requests_without_a_key_are_never_unlimited_unless_written_out(
    clock: FakeClock,
) -> None:
    """Omitting the key header is no bypass: the client address is the key by default,
    ``missing_key="refuse"`` answers 401, only ``missing_key="allow"`` lets them through."""
    answers: dict[str, list[int]] = {}
    for mode in ("client", "refuse", "allow"):
        limiter = RateLimiter.gcra(rate=2, per=60, clock=clock)
        app = RateLimitMiddleware(
            hello,
            limiter=limiter,
            key=api_key_header(),
            missing_key=mode,
        )
        async with client_for(app) as client:
            answers[mode] = [(await client.get("/")).status_code for _ in range(20)]
    assert answers["client"] == [200, 200] + [429] * 18
    assert answers["refuse"] == [401] * 20
    assert answers["allow"] == [200] * 20
    with pytest.raises(ValueError, match="missing_key='open'"):
        RateLimitMiddleware(hello, limiter=limiter, missing_key="open")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_exempt_paths_match_whole_paths_segments_and_globs(clock: FakeClock) -> None:
    """``/healthz`` exempts itself and what lies under it, not ``/healthzX``; ``*`` globs."""
    limiter = RateLimiter.gcra(rate=1, per=60, clock=clock)
    app = RateLimitMiddleware(
        hello, limiter=limiter, exempt_paths=("/healthz", "/metrics/", "/static/*.css")
    )
    async with client_for(app) as client:
        for path in ("/healthz", "/healthz/db", "/metrics", "/metrics/x", "/static/a/b.css"):
            for _ in range(3):
                assert (await client.get(path)).status_code == 200, path
        assert (await client.get("/healthzX")).status_code == 200  # the one permit
        assert (await client.get("/healthzX")).status_code == 429
        assert (await client.get("/metricsX")).status_code == 429
        assert (await client.get("/static/a.js")).status_code == 429
    with pytest.raises(ValueError, match="starting with '/'"):
        RateLimitMiddleware(hello, limiter=limiter, exempt_paths=("healthz",))


class _Flaky(http.server.BaseHTTPRequestHandler):
    """503 with Retry-After: 0 for the first `failures` requests, then 200."""

    failures = 2
    seen = 0

    def do_GET(self) -> None:
        cls = type(self)
        cls.seen += 1
        if cls.seen <= cls.failures:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"busy")
        else:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def flaky_server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 that fails twice, then answers."""
    _Flaky.seen = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def status_retry() -> Retry:
    return Retry(attempts=3, delay=0, retry_if_result=lambda r: r.status_code == 503)


def test_transport_retries_a_flaky_host(flaky_server: str) -> None:
    """The host's pipeline retries 503s over real HTTP and returns the success."""
    transport = ResilientTransport({"127.0.0.1": Pipeline(status_retry(), CircuitBreaker())})
    with httpx.Client(transport=transport) as client:
        response = client.get(flaky_server + "/x")
    assert (response.status_code, response.text) == (200, "ok")
    assert _Flaky.seen == 3


def test_transport_breaker_rejects_without_calling(flaky_server: str) -> None:
    """An open breaker for the host refuses the request before it reaches the network."""
    breaker = CircuitBreaker()
    breaker.force_open()
    with (
        httpx.Client(transport=ResilientTransport({"*": breaker})) as client,
        pytest.raises(CircuitOpenError),
    ):
        client.get(flaky_server)
    assert _Flaky.seen == 0


@pytest.mark.anyio
async def test_async_transport(flaky_server: str) -> None:
    """The async transport retries the same way."""
    transport = AsyncResilientTransport({"127.0.0.1": status_retry()})
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(flaky_server)
    assert response.status_code == 200
    assert _Flaky.seen == 3


def test_unlisted_hosts_pass_through(flaky_server: str) -> None:
    """A host with no policy (and no '*') is not guarded."""
    with httpx.Client(transport=ResilientTransport({"example.invalid": Retry()})) as client:
        assert client.get(flaky_server).status_code == 503
