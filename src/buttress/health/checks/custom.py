"""Custom checks: any callable, sync or async. It returns a detail (or True/None for "up"),
returns False or raises for "down". Sync callables run in a worker thread."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from buttress.health.checks.base import Probe

__all__ = ["custom"]


def custom(fn: Callable[[], Any]) -> Probe:
    is_async = inspect.iscoroutinefunction(fn)

    async def probe() -> str:
        result = await fn() if is_async else await asyncio.to_thread(fn)
        if result is False:
            raise RuntimeError("the check returned False")
        return "ok" if result in (True, None) else str(result)

    return probe
