"""``health.degradation:``: degradation levels, their triggers, feature flags and limits."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from buttress._levels import LEVEL_PRESETS
from buttress.config._base import Section
from buttress.config._types import Duration, PositiveDuration, parse_duration

__all__ = [
    "BUILTIN_METRICS",
    "LEVEL_PRESETS",
    "DegradationConfig",
    "LevelConfig",
    "LevelSettings",
    "TriggerBound",
    "TriggerBoundConfig",
]

BUILTIN_METRICS = ("cpu_usage", "memory_usage", "error_rate", "response_time_p95", "health_score")


class TriggerBoundConfig(Section):
    """A threshold with an explicit direction."""

    above: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _one(self) -> TriggerBoundConfig:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of `above` or `below`")
        return self


def _threshold(value: object) -> object:
    """Numbers stay numbers; ``2000ms``/``2s`` become seconds (for response_time_p95)."""
    if isinstance(value, str):
        return parse_duration(value)
    return value


Threshold = Annotated[
    float | TriggerBoundConfig,
    BeforeValidator(_threshold, json_schema_input_type=Duration | TriggerBoundConfig),
]


class LevelConfig(Section):
    """What one degradation level means and when it comes."""

    when: dict[str, Threshold] = Field(
        default_factory=dict,
        description=(
            "Triggers: metric -> threshold (`cpu_usage: 70`, `response_time_p95: 2000ms`, "
            "`health_score: 60` means below 60, `{below: 5}` / `{above: 5}` to be explicit)."
        ),
    )
    for_: Duration | None = Field(
        default=None, alias="for", description="How long a trigger must hold to enter."
    )
    cooldown: Duration | None = Field(
        default=None, description="How long every trigger must be clear to leave."
    )
    disable: list[str] = Field(default_factory=list, description="Features off from here up.")
    enable_only: list[str] | None = Field(
        default=None, description="Only these features on at this level."
    )
    limits: dict[str, Any] = Field(default_factory=dict, description="Limits from here up.")


class DegradationConfig(Section):
    """Degradation levels (docs/degradation.md)."""

    levels: str | list[str] = Field(
        default="traffic_light",
        description="`traffic_light` (GREEN..RED), `service` (OPTIMAL..EMERGENCY) or a list.",
    )
    for_: Duration = Field(default=30.0, ge=0, alias="for", description="Default `for`.")
    cooldown: PositiveDuration = Field(default=120.0, description="Default cooldown.")
    evaluate_every: PositiveDuration = Field(default=5.0, description="Time between evaluations.")
    hooks: list[str] = Field(
        default_factory=list,
        description=(
            "`module:function` subscribed to the LevelChanged event on the event bus: called "
            "with each change of level (alerts, incidents)."
        ),
    )
    shared: bool = Field(
        default=False,
        description=(
            "Share the level through the `state:` Redis: every replica applies at least the "
            "most severe replica's level."
        ),
    )
    metrics: list[str] = Field(
        default_factory=list,
        description=f"Custom metric names triggers may use (besides {', '.join(BUILTIN_METRICS)}).",
    )
    cpu: Literal["auto", "process", "cgroup", "machine"] = Field(
        default="auto",
        description=(
            "What `cpu_usage` measures: `process` (this process), `cgroup` (its container, "
            "against the cgroup's CPU limit), `machine` (every process); `auto`: `cgroup` where "
            "a cgroup CPU limit exists, else `process`."
        ),
    )
    features: list[str] = Field(default_factory=list, description="Every feature flag.")
    limits: dict[str, Any] = Field(default_factory=dict, description="Limits at the first level.")
    level: dict[str, LevelConfig] = Field(
        default_factory=dict, description="Per level name: its triggers, features and limits."
    )

    @property
    def names(self) -> list[str]:
        return list(LEVEL_PRESETS[self.levels]) if isinstance(self.levels, str) else self.levels

    @model_validator(mode="after")
    def _consistent(self) -> DegradationConfig:
        if isinstance(self.levels, str) and self.levels not in LEVEL_PRESETS:
            raise ValueError(
                f"levels: unknown preset {self.levels!r} (presets: {', '.join(LEVEL_PRESETS)}; "
                "or give a list of names)"
            )
        names = self.names
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError("levels: give at least two distinct names")
        bad_hooks = [h for h in self.hooks if ":" not in h]
        if bad_hooks:
            raise ValueError(f"hooks: expected `module:function`, got {', '.join(bad_hooks)}")
        known_metrics = set(BUILTIN_METRICS) | set(self.metrics)
        features = set(self.features)
        for name, settings in self.level.items():
            if name not in names:
                raise ValueError(f"level {name!r} is not one of the levels ({', '.join(names)})")
            if name == names[0] and settings.when:
                raise ValueError(f"level {name!r} is the normal one: it cannot have triggers")
            for metric, bound in settings.when.items():
                if metric not in known_metrics:
                    raise ValueError(
                        f"level {name!r}: unknown metric {metric!r} (known: "
                        f"{', '.join(sorted(known_metrics))}; declare custom ones in `metrics`)"
                    )
                values = [bound] if isinstance(bound, float | int) else [bound.above, bound.below]
                if any(v is not None and v < 0 for v in values):
                    raise ValueError(f"level {name!r}: {metric} threshold must not be negative")
            both = set(settings.disable) & set(settings.enable_only or ())
            if both:
                raise ValueError(
                    f"level {name!r}: {', '.join(sorted(both))} both disabled and enabled"
                )
            mentioned = set(settings.disable) | set(settings.enable_only or ())
            if features and mentioned - features:
                raise ValueError(
                    f"level {name!r}: unknown feature {', '.join(sorted(mentioned - features))} "
                    f"(features: {', '.join(sorted(features))})"
                )
        return self


LevelSettings = LevelConfig  # the names before the naming convention (docs/architecture.md)
TriggerBound = TriggerBoundConfig
