"""HTTP(S): a GET answered with an expected status."""

from __future__ import annotations

from buttress.health.checks.base import Probe
from buttress.secrets import mask_url

__all__ = ["http"]


def http(url: str, timeout: float, expect: tuple[int, ...] = (200,)) -> Probe:
    async def probe() -> str:
        import httpx

        async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client:
            response = await client.get(url)
        if response.status_code not in expect:
            raise RuntimeError(
                f"{mask_url(url)} answered HTTP {response.status_code} "
                f"(expected {', '.join(map(str, expect))})"
            )
        return f"HTTP {response.status_code}"

    return probe
