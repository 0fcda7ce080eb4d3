"""Dependency checks: each answers "is it up, how fast" within its timeout, never raising."""

from __future__ import annotations

from buttress.health.checks.base import Check, CheckResult, Status

__all__ = ["Check", "CheckResult", "Status"]
