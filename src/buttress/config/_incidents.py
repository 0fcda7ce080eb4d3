"""``incidents:``: incident management, on-call and notification channels."""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from pydantic import Field, field_validator, model_validator

from buttress.config._base import Section, raise_at
from buttress.config._escalation import (
    EscalationPolicy,
    EscalationRule,
    check_match,
    match_labels,
)
from buttress.config._incident_actions import ActionRule, ActionType, not_allowed
from buttress.config._notifiers import NotifiersConfig
from buttress.config._oncall import OnCallConfig
from buttress.config._status_page import StatusPageConfig
from buttress.config._types import Duration, PositiveDuration

__all__ = ["IncidentsConfig", "ResponseTarget", "SeverityRule"]

Severity = Literal["P1", "P2", "P3", "P4"]


class SeverityRule(Section):
    """One classification rule: every label of ``match`` must equal its value (or, written
    ``~regex``, fully match the regular expression) for the rule to apply."""

    match: dict[str, str] = Field(
        description="Labels to match: a value, or `~` then a regular expression (full match)."
    )
    severity: Severity = Field(description="The incident's severity when this rule matches.")

    @field_validator("match")
    @classmethod
    def _regexes(cls, match: dict[str, str]) -> dict[str, str]:
        return check_match(match)

    def matches(self, labels: dict[str, str]) -> bool:
        """True when every label of ``match`` agrees with ``labels``."""
        return match_labels(self.match, labels)


def _default_rules() -> list[SeverityRule]:
    return [
        SeverityRule(match={"severity": "critical"}, severity="P1"),
        SeverityRule(match={"severity": "page"}, severity="P2"),
        SeverityRule(match={"severity": "~warning|ticket"}, severity="P3"),
    ]


class ResponseTarget(Section):
    """How fast an incident of one severity is to be answered (stored and shown; the timers
    that act on it come with escalation)."""

    respond: PositiveDuration = Field(description="Acknowledge within this long.")
    escalate: Duration | None = Field(
        default=None, description="Escalate after this long unacknowledged (0: at once)."
    )
    escalate_next_business_day: bool = Field(
        default=False, description="Escalate on the next business day instead of after a delay."
    )


def _default_targets() -> dict[Severity, ResponseTarget]:
    return {
        "P1": ResponseTarget(respond=300, escalate=0),
        "P2": ResponseTarget(respond=900, escalate=1800),
        "P3": ResponseTarget(respond=3600, escalate=4 * 3600),
        "P4": ResponseTarget(respond=4 * 3600, escalate_next_business_day=True),
    }


def _unknown(label: str, name: str, known: Collection[str], section: str) -> str:
    listed = ", ".join(sorted(known)) or "none is defined"
    return f"unknown {label} {name!r} (incidents.{section}: {listed})"


def _default_postmortem_required() -> list[Severity]:
    return ["P1", "P2"]


class IncidentsConfig(Section):
    """Incident management, escalation and on-call.

    Severities: P1 complete outage or data exposure, P2 major degradation, P3 limited impact,
    P4 minimal impact."""

    oncall: OnCallConfig = Field(
        default_factory=OnCallConfig, description="Users, teams and on-call schedules."
    )
    notifiers: NotifiersConfig = Field(
        default_factory=NotifiersConfig, description="The channels incidents are sent on."
    )
    severity_rules: list[SeverityRule] = Field(
        default_factory=_default_rules,
        description=(
            "Ordered rules from an alert group's labels to a severity; the first match wins. "
            "Default: severity=critical → P1, severity=page → P2, severity=warning|ticket → P3."
        ),
    )
    default_severity: Severity = Field(
        default="P4", description="The severity when no rule matches."
    )
    reopen_after: Duration = Field(
        default=3600,
        description=(
            "An alert group firing again within this long of its incident's resolution reopens "
            "that incident instead of opening a new one."
        ),
    )
    auto_resolve: bool = Field(
        default=True,
        description="Resolve an incident when all of its alerts are resolved.",
    )
    response_targets: dict[Severity, ResponseTarget] = Field(
        default_factory=_default_targets,
        description=(
            "Response targets per severity (P1: 5 min; P2: 15/30 min; P3: 1 h/4 h; "
            "P4: 4 h/next business day)."
        ),
    )

    public_url: str | None = Field(
        default=None,
        description=(
            "The control plane's address as people open it (e.g. https://buttress.internal); "
            "notifications link to the incident's dashboard page there."
        ),
        pattern=r"^https?://",
    )
    escalation_policies: dict[str, EscalationPolicy] = Field(
        default_factory=dict,
        description="Named escalation policies: levels of people and channels, and their waits.",
    )
    escalation: list[EscalationRule] = Field(
        default_factory=list,
        description=(
            "Ordered rules from an incident's labels and severity to its escalation policy; "
            "the first match wins, else default_escalation_policy."
        ),
    )
    default_escalation_policy: str | None = Field(
        default=None,
        description="The policy of incidents no rule takes (none: they are not escalated).",
    )
    status_page: StatusPageConfig = Field(
        default_factory=StatusPageConfig,
        description="The public status page: components, their state, incidents' public updates.",
    )
    postmortem_required: list[Severity] = Field(
        default_factory=_default_postmortem_required,
        description=(
            "Severities whose incidents cannot be closed before their post-mortem is "
            "published (closing answers 409 naming why); [] closes any incident."
        ),
    )

    actions: list[ActionRule] = Field(
        default_factory=list,
        description=(
            "Automated actions: what buttress does by itself when an incident matches a rule "
            "(each type must be listed in allowed_actions)."
        ),
    )
    allowed_actions: list[ActionType] = Field(
        default_factory=list,
        description="The action types the rules may use (default: none).",
    )

    @model_validator(mode="after")
    def _allowed(self) -> IncidentsConfig:
        """Every rule's action type is allowed."""
        raise_at("IncidentsConfig", not_allowed(self.actions, self.allowed_actions))
        return self

    @model_validator(mode="after")
    def _references(self) -> IncidentsConfig:
        """Every policy a rule names exists."""
        policies = self.escalation_policies
        known = ", ".join(policies) or "none is defined"
        wrong: list[tuple[tuple[str | int, ...], str]] = [
            (("escalation", i, "policy"), rule.policy)
            for i, rule in enumerate(self.escalation)
            if rule.policy not in policies
        ]
        if self.default_escalation_policy and self.default_escalation_policy not in policies:
            wrong.append((("default_escalation_policy",), self.default_escalation_policy))
        errors = [(where, f"unknown escalation policy {name!r} ({known})") for where, name in wrong]
        oncall = self.oncall
        kinds: tuple[tuple[str, str, Collection[str]], ...] = (
            ("users", "user", oncall.users),
            ("schedules", "schedule", oncall.schedules),
            ("teams", "team", oncall.teams),
        )
        for name, policy in policies.items():
            where: tuple[str | int, ...] = ("escalation_policies", name)
            for channel_at, channels in [
                ((*where, "channels"), policy.channels),
                *(
                    ((*where, "levels", i, "channels"), level.channels or [])
                    for i, level in enumerate(policy.levels)
                ),
            ]:
                errors.extend(
                    ((*channel_at, j), _unknown("notifier", channel, self.notifiers, "notifiers"))
                    for j, channel in enumerate(channels)
                    if channel not in self.notifiers
                )
            for i, level in enumerate(policy.levels):
                for field, label, known_names in kinds:
                    errors.extend(
                        (
                            (*where, "levels", i, "notify", field, j),
                            _unknown(label, value, known_names, f"oncall.{field}"),
                        )
                        for j, value in enumerate(getattr(level.notify, field))
                        if value not in known_names
                    )
                if not level.channels and not policy.channels:
                    errors.append(
                        (
                            (*where, "levels", i),
                            "a level needs channels to send on (its own or the policy's)",
                        )
                    )
        raise_at("IncidentsConfig", errors)
        return self

    def policy_for(self, labels: dict[str, str], severity: str) -> str | None:
        """The escalation policy of an incident: the first rule's, else the default."""
        for rule in self.escalation:
            if rule.matches(labels, severity):
                return rule.policy
        return self.default_escalation_policy

    def classify(self, labels: dict[str, str]) -> Severity:
        """The severity of the first matching rule, else ``default_severity``."""
        for rule in self.severity_rules:
            if rule.matches(labels):
                return rule.severity
        return self.default_severity
