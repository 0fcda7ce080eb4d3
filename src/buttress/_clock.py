"""Time sources shared by the policies; every policy takes ``clock=``, ``sleep=`` and ``asleep=``
parameters defaulting to these, so tests can run on a fake clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["AsyncSleep", "Clock", "Sleep", "asleep", "monotonic", "sleep"]

Clock = Callable[[], float]
"""Returns seconds from an arbitrary origin; only differences matter (like time.monotonic)."""
Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]

monotonic: Clock = time.monotonic
sleep: Sleep = time.sleep
asleep: AsyncSleep = asyncio.sleep
