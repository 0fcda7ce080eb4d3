"""The validation step's check of ``incidents.actions``: every level, backup target,
runbook (and its parameters) and resilience policy a rule names exists in its own section
(``health.degradation``, ``backup.targets``, ``runbooks``, ``resilience.policies``; whether
a policy has a breaker, with the defaults merged, is known when its pipeline is built: the
run records it)."""

from __future__ import annotations

from collections.abc import Collection

from buttress.config import ButtressConfig
from buttress.config._incident_actions import (
    BackupActionConfig,
    BreakerActionConfig,
    DegradationActionConfig,
    RestoreTestActionConfig,
    RunbookActionConfig,
)

__all__ = ["check_actions"]

Found = list[tuple[tuple[str | int, ...], str]]


def _unknown(what: str, name: str, known: Collection[str], where: str) -> str:
    listed = ", ".join(sorted(known)) or "none is defined"
    return f"unknown {what} {name!r} ({where}: {listed})"


def check_actions(config: ButtressConfig) -> Found:
    """Problems (paths from the top of the file) of the names the action rules refer to."""
    found: Found = []
    levels = config.health.degradation.names if config.health.degradation else []
    targets = [t.name for t in config.backup.targets]
    policies = config.resilience.policies
    for i, rule in enumerate(config.incidents.actions):
        at: tuple[str | int, ...] = ("incidents", "actions", i, "do")
        do = rule.do
        if isinstance(do, DegradationActionConfig) and do.level not in levels:
            found.append(
                ((*at, "level"), _unknown("level", do.level, levels, "health.degradation levels"))
            )
        elif isinstance(do, BackupActionConfig | RestoreTestActionConfig):
            if do.target not in targets:
                found.append(
                    (
                        (*at, "target"),
                        _unknown("backup target", do.target, targets, "backup.targets"),
                    )
                )
        elif isinstance(do, RunbookActionConfig):
            runbooks = {r.name: r for r in config.runbooks.all}
            if do.runbook not in runbooks:
                found.append(
                    ((*at, "runbook"), _unknown("runbook", do.runbook, runbooks, "runbooks"))
                )
            else:
                declared = runbooks[do.runbook].params
                for key in do.params:
                    if key not in declared:
                        known = ", ".join(sorted(declared)) or "none"
                        message = (
                            f"runbook {do.runbook} has no parameter {key!r} "
                            f"(its parameters: {known})"
                        )
                        found.append(((*at, "params", key), message))
        elif isinstance(do, BreakerActionConfig) and do.policy not in policies:
            message = _unknown("resilience policy", do.policy, policies, "resilience.policies")
            found.append(((*at, "policy"), message))
        if rule.do.type == "webhook" and rule.do.policy and rule.do.policy not in policies:
            message = _unknown("resilience policy", rule.do.policy, policies, "resilience.policies")
            found.append(((*at, "policy"), message))
    return found
