"""Configuration: one YAML file (``buttress.yaml``), one pydantic model, precise errors.

>>> from buttress.config import load_text
>>> load_text("server: {port: 9000}").server.port
9000
"""

from buttress.config._loader import (
    CONFIG_ENV,
    DEFAULT_FILE,
    format_path,
    load,
    load_text,
    resolve_path,
)
from buttress.config._models import (
    AlertingConfig,
    BackupConfig,
    BackupDestination,
    BackupTarget,
    ButtressConfig,
    CatalogConfig,
    DegradationConfig,
    DrillsConfig,
    HealthCheckConfig,
    HealthConfig,
    IncidentsConfig,
    ResilienceConfig,
    ServerConfig,
    StateConfig,
)
from buttress.config._types import Cron, Duration, SecretDsn, SecretText, parse_duration
from buttress.errors import ConfigError, ConfigIssue

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_FILE",
    "AlertingConfig",
    "BackupConfig",
    "BackupDestination",
    "BackupTarget",
    "ButtressConfig",
    "CatalogConfig",
    "ConfigError",
    "ConfigIssue",
    "Cron",
    "DegradationConfig",
    "DrillsConfig",
    "Duration",
    "HealthCheckConfig",
    "HealthConfig",
    "IncidentsConfig",
    "ResilienceConfig",
    "SecretDsn",
    "SecretText",
    "ServerConfig",
    "StateConfig",
    "format_path",
    "load",
    "load_text",
    "parse_duration",
    "resolve_path",
]
