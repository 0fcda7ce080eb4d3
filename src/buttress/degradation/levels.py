"""Degradation levels: an ordered list (the first is normal operation), automatic triggers with
hysteresis, manual overrides with an expiry, and per-level features and limits.

The rules (``evaluate`` applies them to each observation of the metrics):

- A trigger *holds* while its metric is beyond its threshold (above it, or below it for
  ``health_score`` and any trigger written with ``below``). A metric with no value yet holds
  nothing.
- **Going up**: a level is entered when any of its triggers has held continuously for the
  level's ``for`` duration; the most severe such level wins (a jump from the first level straight
  to the last is allowed).
- **Going down**: the current level is left only after every one of its triggers has been clear
  continuously for its ``cooldown``; then one level down, where the same rule applies in turn.
  A level whose triggers are still held is not left.
- Hence no flapping: between two moves down at least ``cooldown`` passes with the triggers
  clear, and a move up needs ``for`` with a trigger held.
- A manual **override** (level, reason, expiry) wins while it lasts; the automatic level goes on
  being computed underneath and takes over when the override expires or is cleared.

Features and limits: a feature is off at a level when that level or any lower one lists it in
``disable`` (levels are cumulative), or when the level has an ``enable_only`` list without it. A
limit at a level is the value set by that level or the nearest lower one that sets it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from buttress._levels import LEVEL_PRESETS

__all__ = [
    "PRESETS",
    "Level",
    "LevelState",
    "Levels",
    "Override",
    "Prediction",
    "Trigger",
]

PRESETS: dict[str, tuple[str, ...]] = LEVEL_PRESETS  # one table, shared with buttress.config

BELOW_BY_DEFAULT = frozenset({"health_score"})


@dataclass(frozen=True)
class Trigger:
    """``metric`` beyond ``threshold``: above it, or below it when ``below``."""

    metric: str
    threshold: float
    below: bool = False

    def holds(self, value: float | None) -> bool:
        if value is None or math.isnan(value):
            return False
        return value < self.threshold if self.below else value > self.threshold

    def describe(self) -> str:
        return f"{self.metric} {'<' if self.below else '>'} {self.threshold:g}"


@dataclass(frozen=True)
class Level:
    name: str
    triggers: tuple[Trigger, ...] = ()
    hold: float = 0.0  # the level's `for`: seconds a trigger must hold to enter
    cooldown: float = 60.0  # seconds every trigger must be clear to leave
    disable: frozenset[str] = frozenset()
    enable_only: frozenset[str] | None = None
    limits: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Override:
    level: str
    reason: str
    until: float  # clock time it expires
    actor: str = ""


@dataclass
class _Watch:
    """When a level's triggers started holding, and when they all became clear."""

    held_since: float | None = None
    clear_since: float | None = None
    held: tuple[str, ...] = ()


@dataclass(frozen=True)
class LevelState:
    """What :meth:`Levels.evaluate` answers: the level in force and why."""

    level: str
    index: int
    automatic: str
    override: Override | None
    reasons: tuple[str, ...]  # the triggers that hold at the automatic level
    changed: bool


@dataclass(frozen=True)
class Prediction:
    """When a trigger is expected to clear, from its metric's recent trend; ``seconds`` is None
    ("unknown") when the trend does not support an estimate."""

    trigger: str
    seconds: float | None
    why: str


class Levels:
    """The level machine. Not thread-safe by itself: one evaluator calls :meth:`evaluate`
    (the controller serialises it); readers use the immutable :class:`LevelState` it returns.

    Args:
        levels: ordered, least severe first; the first level has no triggers.
        history: seconds of metric samples kept for recovery predictions.
    """

    def __init__(self, levels: Sequence[Level], *, history: float = 600.0) -> None:
        if len(levels) < 2:
            raise ValueError("degradation: declare at least two levels")
        names = [lv.name for lv in levels]
        if len(set(names)) != len(names):
            raise ValueError("degradation: level names must be unique")
        if levels[0].triggers:
            raise ValueError(f"degradation: the first level ({names[0]}) cannot have triggers")
        self.levels = tuple(levels)
        self.names = tuple(names)
        self._watch = [_Watch() for _ in levels]
        self._current = 0
        self.override: Override | None = None
        self._samples: dict[str, deque[tuple[float, float]]] = {}
        self._history = history
        self.features = sorted(
            set().union(*(lv.disable for lv in levels), *(lv.enable_only or () for lv in levels))
        )

    # -- levels ---------------------------------------------------------------------------------

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(
                f"unknown level {name!r}; the levels are {', '.join(self.names)}"
            ) from None

    @property
    def automatic(self) -> str:
        return self.names[self._current]

    @property
    def automatic_index(self) -> int:
        return self._current

    def evaluate(self, metrics: Mapping[str, float | None], now: float) -> LevelState:
        """Take one observation of the metrics at clock time ``now`` and move the level by the
        rules of the module docstring."""
        for name, value in metrics.items():
            if value is not None and not math.isnan(value):
                samples = self._samples.setdefault(name, deque())
                samples.append((now, float(value)))
                while samples and samples[0][0] < now - self._history:
                    samples.popleft()
        for level, watch in zip(self.levels, self._watch, strict=True):
            held = tuple(t.describe() for t in level.triggers if t.holds(metrics.get(t.metric)))
            watch.held = held
            if held:
                watch.clear_since = None
                watch.held_since = now if watch.held_since is None else watch.held_since
            else:
                watch.held_since = None
                watch.clear_since = now if watch.clear_since is None else watch.clear_since
        before = self._current
        entered = [
            i
            for i, (level, watch) in enumerate(zip(self.levels, self._watch, strict=True))
            if i > 0 and watch.held_since is not None and now - watch.held_since >= level.hold
        ]
        if entered and max(entered) > self._current:
            self._current = max(entered)
        else:
            while self._current > 0:
                watch = self._watch[self._current]
                level = self.levels[self._current]
                if watch.clear_since is None or now - watch.clear_since < level.cooldown:
                    break
                self._current -= 1
        return self._state(now, changed_automatic=self._current != before)

    def _state(self, now: float, changed_automatic: bool = False) -> LevelState:
        override = self.override
        if override is not None and now >= override.until:
            self.override = override = None
        index = self.index(override.level) if override else self._current
        return LevelState(
            level=self.names[index],
            index=index,
            automatic=self.names[self._current],
            override=override,
            reasons=self._watch[self._current].held,
            changed=changed_automatic,
        )

    def state(self, now: float) -> LevelState:
        """The level in force at ``now`` without a new observation (expires overrides)."""
        return self._state(now)

    def set_override(self, level: str, reason: str, until: float, actor: str = "") -> Override:
        self.index(level)
        if not reason.strip():
            raise ValueError("an override needs a reason")
        self.override = Override(level, reason.strip(), until, actor)
        return self.override

    def clear_override(self) -> Override | None:
        previous, self.override = self.override, None
        return previous

    # -- what a level means -----------------------------------------------------------------

    def disabled(self, index: int) -> frozenset[str]:
        """Features off at level ``index``."""
        off: set[str] = set()
        for level in self.levels[: index + 1]:
            off |= level.disable
        only = self.levels[index].enable_only
        if only is not None:
            off |= set(self.features) - only
        return frozenset(off)

    def limits(self, index: int) -> dict[str, Any]:
        """Limits in force at level ``index`` (each from the nearest level at or below it)."""
        out: dict[str, Any] = {}
        for level in self.levels[: index + 1]:
            out.update(level.limits)
        return out

    # -- recovery prediction ----------------------------------------------------------------

    def predict(self, now: float, window: float = 300.0) -> list[Prediction]:
        """For each trigger that holds at the automatic level: when its metric will cross back,
        by a least-squares line through the last ``window`` seconds of samples. "Unknown" when
        there are fewer than 5 samples, when the trend is flat or going the wrong way, or when
        the line explains the samples poorly (r² < 0.5)."""
        out = []
        level = self.levels[self._current]
        for trigger in level.triggers:
            samples = [
                (t, v) for t, v in self._samples.get(trigger.metric, ()) if t >= now - window
            ]
            if not samples or not trigger.holds(samples[-1][1]):
                continue
            out.append(_predict(trigger, samples, now))
        return out


def _predict(trigger: Trigger, samples: list[tuple[float, float]], now: float) -> Prediction:
    name = trigger.describe()
    if len(samples) < 5:
        return Prediction(name, None, "not enough samples yet")
    n = len(samples)
    mt = sum(t for t, _ in samples) / n
    mv = sum(v for _, v in samples) / n
    stt = sum((t - mt) ** 2 for t, _ in samples)
    svv = sum((v - mv) ** 2 for _, v in samples)
    stv = sum((t - mt) * (v - mv) for t, v in samples)
    if stt == 0 or svv == 0:
        return Prediction(name, None, "the metric is flat")
    slope = stv / stt
    r2 = stv * stv / (stt * svv)
    recovering = slope > 0 if trigger.below else slope < 0
    if not recovering:
        return Prediction(name, None, "the trend is not towards recovery")
    if r2 < 0.5:
        return Prediction(name, None, f"the trend is too noisy (r² {r2:.2f})")
    intercept = mv - slope * mt
    at = (trigger.threshold - intercept) / slope
    seconds = max(0.0, at - now)
    return Prediction(name, round(seconds, 1), f"linear trend {slope:+.3g}/s, r² {r2:.2f}")
