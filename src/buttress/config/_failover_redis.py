"""A Redis primary with a replica, as the failover actions see it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from buttress.config._base import Section, Variant
from buttress.config._types import PositiveDuration, SecretDsn

__all__ = [
    "RedisFence",
    "RedisPairConfig",
    "RedisRepoint",
    "RedisRepointCommand",
    "RedisRepointHttp",
    "RedisRepointUrlFile",
    "RedisSentinelConfig",
]

RedisFence = Literal["pause", "demote", "none"]

_SCHEMES = ("redis://", "rediss://")


def _check_url(value: str) -> str:
    if not value.startswith(_SCHEMES):
        raise ValueError("expected redis://[user:password@]host:port/db or rediss://")
    return value


class RedisSentinelConfig(Section):
    """Sentinels that manage the pair: failover asks them (``SENTINEL FAILOVER``)."""

    urls: list[SecretDsn] = Field(
        min_length=1, description="redis://host:26379 of each Sentinel; the first that answers."
    )
    master: str = Field(min_length=1, description="The master name the Sentinels monitor.")
    timeout: PositiveDuration = Field(
        default=60.0, description="Longest wait for the Sentinels to report the new master."
    )

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return [_check_url(url) for url in value]


class _RepointVariant(Variant):
    variant_noun: ClassVar[str] = "repoint"


class RedisRepointCommand(_RepointVariant):
    """Repoint clients by running a program (no shell); ``{host}``, ``{port}`` and ``{url}``
    in its arguments become the new primary's (``{url}`` carries its password: prefer the
    others)."""

    type: Literal["command"]
    argv: list[str] = Field(min_length=1, description="Program and arguments.")
    timeout: PositiveDuration = Field(default=30.0, description="Longest run.")


class RedisRepointHttp(_RepointVariant):
    """Repoint clients with an HTTP call; the JSON body is ``{"host", "port", "url"}`` of the
    new primary."""

    type: Literal["http"]
    url: SecretDsn = Field(description="Where to send it.")
    method: Literal["POST", "PUT", "PATCH"] = Field(default="POST", description="HTTP method.")
    expect_status: list[int] = Field(
        default_factory=lambda: [200, 201, 202, 204], description="Statuses that mean success."
    )
    timeout: PositiveDuration = Field(default=10.0, description="Longest wait for an answer.")


class RedisRepointUrlFile(_RepointVariant):
    """Repoint clients by rewriting a file that holds the primary's URL (atomically: a new
    file renamed over the old, mode 0600, since the URL may carry a password)."""

    type: Literal["url_file"]
    path: Path = Field(description="The file applications read the Redis URL from.")


RedisRepoint = Annotated[
    RedisRepointCommand | RedisRepointHttp | RedisRepointUrlFile, Field(discriminator="type")
]


class RedisPairConfig(Section):
    """A Redis primary and its replica. Failover promotes the replica; failback makes the
    primary a replica of it, then switches back."""

    primary: SecretDsn = Field(description="redis://[user:password@]host:port/db of the primary.")
    replica: SecretDsn = Field(description="redis://[user:password@]host:port/db of the replica.")
    max_lag_bytes: int = Field(
        default=1_048_576,
        ge=0,
        description="Largest replication offset difference (bytes) a promotion accepts.",
    )
    max_lag_seconds: PositiveDuration = Field(
        default=15.0,
        description="Largest replication delay a promotion accepts: seconds since the "
        "replica's last acknowledgement (or, the primary unreachable, since it last heard "
        "from the primary, which pings every 10 s by default).",
    )
    fence: RedisFence = Field(
        default="pause",
        description="How the old primary stops taking writes: `pause` (CLIENT PAUSE WRITE "
        "for pause_seconds), `demote` (REPLICAOF the replica: writes fail with READONLY), "
        "`none`.",
    )
    pause_seconds: PositiveDuration = Field(
        default=30.0,
        description="How long a `pause` fence holds writes at most: the old primary must be "
        "re-attached within it, or it takes writes again.",
    )
    connect_timeout: PositiveDuration = Field(
        default=2.0, description="To open a connection, and to wait for an answer."
    )
    sync_timeout: PositiveDuration = Field(
        default=60.0,
        description="Longest wait for a re-attached replica to sync, or offsets to match.",
    )
    sentinel: RedisSentinelConfig | None = Field(
        default=None, description="When Sentinel manages the pair, failover asks it instead."
    )
    repoint: RedisRepoint | None = Field(
        default=None, description="How clients learn the new primary: command, http, url_file."
    )

    @field_validator("primary", "replica")
    @classmethod
    def _urls(cls, value: str) -> str:
        return _check_url(value)

    @model_validator(mode="after")
    def _distinct(self) -> RedisPairConfig:
        if self.primary == self.replica:
            raise ValueError("primary and replica are the same server")
        return self
