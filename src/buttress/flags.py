"""The short import of :mod:`buttress.degradation.flags`: feature flags and limits that follow
the degradation level.

    from buttress import flags

    if flags.enabled("recommendations"):
        ...

These are the same functions (one state), not copies.
"""

from __future__ import annotations

from buttress.degradation.flags import enabled, level, limit, publish, snapshot

__all__ = ["enabled", "level", "limit", "publish", "snapshot"]
