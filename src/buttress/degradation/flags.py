"""Feature flags and limits that follow the degradation level, answered from local state.

    from buttress import flags

    if flags.enabled("recommendations"):
        ...
    per_minute = flags.limit("orders_per_minute", 5000)

Both read precomputed sets and one dict that the degradation controller swaps whole when the
level changes: no I/O, no lock, no allocation on the call. Before any controller runs, every
feature is enabled and every limit is its default. Once one runs, a feature name it does not
know (not under ``health.degradation.features`` nor in any level's ``disable``/``enable_only``)
is off: ``enabled()`` answers False and logs a warning once per name, so that a typo is seen
rather than silently on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["enabled", "level", "limit", "publish", "snapshot"]


log = logging.getLogger("buttress.degradation")


class _Flags:
    __slots__ = ("_known", "_limits", "_off", "_on", "_warned", "level")

    def __init__(self) -> None:
        self._off: frozenset[str] = frozenset()
        self._on: frozenset[str] = frozenset()
        self._known = False  # False until a controller publishes its features
        self._limits: Mapping[str, Any] = {}
        self._warned: set[str] = set()
        self.level: str | None = None

    def enabled(self, name: str) -> bool:
        """Whether feature ``name`` is on at the current level; a name the running controller
        does not know is off (with a warning once)."""
        if name in self._on:
            return True
        if name in self._off:
            return False
        return self._unknown(name) if self._known else True

    def _unknown(self, name: str) -> bool:
        if name not in self._warned:
            self._warned.add(name)
            log.warning(
                "feature flag %r is not a configured feature (health.degradation.features: %s): "
                "answering False",
                name,
                ", ".join(sorted(self._on | self._off)) or "none",
            )
        return False

    def limit(self, name: str, default: Any = None) -> Any:
        """The value of limit ``name`` at the current level, else ``default``."""
        return self._limits.get(name, default)


_flags = _Flags()
enabled = _flags.enabled
limit = _flags.limit


def level() -> str | None:
    """The degradation level in force (None while no controller runs)."""
    return _flags.level


def publish(
    level: str | None,
    off: frozenset[str],
    limits: Mapping[str, Any],
    features: Iterable[str] | None = None,
) -> None:
    """Replace the flags' state (the controller calls this when the level changes).

    Args:
        features: every feature the controller knows; None: every name is on unless ``off``.
    """
    known = frozenset(features) if features is not None else None
    if known != (_flags._on | _flags._off if _flags._known else None):
        _flags._warned = set()  # other features: warn again about names unknown to them
    _flags._off = frozenset(off)
    _flags._on = (known or frozenset()) - _flags._off
    _flags._known = known is not None
    _flags._limits = dict(limits)
    _flags.level = level


def snapshot() -> dict[str, Any]:
    return {"level": _flags.level, "disabled": sorted(_flags._off), "limits": dict(_flags._limits)}
