"""The whole generated output of ``alerting:``: each part (SLO rules and their tests, preset
rules, Alertmanager configuration and its route tests, dashboards) returns a list of
:class:`GeneratedFile`, and :func:`generate` puts them together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from buttress.config import ButtressConfig

__all__ = ["FileKind", "GeneratedFile", "generate"]

FileKind = Literal[
    "rules",  # a Prometheus rule file (promtool check rules)
    "rules-test",  # a promtool test rules file (promtool test rules)
    "alertmanager",  # alertmanager.yml (amtool check-config)
    "alertmanager-test",  # route assertions, run with amtool config routes test
    "dashboard",  # a Grafana dashboard JSON
    "prometheus",  # a prometheus.yml snippet (scrape configuration)
]


@dataclass(frozen=True)
class GeneratedFile:
    """One file of the output: ``path`` relative to the output directory (POSIX)."""

    path: str
    kind: FileKind
    content: str
    secret: bool = False
    """It holds a secret itself (an inline receiver key): written readable by its owner only."""


def generate(config: ButtressConfig) -> list[GeneratedFile]:
    """Every file ``alerting:`` produces, in a stable order; paths are unique."""
    from buttress.alerting import alertmanager, dashboards, presets, scrape, slo

    files = [
        *slo.generate(config),
        *presets.generate(config),
        *alertmanager.generate(config),
        *dashboards.generate(config),
        *scrape.generate(config),
    ]
    seen: set[str] = set()
    for file in files:
        if file.path in seen:
            raise ValueError(f"two generated files share the path {file.path}")
        seen.add(file.path)
    return files
