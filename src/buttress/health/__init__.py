"""Health checks and the health score (degradation levels, feature flags and load shedding are
:mod:`buttress.degradation`, which reads the score as a trigger).

Like ``buttress.resilience`` this package stays light: no server, database or object-storage
stack is imported with it (checked by ``tests/test_imports.py``); each check loads its client
when it first runs.
"""

from __future__ import annotations

from buttress.health.checks.base import Check, CheckResult, Status, run_check
from buttress.health.monitor import CheckStatusChanged, HealthMonitor, availability, score

__all__ = [
    "Check",
    "CheckResult",
    "CheckStatusChanged",
    "HealthMonitor",
    "Status",
    "availability",
    "run_check",
    "score",
]
