"""alertmanager.yml (severity tiers, routing tree, receivers, inhibition, maintenance
windows) and its route tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from buttress.alerting.generate import GeneratedFile
    from buttress.config import ButtressConfig

__all__ = ["generate"]


def generate(config: ButtressConfig) -> list[GeneratedFile]:
    """The files of this part (none until it is built)."""
    return []
