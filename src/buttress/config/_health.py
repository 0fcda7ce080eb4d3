"""``health:``: the dependencies ``buttress serve`` watches, and the degradation levels.

A check is one of the kinds below, told apart by ``type`` (a discriminated union): each kind
declares the fields it needs, so the schema and the loader both say "an http check needs
`url`", and a field of another kind is an error rather than a setting silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from buttress.config._base import NAME_PATTERN, Section, Variant
from buttress.config._degradation import DegradationConfig
from buttress.config._types import PositiveDuration, SecretDsn, SecretText

__all__ = [
    "AnyHealthCheckConfig",
    "CustomCheckConfig",
    "DiskCheckConfig",
    "HealthCheckConfig",
    "HealthConfig",
    "HttpCheckConfig",
    "MariadbCheckConfig",
    "PostgresqlCheckConfig",
    "RedisCheckConfig",
    "S3CheckConfig",
    "TcpCheckConfig",
]

CHECK_TYPES = ("postgresql", "mariadb", "redis", "s3", "http", "tcp", "disk", "custom")


class HealthCheckConfig(Variant):
    """One dependency `buttress serve` watches (the fields every kind of check has)."""

    variant_noun = "check"

    name: str = Field(min_length=1, pattern=NAME_PATTERN)
    type: Literal["postgresql", "mariadb", "redis", "s3", "http", "tcp", "disk", "custom"]
    interval: PositiveDuration = Field(default=10.0, description="Time between runs.")
    timeout: PositiveDuration = Field(default=2.0, description="Longest a run may take.")
    weight: float = Field(default=1.0, ge=0, description="Share of the health score.")
    critical: bool = Field(default=False, description="Down means not ready (/readyz 503).")
    slow: PositiveDuration | None = Field(
        default=None, description="Answers slower than this count as degraded."
    )

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> HealthCheckConfig:
        if self.timeout > self.interval:
            raise ValueError(
                f"check {self.name!r}: timeout ({self.timeout:g}s) is longer than interval "
                f"({self.interval:g}s)"
            )
        return self


class PostgresqlCheckConfig(HealthCheckConfig):
    """`type: postgresql`: connects and runs ``SELECT 1``."""

    type: Literal["postgresql"]
    dsn: SecretDsn = Field(description="The server's DSN, `postgresql://user:pw@host/db`.")


class MariadbCheckConfig(HealthCheckConfig):
    """`type: mariadb`: connects and runs ``SELECT 1``."""

    type: Literal["mariadb"]
    dsn: SecretDsn = Field(description="The server's DSN, `mariadb://user:pw@host:3306/db`.")


class RedisCheckConfig(HealthCheckConfig):
    """`type: redis`: connects and sends ``PING``."""

    type: Literal["redis"]
    dsn: SecretDsn = Field(description="The server's URL, `redis://[:pw@]host:6379/0`.")


class S3CheckConfig(HealthCheckConfig):
    """`type: s3`: the bucket answers (``HeadBucket``)."""

    type: Literal["s3"]
    bucket: str = Field(description="The bucket.")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint.")
    region: str | None = Field(default=None, description="Region.")
    access_key_id: str | None = Field(default=None, description="Access key id.")
    secret_access_key: SecretText | None = Field(default=None, description="Secret key.")


class HttpCheckConfig(HealthCheckConfig):
    """`type: http`: a GET of ``url`` answers with one of ``expect_status``."""

    type: Literal["http"]
    url: str = Field(description="The URL to GET.")
    expect_status: list[int] = Field(default=[200], description="Statuses that count as up.")


class TcpCheckConfig(HealthCheckConfig):
    """`type: tcp`: a TCP connection to ``host:port`` opens."""

    type: Literal["tcp"]
    host: str = Field(description="Host.")
    port: int = Field(ge=1, le=65535, description="Port.")


class DiskCheckConfig(HealthCheckConfig):
    """`type: disk`: the filesystem of ``path`` has free space."""

    type: Literal["disk"]
    path: str = Field(description="A path on the filesystem.")
    min_free_percent: float = Field(
        default=10.0, ge=0, le=100, description="Less free space than this is down."
    )


class CustomCheckConfig(HealthCheckConfig):
    """`type: custom`: your function decides."""

    type: Literal["custom"]
    callable: str = Field(
        description="`module:function`, sync or async; returns a detail, or False/raises."
    )

    @field_validator("callable")
    @classmethod
    def _module_function(cls, value: str) -> str:
        if ":" not in value:
            raise ValueError("callable must be `module:function`")
        return value


AnyHealthCheckConfig = Annotated[
    PostgresqlCheckConfig
    | MariadbCheckConfig
    | RedisCheckConfig
    | S3CheckConfig
    | HttpCheckConfig
    | TcpCheckConfig
    | DiskCheckConfig
    | CustomCheckConfig,
    Field(discriminator="type"),
]
"""A health check of any kind, by its ``type``."""


class HealthConfig(Section):
    """Health checks, degradation levels and feature flags."""

    checks: list[AnyHealthCheckConfig] = Field(
        default_factory=list, description="Dependencies `buttress serve` watches."
    )
    history: int = Field(default=20, ge=1, le=1000, description="Results kept per check.")
    window: int = Field(
        default=5, ge=1, le=1000, description="Latest results per check the score counts."
    )
    degradation: DegradationConfig | None = Field(
        default=None, description="Degradation levels, feature flags and limits."
    )

    @model_validator(mode="after")
    def _unique(self) -> HealthConfig:
        names = [c.name for c in self.checks]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"check names must be unique: {', '.join(twice)} declared twice")
        if self.window > self.history:
            raise ValueError("window must not be larger than history")
        return self
