"""HTTP(S): a GET answered with an expected status."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from buttress.health.checks.base import Probe
from buttress.secrets import mask_url

__all__ = ["http"]


def http(url: str, timeout: float, expect: tuple[int, ...] = (200,)) -> Probe:
    """The probe; its ``prepare`` (run outside the timer) builds the loop's client once: a new
    client builds an SSL context (~30 ms of CPU), which is not the checked service's latency."""
    clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def prepare() -> None:
        loop = asyncio.get_running_loop()
        if loop not in clients:
            import httpx

            clients[loop] = httpx.AsyncClient(timeout=timeout, follow_redirects=True)

    async def probe() -> str:
        prepare()  # already done when run through run_check
        response = await clients[asyncio.get_running_loop()].get(
            url,
            headers={"connection": "close"},  # each run connects, as a client would
        )
        if response.status_code not in expect:
            raise RuntimeError(
                f"{mask_url(url)} answered HTTP {response.status_code} "
                f"(expected {', '.join(map(str, expect))})"
            )
        return f"HTTP {response.status_code}"

    probe.prepare = prepare  # type: ignore[attr-defined]  # found by build._prepare
    return probe
