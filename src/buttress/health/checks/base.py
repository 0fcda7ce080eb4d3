"""The contract of a check, and the one way every check is run (timeout, timing, errors)."""

from __future__ import annotations

import asyncio
import enum
import importlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from buttress._pgerror import one_line
from buttress.health.schemas import CheckResultRead
from buttress.secrets import redact

__all__ = ["Check", "CheckResult", "Probe", "Status", "importing", "run_check"]


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
        prepare: called before every timed run, outside the timer (from the event loop): the
            setup that is not the dependency's latency (importing the driver, building an HTTP
            client and its SSL context once), so the first result after a start is no outlier.
    """

    name: str
    kind: str
    probe: Probe = field(repr=False)
    interval: float = 10.0
    timeout: float = 2.0
    weight: float = 1.0
    critical: bool = False
    slow: float | None = None
    prepare: Callable[[], None] | None = field(default=None, repr=False)

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

    def read(self) -> CheckResultRead:
        """The result as the API and ``buttress health --json`` show it."""
        return CheckResultRead(
            name=self.name,
            status=self.status.value,
            latency_ms=round(self.latency * 1000, 2),
            detail=self.detail,
            at=self.at,
        )


async def run_check(check: Check, turn: asyncio.Lock | None = None) -> CheckResult:
    """Run ``check`` once: never raises; a timeout or an error is a ``down`` result whose detail
    says why (secrets redacted).

    Args:
        turn: a lock shared by checks run side by side: each is timed only while it holds it,
            so its latency is its own, not the time other checks kept the event loop (or the
            GIL) busy.
    """
    if turn is None:
        return await _timed(check)
    async with turn:
        return await _timed(check)


async def _timed(check: Check) -> CheckResult:
    if check.prepare is not None:
        try:
            check.prepare()  # before the clock starts
        except Exception as exc:  # noqa: BLE001  # a failed setup is a down result, named
            return CheckResult(
                check.name,
                Status.DOWN,
                0.0,
                redact(str(exc)) or type(exc).__name__,
                datetime.now(UTC),
            )
    started = time.perf_counter()
    at = datetime.now(UTC)
    try:
        # asyncio.timeout, not wait_for: the probe runs in this task, so a cancellation (the
        # monitor stopping) is never lost when it lands as the probe finishes (3.11's wait_for
        # could return the result and drop it, and the monitor then never stopped)
        async with asyncio.timeout(check.timeout):
            detail = await check.probe()
    except TimeoutError:
        return CheckResult(
            check.name, Status.DOWN, time.perf_counter() - started,
            f"no answer within {check.timeout:g}s", at,
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001  # every failure is a result, named
        reason = redact(one_line(str(exc)))  # the first line and libpq's hint after it
        return CheckResult(
            check.name, Status.DOWN, time.perf_counter() - started,
            reason or type(exc).__name__, at,
        )  # fmt: skip
    latency = time.perf_counter() - started
    status = Status.DEGRADED if check.slow is not None and latency > check.slow else Status.UP
    return CheckResult(check.name, status, latency, detail, at)


def importing(*modules: str) -> Callable[[], None]:
    """A ``prepare`` that imports what a probe imports on first use (a no-op once imported)."""

    def prepare() -> None:
        for module in modules:
            importlib.import_module(module)

    return prepare
