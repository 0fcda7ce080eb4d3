"""``state:``: where stateful policies keep their state (memory or Redis)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from buttress.config._base import Section
from buttress.config._types import PositiveDuration, SecretDsn

__all__ = ["StateConfig", "StateTls", "StateTlsConfig", "StoreFailureMode"]

StoreFailureMode = Literal["local", "allow", "deny"]


class StateTlsConfig(Section):
    """TLS to Redis (with a ``rediss://`` URL)."""

    ca_file: Path | None = Field(default=None, description="CA bundle that signed the server.")
    cert_file: Path | None = Field(default=None, description="Client certificate (mutual TLS).")
    key_file: Path | None = Field(default=None, description="Client key (mutual TLS).")
    verify: bool = Field(default=True, description="Verify the server's certificate.")


class StateConfig(Section):
    """Where stateful policies keep their state: `memory` (each process its own) or `redis`
    (shared by every process and replica; see docs/shared-state.md)."""

    backend: Literal["memory", "redis"] = Field(
        default="memory", description="`memory` or `redis`."
    )
    url: SecretDsn | None = Field(
        default=None,
        description="redis://[user:password@]host:port/db, rediss:// for TLS, "
        "redis+cluster:// (rediss+cluster://) for a node of a Redis Cluster "
        "(default redis://127.0.0.1:6379/0).",
    )
    cluster: Literal["auto", True, False] = Field(
        default="auto",
        description="`auto`: detected when the store connects (INFO cluster); `true`: a Redis "
        "Cluster; `false`: one endpoint, and a cluster node there is refused.",
    )
    prefix: str = Field(
        default="buttress",
        min_length=1,
        pattern=r"^[^{}]+$",
        description="Namespace of every key, one per application and environment (`shop:prod`).",
    )
    connect_timeout: PositiveDuration = Field(default=1.0, description="To open a connection.")
    command_timeout: PositiveDuration = Field(
        default=0.25, description="Longest wait for an answer; decisions come within it."
    )
    pool_size: int = Field(default=50, ge=1, description="Connections per client.")
    retry_interval: PositiveDuration = Field(
        default=1.0, description="After a store failure, ask the store again this often."
    )
    sync_interval: PositiveDuration = Field(
        default=0.1, description="Breaker and budget outcomes are sent this often."
    )
    on_store_failure: StoreFailureMode = Field(
        default="local",
        description="While Redis does not answer: `local` (in-process state), `allow`, `deny`. "
        "Policies may override it.",
    )
    tls: StateTlsConfig | None = None

    @model_validator(mode="after")
    def _url_matches_backend(self) -> StateConfig:
        schemes = ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")
        if self.url is not None and not self.url.startswith(schemes):
            raise ValueError(
                "url: expected redis://, rediss://, unix://, redis+cluster:// or rediss+cluster://"
            )
        if self.url is not None and "+cluster://" in self.url and self.cluster is False:
            raise ValueError("cluster: false contradicts the url's +cluster:// scheme")
        if self.url is not None and self.url.startswith("unix://") and self.cluster is True:
            raise ValueError("cluster: true needs a TCP url (a Redis Cluster has no unix socket)")
        return self


StateTls = StateTlsConfig  # the name before the naming convention (docs/architecture.md)
