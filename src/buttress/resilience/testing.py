"""Test helpers: make retries instant and short, and restore everything afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from buttress.resilience import retry as _retry

__all__ = ["set_testing"]


@contextlib.contextmanager
def set_testing(*, attempts: int = 1) -> Iterator[None]:
    """Within the block, every :class:`Retry` makes at most ``attempts`` attempts (default 1:
    no retries), whatever its configuration; the previous setting is restored on exit."""
    if attempts < 1:
        raise ValueError(f"set_testing attempts={attempts!r}: expected >= 1")
    previous = _retry._testing.attempts
    _retry._testing.attempts = attempts
    try:
        yield
    finally:
        _retry._testing.attempts = previous
