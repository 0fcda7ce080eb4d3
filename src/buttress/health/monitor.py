"""The health monitor: runs every check on its interval, keeps each one's recent history, and
computes the health score and readiness.

**Health score** (0-100)::

    score = 100 * sum(w_i * a_i) / sum(w_i)

over the checks that have run, where ``w_i`` is a check's ``weight`` and ``a_i`` its recent
availability: the mean, over its last ``window`` results, of 1 for ``up``, 0.5 for
``degraded`` (slower than its ``slow`` threshold) and 0 for ``down``. One failed run of one
check among many lowers the score a little; a check down for ``window`` runs in a row takes
its whole weight away. No check has run yet: no score (None).

**Ready**: every ``critical`` check has run and its latest result is not ``down``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from buttress.events import emit
from buttress.health.checks.base import Check, CheckResult, Status, run_check
from buttress.health.events import CheckStatusChanged
from buttress.health.schemas import CheckView, HealthSnapshot

__all__ = ["CheckStatusChanged", "HealthMonitor", "availability", "score"]

log = logging.getLogger("buttress.health")

_VALUE = {Status.UP: 1.0, Status.DEGRADED: 0.5, Status.DOWN: 0.0}


def availability(results: Sequence[CheckResult]) -> float | None:
    """Mean of 1 (up), 0.5 (degraded), 0 (down) over ``results``; None when empty."""
    if not results:
        return None
    return sum(_VALUE[r.status] for r in results) / len(results)


def score(parts: Sequence[tuple[float, float | None]]) -> float | None:
    """The health score from (weight, availability) pairs (see the module docstring)."""
    counted = [(w, a) for w, a in parts if a is not None]
    total = sum(w for w, _ in counted)
    if not counted or total <= 0:
        return None
    return round(100.0 * sum(w * a for w, a in counted) / total, 1)


@dataclass
class _State:
    check: Check
    history: deque[CheckResult]
    task: asyncio.Task[None] | None = None

    @property
    def latest(self) -> CheckResult | None:
        return self.history[-1] if self.history else None


@dataclass
class HealthMonitor:
    """Watches ``checks``; ``history`` results are kept per check, the last ``window`` count
    towards the score."""

    checks: Sequence[Check]
    history: int = 20
    window: int = 5
    _states: dict[str, _State] = field(init=False)
    _lock: asyncio.Lock | None = field(default=None, init=False, repr=False)
    _lock_loop: object = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.window < 1 or self.history < self.window:
            raise ValueError("health: window must be >= 1 and history >= window")
        names = [c.name for c in self.checks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"health: check names must be unique: {', '.join(duplicates)}")
        self._states = {c.name: _State(c, deque(maxlen=self.history)) for c in self.checks}

    def _turn(self) -> asyncio.Lock:
        """One check is timed at a time (see :func:`run_check`): side by side on one event loop,
        each one's latency also counted the others' work (a disk check alone: 0.08 ms; next to
        a PostgreSQL and a Redis check, 80-95 ms). A check that hangs holds the turn up to its
        timeout; the others then run late, and are still timed right."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    def record(self, result: CheckResult) -> None:
        """Add a result to its check's history (and report a change of status)."""
        state = self._states[result.name]
        before = state.latest
        state.history.append(result)
        if before is None or before.status is not result.status:
            level = logging.INFO if result.ok else logging.WARNING
            if before is not None or not result.ok:
                log.log(level, "check %s is %s: %s", result.name, result.status, result.detail)
            emit(
                CheckStatusChanged(
                    result.name,
                    str(before.status) if before else None,
                    str(result.status),
                    result.detail,
                    state.check.critical,
                )
            )

    async def run_once(self) -> list[CheckResult]:
        """Run every check now, one after the other (each timed alone); record and return the
        results."""
        turn = self._turn()
        results = [await run_check(s.check, turn) for s in self._states.values()]
        for result in results:
            self.record(result)
        return list(results)

    async def _loop(self, state: _State) -> None:
        while True:
            self.record(await run_check(state.check, self._turn()))
            await asyncio.sleep(state.check.interval)

    def start(self) -> None:
        """Start a task per check in the running event loop (``buttress serve`` does this)."""
        for state in self._states.values():
            if state.task is None:
                state.task = asyncio.get_running_loop().create_task(
                    self._loop(state), name=f"buttress-health-{state.check.name}"
                )

    async def stop(self) -> None:
        tasks = [s.task for s in self._states.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for state in self._states.values():
            state.task = None

    def score(self) -> float | None:
        return score(
            [
                (s.check.weight, availability(list(s.history)[-self.window :]))
                for s in self._states.values()
            ]
        )

    def ready(self) -> bool:
        for state in self._states.values():
            if state.check.critical and (state.latest is None or not state.latest.ok):
                return False
        return True

    def snapshot(self) -> HealthSnapshot:
        """The whole picture: score, readiness, and per check its settings, latest result,
        recent availability and history (oldest first)."""
        checks = []
        for state in list(self._states.values()):
            history = list(state.history)
            latest = history[-1] if history else None
            checks.append(
                CheckView(
                    name=state.check.name,
                    kind=state.check.kind,
                    critical=state.check.critical,
                    weight=state.check.weight,
                    interval=state.check.interval,
                    status=latest.status.value if latest else "unknown",
                    latency_ms=round(latest.latency * 1000, 2) if latest else None,
                    detail=latest.detail if latest else "not run yet",
                    checked_at=latest.at if latest else None,
                    availability=availability(history[-self.window :]),
                    history=[r.read() for r in history],
                )
            )
        return HealthSnapshot(score=self.score(), ready=self.ready(), checks=checks)
