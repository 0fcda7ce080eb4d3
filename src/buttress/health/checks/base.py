"""The contract of a check, and the one way every check is run (timeout, timing, errors)."""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from buttress.secrets import redact

__all__ = ["Check", "CheckResult", "Probe", "Status", "run_check"]


class Status(enum.StrEnum):
    """``up``: answered well; ``degraded``: answered, but slower than ``slow``; ``down``:
    failed or did not answer within the timeout."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


Probe = Callable[[], Awaitable[str]]
"""Does the check's work once; returns a short detail ("PostgreSQL 15.4", "HTTP 200"...) or
raises with the reason it failed."""


@dataclass(frozen=True)
class Check:
    """One dependency to watch.

    Args:
        name: unique name (``database``, ``payments-api``).
        kind: what it checks (``postgresql``, ``http``... or ``custom``).
        probe: the work (see :data:`Probe`).
        interval: seconds between runs when monitored.
        timeout: seconds a run may take before it counts as down.
        weight: its share of the health score.
        critical: when down, the service is not ready (``/readyz`` answers 503).
        slow: seconds above which an answer counts as degraded (None: never).
    """

    name: str
    kind: str
    probe: Probe = field(repr=False)
    interval: float = 10.0
    timeout: float = 2.0
    weight: float = 1.0
    critical: bool = False
    slow: float | None = None

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.timeout <= 0:
            raise ValueError(f"check {self.name}: interval and timeout must be > 0")
        if self.weight < 0:
            raise ValueError(f"check {self.name}: weight must be >= 0")


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    latency: float  # seconds
    detail: str
    at: datetime

    @property
    def ok(self) -> bool:
        return self.status is not Status.DOWN

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "status": str(self.status),
            "latency_ms": round(self.latency * 1000, 2),
            "detail": self.detail,
            "at": self.at.isoformat(),
        }


async def run_check(check: Check) -> CheckResult:
    """Run ``check`` once: never raises; a timeout or an error is a ``down`` result whose detail
    says why (secrets redacted)."""
    started = time.perf_counter()
    at = datetime.now(UTC)
    try:
        detail = await asyncio.wait_for(check.probe(), check.timeout)
    except TimeoutError:
        return CheckResult(
            check.name, Status.DOWN, time.perf_counter() - started,
            f"no answer within {check.timeout:g}s", at,
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001  # every failure is a result, named
        reason = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        return CheckResult(
            check.name, Status.DOWN, time.perf_counter() - started,
            reason or type(exc).__name__, at,
        )  # fmt: skip
    latency = time.perf_counter() - started
    status = Status.DEGRADED if check.slow is not None and latency > check.slow else Status.UP
    return CheckResult(check.name, status, latency, detail, at)
