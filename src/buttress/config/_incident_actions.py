"""``incidents.actions:`` and ``incidents.allowed_actions:``: what buttress does by itself when
an incident matches a rule (by labels, severity and status): hold a degradation level, force a
circuit breaker, start a backup or a restore test, call a webhook.

Every action type a rule uses must be listed in ``allowed_actions`` (default: none), so a file
cannot make buttress act without saying so in one place. Each rule runs at most once per
incident and status, and at most ``max_runs`` times (over all incidents) per ``per``: an
action that makes an alert fire that opens an incident that runs the action again stops there.
The names a rule refers to in other sections (levels, backup targets, resilience policies) are
checked in the validation step (:mod:`buttress.config_checks`).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator

from buttress.config._base import NAME_PATTERN, Section, Variant
from buttress.config._escalation import check_match, match_labels
from buttress.config._notifiers import WebhookNotifierConfig
from buttress.config._types import PositiveDuration

__all__ = [
    "ACTION_TYPES",
    "ActionConfig",
    "ActionRule",
    "ActionType",
    "AnyActionConfig",
    "BackupActionConfig",
    "BreakerActionConfig",
    "DegradationActionConfig",
    "RestoreTestActionConfig",
    "WebhookActionConfig",
    "not_allowed",
]

ActionType = Literal["degradation_level", "breaker", "backup", "restore_test", "webhook", "runbook"]
ACTION_TYPES: tuple[ActionType, ...] = (
    "degradation_level",
    "breaker",
    "backup",
    "restore_test",
    "webhook",
)
Status = Literal["triggered", "acknowledged", "mitigated", "resolved"]
_MAX_HOLD = 366 * 86400  # as the API's override: a longer hold is a mistake


class ActionConfig(Variant):
    """One action (the field every kind has)."""

    variant_noun: ClassVar[str] = "action"
    type: ActionType


class DegradationActionConfig(ActionConfig):
    """`type: degradation_level`: hold a degradation level (an override, as `buttress level
    set` makes) for a while."""

    type: Literal["degradation_level"]
    level: str = Field(min_length=1, description="A level of health.degradation, e.g. ORANGE.")
    reason: str = Field(
        default="", max_length=1000, description="Why (default: the rule and the incident)."
    )
    for_: PositiveDuration = Field(
        default=1800.0, alias="for", le=_MAX_HOLD, description="How long to hold it."
    )


class BreakerActionConfig(ActionConfig):
    """`type: breaker`: force the circuit breaker of a `resilience.policies` pipeline open (every
    call rejected) or closed (every call let through); it stays so until reset."""

    type: Literal["breaker"]
    policy: str = Field(min_length=1, description="A pipeline of resilience.policies.")
    state: Literal["open", "closed"] = Field(description="Force it open or closed.")


class BackupActionConfig(ActionConfig):
    """`type: backup`: back a target up now (in the background)."""

    type: Literal["backup"]
    target: str = Field(min_length=1, description="A backup.targets name.")


class RestoreTestActionConfig(ActionConfig):
    """`type: restore_test`: verify the target's newest good backup and restore it into a
    scratch database to compare (in the background)."""

    type: Literal["restore_test"]
    target: str = Field(min_length=1, description="A backup.targets name.")


class RunbookActionConfig(ActionConfig):
    """`type: runbook`: start a run of a runbook (in the background, as the incident: actor
    `incident:INC-...`); its confirm steps wait for a person in the dashboard, the CLI or the
    API. Parameter values are Jinja2 templates (sandboxed) of `incident` (ref, title,
    severity, status, services, impact, labels, url)."""

    type: Literal["runbook"]
    runbook: str = Field(min_length=1, description="A runbook's name (runbooks:).")
    params: dict[str, str] = Field(
        default_factory=dict,
        description="Its parameters, e.g. {pair: orders, reason: '{{ incident.ref }}'}.",
    )
    dry_run: bool = Field(default=False, description="true: a dry run (changes nothing).")


class WebhookActionConfig(WebhookNotifierConfig):
    """`type: webhook`: an HTTP call, sent like the webhook notifier's (retry, breaker, timeout
    or a named `policy`; the URL and header values are secrets)."""

    variant_noun: ClassVar[str] = "action"
    body: str | None = Field(
        default=None,
        description=(
            "A Jinja2 template (sandboxed) of `incident` (ref, title, severity, status, "
            "services, impact, labels, url), `rule` and `status`; default: those as JSON."
        ),
    )


AnyActionConfig = Annotated[
    DegradationActionConfig
    | BreakerActionConfig
    | BackupActionConfig
    | RestoreTestActionConfig
    | RunbookActionConfig
    | WebhookActionConfig,
    Field(discriminator="type"),
]
"""An action of any kind, by its ``type``."""


def _triggered() -> list[Status]:
    return ["triggered"]


class ActionRule(Section):
    """One automated action: which incidents (labels, severities, statuses) and what to do."""

    name: str = Field(pattern=NAME_PATTERN, description="The rule's name (in the timeline).")
    match: dict[str, str] = Field(
        default_factory=dict,
        description="Labels to match: a value, or `~` then a regular expression (full match).",
    )
    severities: list[Literal["P1", "P2", "P3", "P4"]] = Field(
        default_factory=list, description="Severities this rule takes (default: all)."
    )
    statuses: list[Status] = Field(
        default_factory=_triggered,
        min_length=1,
        description="Run when the incident reaches one of these statuses (default: triggered).",
    )
    do: AnyActionConfig = Field(description="What to do.")
    dry_run: bool = Field(
        default=False, description="Record what it would do, do nothing (to try a rule out)."
    )
    max_runs: int = Field(
        default=3, ge=1, le=1000, description="At most this many runs of the rule per `per`."
    )
    per: PositiveDuration = Field(
        default=3600.0, description="The window max_runs counts in (all incidents together)."
    )

    @field_validator("match")
    @classmethod
    def _regexes(cls, match: dict[str, str]) -> dict[str, str]:
        return check_match(match)

    def matches(self, labels: dict[str, str], severity: str, status: str) -> bool:
        """True when the status and severity are taken and every label of ``match`` agrees."""
        if status not in self.statuses:
            return False
        if self.severities and severity not in self.severities:
            return False
        return match_labels(self.match, labels)


def not_allowed(
    rules: list[ActionRule], allowed: list[ActionType]
) -> list[tuple[tuple[str | int, ...], str]]:
    """The rules whose action type ``allowed`` does not list (paths inside ``incidents``), and
    duplicate rule names."""
    listed = ", ".join(allowed) or "none is"
    errors: list[tuple[tuple[str | int, ...], str]] = [
        (
            ("actions", i, "do", "type"),
            f"action type {rule.do.type!r} is not allowed (incidents.allowed_actions: "
            f"{listed} allowed)",
        )
        for i, rule in enumerate(rules)
        if rule.do.type not in allowed
    ]
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.name in seen:
            errors.append((("actions", i, "name"), f"another rule is already named {rule.name!r}"))
        seen.add(rule.name)
    return errors
