"""The model of ``buttress.yaml``: one section per domain.

Every model forbids unknown keys, so a typo is an error with a "did you mean" hint rather than
a setting silently ignored. Sections that later work fills in (``resilience``, ``state``,
``health``, ``alerting``, ``incidents``, ``drills``) exist already, and accept no keys until
their domain defines them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from buttress.config._types import Cron, Duration, SecretDsn

__all__ = [
    "AlertingConfig",
    "BackupConfig",
    "BackupTarget",
    "ButtressConfig",
    "CatalogConfig",
    "DrillsConfig",
    "HealthConfig",
    "IncidentsConfig",
    "ResilienceConfig",
    "ServerConfig",
    "StateConfig",
]

DEFAULT_PORT = 8470
DEFAULT_HOST = "127.0.0.1"


class Section(BaseModel):
    """Base of every configuration section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class CatalogConfig(Section):
    """Where buttress keeps its catalog (tokens, audit log, backup runs, incidents)."""

    url: SecretDsn | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the catalog database, e.g. postgresql://user:pass@host/db. "
            "Empty: SQLite file catalog.db in the data directory (WAL mode)."
        ),
    )
    connect_timeout: Duration = Field(
        default=5.0, description="How long to wait for the catalog database to answer."
    )
    auto_migrate: bool = Field(
        default=True, description="Apply pending schema migrations when `buttress serve` starts."
    )


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


class StateConfig(Section):
    """Shared state store for resilience policies and flags (in memory unless configured)."""


class ResilienceConfig(Section):
    """Resilience policies: defaults and per-dependency pipelines."""


class HealthConfig(Section):
    """Health checks, degradation levels and feature flags."""


class BackupTarget(Section):
    """One thing to back up, on a schedule."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    source: Literal["postgresql", "mariadb", "redis", "sqlite", "mongodb", "directory"]
    schedule: Cron | None = Field(default=None, description="Cron expression; empty: manual only.")


class BackupConfig(Section):
    """Backup targets, repositories and retention."""

    targets: list[BackupTarget] = Field(default_factory=list)


class AlertingConfig(Section):
    """SLOs and alert rules, generated for Prometheus, Alertmanager and Grafana."""


class IncidentsConfig(Section):
    """Incident management, escalation and on-call."""


class DrillsConfig(Section):
    """Disaster-recovery drills, chaos experiments and load profiles."""


class ButtressConfig(Section):
    """The whole of ``buttress.yaml``."""

    data_dir: Path | None = Field(
        default=None,
        description=(
            "Directory for the SQLite catalog and local files; relative paths are relative to "
            "the config file. Default: ./.buttress (or --data-dir / BUTTRESS_DATA_DIR)."
        ),
    )
    catalog: CatalogConfig = Field(default_factory=CatalogConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    resilience: ResilienceConfig = Field(default_factory=ResilienceConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    backup: BackupConfig = Field(default_factory=BackupConfig)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    incidents: IncidentsConfig = Field(default_factory=IncidentsConfig)
    drills: DrillsConfig = Field(default_factory=DrillsConfig)
