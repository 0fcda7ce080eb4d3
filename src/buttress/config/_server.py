"""``server:``: the control plane started by ``buttress serve``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from buttress.config._base import Section
from buttress.config._types import Duration, PositiveDuration

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ServerConfig"]

DEFAULT_PORT = 8470
DEFAULT_HOST = "127.0.0.1"


class ServerConfig(Section):
    """The control-plane service started by `buttress serve`."""

    host: str = Field(default=DEFAULT_HOST, description="Address to bind.")
    port: int = Field(
        default=DEFAULT_PORT, ge=0, le=65535, description="TCP port (0: any free port)."
    )
    log_format: Literal["plain", "json"] = Field(default="plain", description="Log line format.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info")
    shutdown_timeout: Duration = Field(
        default=10.0, description="On SIGTERM, how long in-flight requests may take to finish."
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1,
        le=1024**3,
        description="Largest request body accepted (bytes); a larger one gets 413.",
    )
    body_timeout: PositiveDuration = Field(
        default=30.0, description="How long a request body may take to arrive (408 after)."
    )
    header_timeout: PositiveDuration = Field(
        default=10.0,
        description="How long a client may take to send a request's headers (then it is cut off).",
    )
    keep_alive_timeout: PositiveDuration = Field(
        default=5.0, description="How long an idle keep-alive connection stays open."
    )
    leader_lease: PositiveDuration = Field(
        default=5.0,
        description=(
            "With several replicas on one catalog: how long the elected leader (the one that "
            "runs scheduled jobs) keeps leading without renewing; the failover gap when its "
            "host vanishes without closing its connections (docs/replicas.md)."
        ),
    )
    leader_renew: PositiveDuration = Field(
        default=1.0,
        description="How often the leader renews its lease and looks for due jobs (< lease).",
    )

    @model_validator(mode="after")
    def _renew_within_lease(self) -> ServerConfig:
        if self.leader_renew >= self.leader_lease:
            raise ValueError(
                f"leader_renew ({self.leader_renew:g}s) must be shorter than leader_lease "
                f"({self.leader_lease:g}s): the leader renews several times per lease"
            )
        return self
