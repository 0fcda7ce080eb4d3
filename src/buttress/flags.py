"""Feature flags and limits that follow the degradation level, answered from local state.

    from buttress import flags

    if flags.enabled("recommendations"):
        ...
    per_minute = flags.limit("orders_per_minute", 5000)

Both read one precomputed set and one dict that the degradation controller swaps whole when the
level changes: no I/O, no lock, no allocation on the call. Before any controller runs, every
feature is enabled and every limit is its default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["enabled", "level", "limit", "publish", "snapshot"]


class _Flags:
    __slots__ = ("_limits", "_off", "level")

    def __init__(self) -> None:
        self._off: frozenset[str] = frozenset()
        self._limits: Mapping[str, Any] = {}
        self.level: str | None = None

    def enabled(self, name: str) -> bool:
        """Whether feature ``name`` is on at the current level (unknown features are on)."""
        return name not in self._off

    def limit(self, name: str, default: Any = None) -> Any:
        """The value of limit ``name`` at the current level, else ``default``."""
        return self._limits.get(name, default)


_flags = _Flags()
enabled = _flags.enabled
limit = _flags.limit


def level() -> str | None:
    """The degradation level in force (None while no controller runs)."""
    return _flags.level


def publish(level: str | None, off: frozenset[str], limits: Mapping[str, Any]) -> None:
    """Replace the flags' state (the controller calls this when the level changes)."""
    _flags._off = frozenset(off)
    _flags._limits = dict(limits)
    _flags.level = level


def snapshot() -> dict[str, Any]:
    return {"level": _flags.level, "disabled": sorted(_flags._off), "limits": dict(_flags._limits)}
