"""SLOs and their burn-rate alert tiers (`alerting.slos`, `alerting.burn_tiers`)."""

from __future__ import annotations

from buttress.config._base import Section

__all__ = ["DEFAULT_BURN_TIERS", "BurnTierConfig", "SLOConfig"]


class SLOConfig(Section):
    """One service level objective (filled in by the SLO work)."""


class BurnTierConfig(Section):
    """One multi-window burn-rate alert tier (filled in by the SLO work)."""


DEFAULT_BURN_TIERS: tuple[BurnTierConfig, ...] = ()
