"""The load-shedding middleware through a real ASGI client: disabled features (503 or the
fallback), priority shares of the concurrency limit with requests held in flight, CPU
thresholds, the AIMD limit's moves, request statistics, exempt paths, and a bounded mixed load
where lower classes are shed more."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route as StarletteRoute

from buttress import flags
from buttress.degradation.controller import RequestStats
from buttress.degradation.shedding import AIMDLimit, CpuThrottle, LoadSheddingMiddleware, Route

ROUTES = [
    Route("/checkout*", "critical"),
    Route("/recommendations*", "sheddable", feature="recommendations"),
    Route("/search*", "sheddable"),
]


class Gate:
    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.entered = 0


def make_app(gate: Gate | None = None, fail: bool = False) -> Starlette:
    async def handler(request: Request) -> PlainTextResponse:
        if gate is not None:
            gate.entered += 1
            await gate.open.wait()
        return PlainTextResponse("boom" if fail else "ok", status_code=500 if fail else 200)

    return Starlette(routes=[StarletteRoute("/{path:path}", handler)])


@pytest.fixture(autouse=True)
def reset_flags() -> Iterator[None]:
    yield
    flags.publish(None, frozenset(), {})


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")  # type: ignore[arg-type]


def test_a_disabled_feature_gets_503_or_the_fallback() -> None:
    async def scenario() -> None:
        flags.publish("YELLOW", frozenset({"recommendations"}), {})
        mw = LoadSheddingMiddleware(make_app(), routes=ROUTES, retry_after=30)
        async with client(mw) as c:
            r = await c.get("/recommendations/7")
            assert r.status_code == 503
            assert r.headers["retry-after"] == "30"
            assert "recommendations is switched off at degradation level YELLOW" in r.text
            assert (await c.get("/checkout")).status_code == 200
        fallback = LoadSheddingMiddleware(
            make_app(), routes=ROUTES, fallback=(200, {"Content-Type": "application/json"}, b"[]")
        )
        async with client(fallback) as c:
            r = await c.get("/recommendations/7")
            assert (r.status_code, r.content) == (200, b"[]")
        assert mw.shed["feature"] == 1

    asyncio.run(scenario())


def test_priority_shares_with_requests_held_in_flight() -> None:
    """Limit 4: sheddable up to 2 in flight, standard up to 3.2, critical up to 4."""

    async def scenario() -> None:
        gate = Gate()
        limit = AIMDLimit(initial=4, minimum=4, maximum=4)
        mw = LoadSheddingMiddleware(make_app(gate), routes=ROUTES, limit=limit)
        async with client(mw) as c:
            held = [asyncio.create_task(c.get("/search")) for _ in range(2)]
            await _until(lambda: gate.entered == 2)
            assert (await c.get("/search")).status_code == 503  # sheddable: 2 of 2
            held.append(asyncio.create_task(c.get("/orders")))  # standard: 2 < 3.2
            await _until(lambda: gate.entered == 3)
            held.append(asyncio.create_task(c.get("/orders")))  # 3 < 3.2
            await _until(lambda: gate.entered == 4)
            assert (await c.get("/orders")).status_code == 503  # standard: 4 >= 3.2
            assert (await c.get("/checkout")).status_code == 503  # even critical: 4 of 4
            gate.open.set()
            assert [r.status_code for r in await asyncio.gather(*held)] == [200] * 4
            assert (await c.get("/search")).status_code == 200
        assert mw.shed["concurrency"] == 3
        assert mw.in_flight == 0

    asyncio.run(scenario())


def test_cpu_thresholds_shed_the_lower_classes_first() -> None:
    async def scenario() -> None:
        cpu = {"value": 50.0}
        throttle = CpuThrottle(warning=80, critical=95, every=0, read=lambda: cpu["value"])
        mw = LoadSheddingMiddleware(make_app(), routes=ROUTES, cpu=throttle)
        async with client(mw) as c:
            assert (await c.get("/search")).status_code == 200
            cpu["value"] = 85
            assert (await c.get("/search")).status_code == 503
            assert (await c.get("/orders")).status_code == 200
            cpu["value"] = 97
            assert (await c.get("/orders")).status_code == 503
            assert (await c.get("/checkout")).status_code == 200
            assert (await c.get("/healthz")).status_code == 200  # exempt
        assert mw.shed["cpu"] == 2

    asyncio.run(scenario())


def test_aimd_moves() -> None:
    now = {"t": 0.0}
    limit = AIMDLimit(initial=10, minimum=2, maximum=12, target=0.1, cooldown=1.0,
                      clock=lambda: now["t"])  # fmt: skip
    for _ in range(10):
        limit.update(0.01, failed=False)
    assert 10.9 < limit.limit < 11.0  # +1/limit each: about +1 after `limit` requests
    limit.update(0.5, failed=False)  # slow
    assert limit.limit == pytest.approx(10.96 * 0.9, rel=0.01)
    before = limit.limit
    limit.update(0.01, failed=True)  # within the cooldown: no second drop
    assert limit.limit == before
    now["t"] = 2.0
    for _ in range(100):
        limit.update(1.0, failed=True)
        now["t"] += 1.0
    assert limit.limit == 2  # the floor
    for _ in range(10_000):
        limit.update(0.0, failed=False)
    assert limit.limit == 12  # the ceiling
    with pytest.raises(ValueError, match="minimum <= initial <= maximum"):
        AIMDLimit(initial=1, minimum=2)


def test_request_statistics_count_server_errors() -> None:
    async def scenario() -> None:
        stats = RequestStats()
        async with client(LoadSheddingMiddleware(make_app(fail=True), stats=stats)) as c:
            await c.get("/x")
        async with client(LoadSheddingMiddleware(make_app(), stats=stats)) as c:
            await c.get("/x")
        assert stats.error_rate() == 50.0
        assert stats.p95() is not None

    asyncio.run(scenario())


def test_a_bounded_mixed_load_sheds_lower_classes_more() -> None:
    """40 users (1 critical : 2 standard : 3 sheddable) for one second, each sending its
    class's requests to a 20 ms handler and backing off 10 ms after a 503; the limit adapts
    between 4 and 16. Sheddable requests are shed most, critical ones least, and most critical
    ones are served."""

    async def scenario() -> dict[str, list[int]]:
        async def slow(request: Request) -> PlainTextResponse:
            await asyncio.sleep(0.02)
            return PlainTextResponse("ok")

        app = Starlette(routes=[StarletteRoute("/{path:path}", slow)])
        mw = LoadSheddingMiddleware(
            app, routes=ROUTES, limit=AIMDLimit(initial=8, minimum=4, maximum=16, target=0.1)
        )
        paths = ["/checkout", "/orders", "/orders", "/search", "/search", "/search"]
        codes: dict[str, list[int]] = {p: [] for p in paths}
        loop = asyncio.get_running_loop()
        end = loop.time() + 1.0
        async with client(mw) as c:

            async def user(i: int) -> None:
                path = paths[i % 6]  # 1 critical : 2 standard : 3 sheddable users
                while loop.time() < end:
                    status = (await c.get(path)).status_code
                    codes[path].append(status)
                    if status == 503:
                        await asyncio.sleep(0.01)

            await asyncio.wait_for(asyncio.gather(*(user(i) for i in range(40))), timeout=30)
        return codes

    codes = asyncio.run(scenario())
    shed = {p: c.count(503) / len(c) for p, c in codes.items()}
    print(json.dumps({p: round(v, 3) for p, v in shed.items()}))
    assert shed["/checkout"] < shed["/orders"] < shed["/search"]
    assert shed["/checkout"] < 0.5  # most critical requests are served under the overload
    assert shed["/search"] > 0.3  # the load was real
    assert all(code in (200, 503) for c in codes.values() for code in c)


async def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline
        await asyncio.sleep(0.005)


def test_the_cpu_throttle_reads_the_real_cpu_by_default() -> None:
    """Without a reader, psutil's CPU use (a percentage); bad thresholds are refused."""
    throttle = CpuThrottle(warning=100, critical=100, every=0)
    assert 0.0 <= throttle.level() <= 100.0
    assert not throttle.sheds("sheddable")  # nothing is above 100%
    with pytest.raises(ValueError, match="warning <= critical"):
        CpuThrottle(warning=90, critical=80)
