"""The degradation controller: samples the metrics, runs the level machine, and makes the
result known (feature flags, events on the bus, a log line, metrics). A hook is a subscription
to :class:`~buttress.degradation.events.LevelChanged` (:meth:`DegradationController.add_hook`).

Metrics: ``cpu_usage`` (percent of this process's, its cgroup's or the machine's CPU, as
``health.degradation.cpu`` says: :mod:`buttress.degradation.cpu`), ``memory_usage`` (percent,
psutil), ``health_score`` (the health monitor), ``error_rate`` (percent) and
``response_time_p95`` (seconds) from the requests the application reports
(:meth:`RequestStats.record`; the load-shedding middleware will), and any metric registered
with :meth:`DegradationController.register_metric`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from buttress.degradation import flags
from buttress.degradation.cpu import CpuSource, cpu_meter, resolve_source
from buttress.degradation.events import FlagChanged, LevelChanged, OverrideCleared, OverrideSet
from buttress.degradation.levels import BELOW_BY_DEFAULT, Level, Levels, LevelState, Trigger
from buttress.degradation.schemas import LevelSnapshot, OverrideHeld, RecoveryRead
from buttress.errors import ConfigError, MissingDependencyError
from buttress.events import Subscription, emit, subscribe, unsubscribe

if TYPE_CHECKING:
    from buttress.config import DegradationConfig
    from buttress.degradation.shared_level import SharedLevel
    from buttress.health.monitor import HealthMonitor
    from buttress.state import SharedStateStore

__all__ = ["DegradationController", "LevelChanged", "RequestStats", "build_levels"]

log = logging.getLogger("buttress.degradation")

Metric = Callable[[], float | None]
Hook = Callable[["LevelChanged"], None]


class RequestStats:
    """Requests of the last ``window`` seconds: error rate (%) and p95 latency (seconds)."""

    def __init__(self, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self.clock = clock
        self._items: deque[tuple[float, float, bool]] = deque()
        self._lock = threading.Lock()

    def record(self, seconds: float, error: bool = False) -> None:
        with self._lock:
            self._items.append((self.clock(), seconds, error))

    def _recent(self) -> list[tuple[float, float, bool]]:
        cutoff = self.clock() - self.window
        with self._lock:
            while self._items and self._items[0][0] < cutoff:
                self._items.popleft()
            return list(self._items)

    def error_rate(self) -> float | None:
        items = self._recent()
        return 100.0 * sum(1 for _, _, e in items if e) / len(items) if items else None

    def p95(self) -> float | None:
        items = sorted(s for _, s, _ in self._recent())
        if not items:
            return None
        return items[min(len(items) - 1, int(0.95 * len(items)))]


def build_levels(config: DegradationConfig) -> Levels:
    """The level machine described by the ``health.degradation`` section."""
    levels = []
    for i, name in enumerate(config.names):
        settings = config.level.get(name)
        triggers: list[Trigger] = []
        if settings is not None:
            for metric, bound in settings.when.items():
                if isinstance(bound, float | int):
                    triggers.append(Trigger(metric, float(bound), metric in BELOW_BY_DEFAULT))
                elif bound.below is not None:
                    triggers.append(Trigger(metric, bound.below, True))
                elif bound.above is not None:
                    triggers.append(Trigger(metric, bound.above))
                else:  # the config model asks for one of them
                    raise ConfigError(
                        f"health.degradation level {name}: trigger {metric} needs `above` or "
                        "`below`"
                    )
        limits = dict(config.limits) if i == 0 else {}
        if settings is not None:
            limits.update(settings.limits)
        levels.append(
            Level(
                name=name,
                triggers=tuple(triggers),
                hold=(settings.for_ if settings and settings.for_ is not None else config.for_),
                cooldown=(
                    settings.cooldown
                    if settings and settings.cooldown is not None
                    else config.cooldown
                ),
                disable=frozenset(settings.disable if settings else ()),
                enable_only=(
                    frozenset(settings.enable_only)
                    if settings and settings.enable_only is not None
                    else None
                ),
                limits=limits,
            )
        )
    machine = Levels(levels)
    machine.features = sorted(set(machine.features) | set(config.features))
    return machine


class DegradationController:
    """Runs a :class:`Levels` machine every ``evaluate_every`` seconds and publishes its
    result. Thread-safe: the API thread sets overrides while the loop evaluates."""

    def __init__(
        self,
        levels: Levels,
        *,
        evaluate_every: float = 5.0,
        monitor: HealthMonitor | None = None,
        requests: RequestStats | None = None,
        system_metrics: bool = True,
        cpu: CpuSource = "auto",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.levels = levels
        self.evaluate_every = evaluate_every
        self.requests = requests or RequestStats()
        self.clock = clock
        self.wall = wall
        self.subscriptions: list[Subscription[LevelChanged]] = []  # its hooks: close() ends them
        self._lock = threading.Lock()
        self._metrics: dict[str, Metric] = {
            "error_rate": self.requests.error_rate,
            "response_time_p95": self.requests.p95,
        }
        if monitor is not None:
            self._metrics["health_score"] = monitor.score
        if system_metrics:
            triggered = {t.metric for level in levels.levels for t in level.triggers}
            self._metrics.update(_system_metrics(cpu, triggered))
        self._task: asyncio.Task[None] | None = None
        self._override_source: Callable[[], Any] | None = None
        self._shared: SharedLevel | None = None
        self._override_error = False
        self._broken: set[str] = set()  # metrics whose failure was logged
        self.state = levels.state(clock())
        self.since = wall()  # wall time the level in force was entered
        self.last_metrics: dict[str, float | None] = {}
        self._publish(self.state)

    def share(self, store: SharedStateStore, name: str = "degradation", ttl: float = 5.0) -> None:
        """Share the level with every process on ``store`` (a shared store: Redis): each reports its
        own automatic level, and all apply at least the most severe one (see
        :mod:`buttress.degradation.shared_level`)."""
        from buttress.degradation.shared_level import SharedLevel

        self._shared = SharedLevel(
            store, name, ttl=ttl, on_change=self._fleet_changed, on_override=self._sync_override
        )
        self._shared.report(self.levels.automatic_index)

    def announce_override(self) -> None:
        """After changing the override in the catalog: tell the other processes now (with
        ``shared``; without it they read the catalog at their next evaluation)."""
        if self._shared is not None:
            self._shared.announce_override()

    def _effective(self, state: LevelState) -> LevelState:
        """``state`` raised to the fleet's level (an override still wins)."""
        fleet = self._shared.fleet if self._shared is not None else 0
        if state.override is not None or fleet <= state.index:
            return state
        name = self.levels.names[fleet]
        return LevelState(
            level=name,
            index=fleet,
            automatic=state.automatic,
            override=None,
            reasons=(f"another replica is at {name}", *state.reasons),
            changed=state.changed,
        )

    def _fleet_changed(self, fleet: int) -> None:
        with self._lock:
            before = self.state
            self.state = after = self._effective(self.levels.state(self.clock()))
        if after.level != before.level:
            self._changed(before, after, "fleet")

    def register_metric(self, name: str, read: Metric) -> None:
        """Feed triggers on ``name`` from ``read()`` (None: no value now)."""
        self._metrics[name] = read

    def follow_limit(
        self, limiter: Any, limit: str, *, per: float = 1.0, burst: float | None = None
    ) -> None:
        """Keep ``limiter`` (a :class:`~buttress.resilience.RateLimiter`) at the level's
        ``limit`` permits per ``per`` seconds, now and at every change of level; a level that
        sets no such limit leaves the limiter as it is."""

        def apply(_event: LevelChanged | None = None) -> None:
            value = self.levels.limits(self.state.index).get(limit)
            if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
                limiter.set_rate(rate=float(value), per=per, burst=burst)

        apply()
        self.add_hook(apply)

    def add_hook(self, hook: Hook) -> Subscription[LevelChanged]:
        """Call ``hook(LevelChanged)`` on every change of level (after the flags are updated):
        a subscription to :class:`LevelChanged` on the event bus, ended by :meth:`close` (or
        ``buttress.events.unsubscribe``). The bus is the process's: a hook also hears another
        controller of the same process, if there is one. A hook that raises is logged once
        and never stops the controller."""
        sub = subscribe(LevelChanged, hook)
        self.subscriptions.append(sub)
        return sub

    def close(self) -> None:
        """End the hooks' subscriptions (:meth:`add_hook`, :meth:`follow_limit`, the
        configuration's ``hooks``). The embedded controller and the control plane call this
        when they stop."""
        subs, self.subscriptions = self.subscriptions, []
        for sub in subs:
            unsubscribe(sub)

    def _read_metrics(self) -> dict[str, float | None]:
        values: dict[str, float | None] = {}
        for name, read in self._metrics.items():
            try:
                values[name] = read()
            except Exception:  # a broken metric holds nothing, and says so once per outage
                if name not in self._broken:
                    log.exception("degradation metric %s failed", name)
                    self._broken.add(name)
                values[name] = None
            else:
                self._broken.discard(name)
        return values

    def follow_overrides(self, read: Callable[[], Any]) -> None:
        """Take the override in force from ``read()`` at each evaluation (an object with
        ``level``, ``reason``, ``actor`` and an aware ``expires_at``, or None): the catalog's,
        so that every replica and the CLI share it. Read once now, so that the first answer
        after start already reflects an override in force."""
        self._override_source = read
        self._sync_override()

    def _sync_override(self) -> None:
        try:
            record = self._override_source() if self._override_source else None
        except Exception as exc:  # noqa: BLE001  # the catalog is down: keep the current one
            if not self._override_error:
                log.warning("could not read the level override (keeping the current one): %s", exc)
            self._override_error = True
            return
        if self._override_error:
            log.warning("the level override can be read again")
            self._override_error = False
        current = self.levels.override
        if record is None:
            if current is not None and self._override_source is not None:
                self.clear_override(actor="catalog")
            return
        seconds = (record.expires_at - dt.datetime.now(dt.UTC)).total_seconds()
        if seconds <= 0:
            return
        key = (record.level, record.reason, record.actor)
        if current is None or (current.level, current.reason, current.actor) != key:
            self.set_override(record.level, record.reason, seconds, actor=record.actor)

    def evaluate(self) -> LevelState:
        """Sample the metrics, move the level, publish a change."""
        self._sync_override()
        metrics = self._read_metrics()
        with self._lock:
            before = self.state
            self.last_metrics = metrics
            raw = self.levels.evaluate(metrics, self.clock())
            if self._shared is not None:
                self._shared.report(self.levels.automatic_index)
            self.state = after = self._effective(raw)
        if after.level != before.level:
            if after.override and (not before.override or before.override != after.override):
                cause = "override"
            elif before.override and not after.override:
                cause = "override_ended"
            else:
                cause = "automatic"
            self._changed(before, after, cause)
        return after

    def set_override(self, level: str, reason: str, seconds: float, actor: str = "") -> LevelState:
        """Hold ``level`` for ``seconds`` (the automatic level runs on underneath)."""
        if seconds <= 0:
            raise ValueError("an override needs a positive duration")
        with self._lock:
            before = self.state
            override = self.levels.set_override(level, reason, self.clock() + seconds, actor)
            self.state = after = self._effective(self.levels.state(self.clock()))
        log.warning(
            "degradation level overridden to %s for %.0fs by %s: %s",
            level, seconds, actor or "unknown", override.reason,
        )  # fmt: skip
        emit(OverrideSet(override.level, seconds, override.reason, override.actor))
        self._changed(before, after, "override", force=True)
        return after

    def clear_override(self, actor: str = "") -> LevelState:
        with self._lock:
            before = self.state
            self.levels.clear_override()
            self.state = after = self._effective(self.levels.state(self.clock()))
        if before.override is not None:
            log.warning("degradation override cleared by %s", actor or "unknown")
            emit(OverrideCleared(before.override.level, actor))
            self._changed(before, after, "override_ended", actor=actor, force=True)
        return after

    def _publish(self, state: LevelState) -> None:
        flags.publish(
            state.level,
            self.levels.disabled(state.index),
            self.levels.limits(state.index),
            self.levels.features,
        )

    def _changed(
        self,
        before: LevelState,
        after: LevelState,
        cause: str,
        actor: str = "",
        force: bool = False,
    ) -> None:
        self._publish(after)
        if before.level != after.level:
            self.since = self.wall()
        if before.level == after.level and not force:
            return
        override = after.override
        event = LevelChanged(
            before.level,
            after.level,
            cause,
            after.reasons,
            reason=override.reason if override else "",
            actor=actor or (override.actor if override else ""),
        )
        if cause == "automatic":
            log.warning(
                "degradation level %s -> %s (%s)",
                before.level, after.level, ", ".join(after.reasons) or "triggers clear",
            )  # fmt: skip
        emit(event)  # the hooks are subscriptions to LevelChanged
        was_off, now_off = self.levels.disabled(before.index), self.levels.disabled(after.index)
        for feature in sorted(was_off ^ now_off):
            emit(FlagChanged(feature, feature in was_off, after.level))

    def snapshot(self) -> LevelSnapshot:
        now = self.clock()
        with self._lock:
            state = self._effective(self.levels.state(now))
            predictions = self.levels.predict(now)
            metrics = dict(self.last_metrics)
        override = state.override
        return LevelSnapshot(
            level=state.level,
            index=state.index,
            automatic=state.automatic,
            levels=list(self.levels.names),
            reasons=list(state.reasons),
            since=self.since,
            fleet=self.levels.names[self._shared.fleet] if self._shared is not None else None,
            override=(
                OverrideHeld(
                    level=override.level,
                    reason=override.reason,
                    actor=override.actor,
                    expires_in=round(override.until - now, 1),
                    expires_at=self.wall() + (override.until - now),
                )
                if override
                else None
            ),
            metrics=metrics,
            features={f: f not in self.levels.disabled(state.index) for f in self.levels.features},
            limits=self.levels.limits(state.index),
            recovery=[
                RecoveryRead(trigger=p.trigger, seconds=p.seconds, why=p.why) for p in predictions
            ],
        )

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name="buttress-degradation"
            )

    async def _loop(self) -> None:
        while True:
            await asyncio.to_thread(self.evaluate)
            await asyncio.sleep(self.evaluate_every)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _system_metrics(cpu_source: CpuSource, triggered: set[str]) -> dict[str, Metric]:
    """``cpu_usage`` from ``cpu_source`` (see :mod:`buttress.degradation.cpu`) and ``memory_usage``
    (psutil).

    Raises:
        MissingDependencyError: psutil is not installed and a trigger of ``triggered`` needs
            it (``memory_usage``, or ``cpu_usage`` read from the ``machine``): such a trigger
            would never hold.
    """
    try:
        import psutil
    except ImportError:
        machine_cpu = resolve_source(cpu_source) == "machine"
        needs = [
            m
            for m in sorted(triggered)
            if m == "memory_usage" or (m == "cpu_usage" and machine_cpu)
        ]
        if needs:
            what = " and ".join(f"the {m} trigger" for m in needs)
            raise MissingDependencyError(
                "psutil", "server", needed_by=f"health.degradation: {what}"
            ) from None
        return {} if machine_cpu else {"cpu_usage": cpu_meter(cpu_source)}

    def memory() -> float:
        return float(psutil.virtual_memory().percent)

    return {"cpu_usage": cpu_meter(cpu_source), "memory_usage": memory}
