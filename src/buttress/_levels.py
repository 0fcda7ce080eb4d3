"""The named lists of degradation levels a ``levels:`` setting may give: words of the YAML,
shared by the configuration (which checks them) and the degradation domain (which runs them).
Plain data with no imports, so neither side depends on the other."""

from __future__ import annotations

__all__ = ["LEVEL_PRESETS"]

LEVEL_PRESETS: dict[str, tuple[str, ...]] = {
    "traffic_light": ("GREEN", "YELLOW", "ORANGE", "RED"),
    "service": ("OPTIMAL", "DEGRADED", "LIMITED", "MINIMAL", "EMERGENCY"),
}
