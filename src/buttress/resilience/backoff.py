"""Backoff (how long to wait before attempt N+1) and jitter (how to spread those waits).

A backoff is any callable ``(attempt, previous) -> seconds``: ``attempt`` is the number of the
attempt that just failed (1 for the first), ``previous`` the wait used before it (0 at first).
Jitter is applied on top by :class:`Retry`, with its ``random`` source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "Backoff",
    "ConstantBackoff",
    "ExponentialBackoff",
    "JitterKind",
    "LinearBackoff",
    "apply_jitter",
    "backoff_from_name",
]

JitterKind = Literal["none", "full", "equal", "decorrelated"]


class Backoff(Protocol):
    def __call__(self, attempt: int, previous: float, /) -> float: ...


def _positive(name: str, value: float, *, zero_ok: bool = True) -> None:
    if value < 0 or (value == 0 and not zero_ok):
        raise ValueError(f"backoff {name}={value!r}: expected seconds {'>=' if zero_ok else '>'} 0")


@dataclass(frozen=True, slots=True)
class ConstantBackoff:
    """Wait the same ``delay`` seconds before every retry."""

    delay: float = 0.1

    def __post_init__(self) -> None:
        _positive("delay", self.delay)

    def __call__(self, attempt: int, previous: float, /) -> float:
        return self.delay


@dataclass(frozen=True, slots=True)
class LinearBackoff:
    """Wait ``delay + step * (attempt - 1)`` seconds, at most ``max_delay``."""

    delay: float = 0.1
    step: float = 0.1
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        _positive("delay", self.delay)
        _positive("step", self.step)
        _positive("max_delay", self.max_delay)

    def __call__(self, attempt: int, previous: float, /) -> float:
        return min(self.delay + self.step * (attempt - 1), self.max_delay)


@dataclass(frozen=True, slots=True)
class ExponentialBackoff:
    """Wait ``delay * multiplier ** (attempt - 1)`` seconds, at most ``max_delay``."""

    delay: float = 0.1
    multiplier: float = 2.0
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        _positive("delay", self.delay)
        _positive("max_delay", self.max_delay)
        if self.multiplier < 1:
            raise ValueError(f"backoff multiplier={self.multiplier!r}: expected >= 1")

    def __call__(self, attempt: int, previous: float, /) -> float:
        if attempt > 64:  # avoid float overflow; the cap has long been reached
            return self.max_delay
        return min(self.delay * self.multiplier ** (attempt - 1), self.max_delay)


def backoff_from_name(
    kind: str, *, delay: float, max_delay: float, multiplier: float = 2.0
) -> Backoff:
    """``"constant"``, ``"linear"`` or ``"exponential"`` with the given numbers.

    Raises:
        ValueError: unknown kind (the message lists the known ones).
    """
    if kind == "constant":
        return ConstantBackoff(delay)
    if kind == "linear":
        return LinearBackoff(delay, delay, max_delay)
    if kind == "exponential":
        return ExponentialBackoff(delay, multiplier, max_delay)
    raise ValueError(f"unknown backoff {kind!r}: use 'constant', 'linear' or 'exponential'")


def apply_jitter(
    kind: JitterKind,
    wait: float,
    previous: float,
    base: float,
    cap: float,
    random: Callable[[], float],
) -> float:
    """Spread ``wait`` as AWS's "Exponential Backoff and Jitter" describes.

    ``full``: uniform in [0, wait]; ``equal``: wait/2 + uniform in [0, wait/2];
    ``decorrelated``: uniform in [base, 3 * previous] capped at ``cap`` (ignores ``wait``).
    """
    if kind == "none":
        return wait
    if kind == "full":
        return wait * random()
    if kind == "equal":
        return wait / 2 + wait / 2 * random()
    if kind == "decorrelated":
        high = max(base, previous * 3)
        return min(cap, base + (high - base) * random())
    raise ValueError(f"unknown jitter {kind!r}: use 'none', 'full', 'equal' or 'decorrelated'")
