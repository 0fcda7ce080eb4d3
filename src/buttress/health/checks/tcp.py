"""TCP: a connection to host:port is accepted."""

from __future__ import annotations

import asyncio
import contextlib

from buttress.health.checks.base import Probe

__all__ = ["tcp"]


def tcp(host: str, port: int) -> Probe:
    async def probe() -> str:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            raise RuntimeError(f"{host}:{port}: {exc.strerror or exc}") from None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return f"{host}:{port} accepts connections"

    return probe
