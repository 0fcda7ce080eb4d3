"""Redis: ``PING``, then the server version from ``INFO server``."""

from __future__ import annotations

from buttress.health.checks.base import Probe

__all__ = ["redis"]


def redis(url: str, timeout: float) -> Probe:
    async def probe() -> str:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
        )
        try:
            await client.ping()
            info = await client.info("server")
            return f"Redis {info.get('redis_version', '?')}"
        finally:
            await client.aclose()

    return probe
