"""Configuration: one YAML file (``buttress.yaml``), one pydantic model, precise errors.

>>> from buttress.config import load_text
>>> load_text("server: {port: 9000}").server.port
9000

One module per section (``_catalog``, ``_server``, ``_state``, ``_resilience``, ``_health``,
``_degradation``, ``_backup`` and the reserved ``_alerting``, ``_incidents``, ``_drills``),
assembled by :class:`ButtressConfig` (``_root``); every name is imported from here. This
package imports no domain package: checks that need a domain's code (building the resilience
pipelines, parsing age recipients...) are the domain's, run by the validation step
(:func:`validate`, :func:`register_check`) that :func:`load` ends with.

Naming convention (docs/architecture.md, "Configuration models"):

- ``<Thing>Config``: a pydantic model of a part of buttress.yaml (``RetryConfig``,
  ``BackupConfig``, ``HttpCheckConfig``); it checks the shape of the file only.
- ``Any<Thing>Config``: the discriminated union of the kinds of one list item
  (``AnyHealthCheckConfig`` by ``type``); ``<Thing>Config`` is then their common base.
- ``<Thing>Options``: the frozen dataclass a domain object is built from (``RetryOptions``,
  ``CircuitBreakerOptions``); its ``__post_init__`` is the one check of a policy's limits.

The older names (``RetrySpec``, ``PolicySpec``, ``BackupTarget``, ``LevelSettings``...) stay as
aliases.
"""

from buttress._levels import LEVEL_PRESETS
from buttress.config._alerting import AlertingConfig
from buttress.config._alertmanager import (
    AlertmanagerConfig,
    AnyReceiverConfig,
    ButtressReceiverConfig,
    EmailReceiverConfig,
    InhibitionConfig,
    MaintenanceWindowConfig,
    Matcher,
    PagerdutyReceiverConfig,
    ReceiverConfig,
    RouteConfig,
    SeverityConfig,
    SlackReceiverConfig,
    TimeIntervalConfig,
    WebhookReceiverConfig,
    parse_matcher,
)
from buttress.config._backup import (
    AnyBackupDestinationConfig,
    AnyBackupTargetConfig,
    BackupConfig,
    BackupDestination,
    BackupDestinationConfig,
    BackupRetention,
    BackupRetentionConfig,
    BackupTarget,
    BackupTargetConfig,
    BinlogArchiveConfig,
    DirectoryTargetConfig,
    DsnTargetConfig,
    LocalDestinationConfig,
    MariadbTargetConfig,
    MongodbTargetConfig,
    PathTargetConfig,
    PostgresqlTargetConfig,
    RedisTargetConfig,
    S3DestinationConfig,
    SqliteTargetConfig,
    WalArchiveConfig,
)
from buttress.config._catalog import CatalogConfig
from buttress.config._checks import (
    ConfigCheck,
    Problem,
    register_check,
    registered_checks,
    validate,
)
from buttress.config._degradation import (
    BUILTIN_METRICS,
    DegradationConfig,
    LevelConfig,
    LevelSettings,
    TriggerBound,
    TriggerBoundConfig,
)
from buttress.config._drills import DrillsConfig
from buttress.config._health import (
    AnyHealthCheckConfig,
    CustomCheckConfig,
    DiskCheckConfig,
    HealthCheckConfig,
    HealthConfig,
    HttpCheckConfig,
    MariadbCheckConfig,
    PostgresqlCheckConfig,
    RedisCheckConfig,
    S3CheckConfig,
    TcpCheckConfig,
)
from buttress.config._incidents import IncidentsConfig
from buttress.config._loader import (
    CONFIG_ENV,
    DEFAULT_FILE,
    format_path,
    load,
    load_text,
    resolve_path,
)
from buttress.config._resilience import (
    BulkheadConfig,
    BulkheadSpec,
    CircuitBreakerConfig,
    CircuitBreakerSpec,
    PolicyConfig,
    PolicySpec,
    RateLimitConfig,
    RateLimitSpec,
    ResilienceConfig,
    RetryConfig,
    RetrySpec,
    TimeoutConfig,
    TimeoutSpec,
)
from buttress.config._root import ButtressConfig
from buttress.config._runbooks import ParamConfig, RunbookConfig, RunbooksConfig, StepConfig
from buttress.config._schema import json_schema
from buttress.config._server import DEFAULT_HOST, DEFAULT_PORT, ServerConfig
from buttress.config._state import StateConfig, StateTls, StateTlsConfig, StoreFailureMode
from buttress.config._types import (
    Cron,
    Duration,
    PositiveDuration,
    SecretDsn,
    SecretText,
    parse_duration,
)
from buttress.errors import ConfigError, ConfigIssue

__all__ = [
    "BUILTIN_METRICS",
    "CONFIG_ENV",
    "DEFAULT_FILE",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LEVEL_PRESETS",
    "AlertingConfig",
    "AlertmanagerConfig",
    "AnyBackupDestinationConfig",
    "AnyBackupTargetConfig",
    "AnyHealthCheckConfig",
    "AnyReceiverConfig",
    "BackupConfig",
    "BackupDestination",
    "BackupDestinationConfig",
    "BackupRetention",
    "BackupRetentionConfig",
    "BackupTarget",
    "BackupTargetConfig",
    "BinlogArchiveConfig",
    "BulkheadConfig",
    "BulkheadSpec",
    "ButtressConfig",
    "ButtressReceiverConfig",
    "CatalogConfig",
    "CircuitBreakerConfig",
    "CircuitBreakerSpec",
    "ConfigCheck",
    "ConfigError",
    "ConfigIssue",
    "Cron",
    "CustomCheckConfig",
    "DegradationConfig",
    "DirectoryTargetConfig",
    "DiskCheckConfig",
    "DrillsConfig",
    "DsnTargetConfig",
    "Duration",
    "EmailReceiverConfig",
    "HealthCheckConfig",
    "HealthConfig",
    "HttpCheckConfig",
    "IncidentsConfig",
    "InhibitionConfig",
    "LevelConfig",
    "LevelSettings",
    "LocalDestinationConfig",
    "MaintenanceWindowConfig",
    "MariadbCheckConfig",
    "MariadbTargetConfig",
    "Matcher",
    "MongodbTargetConfig",
    "PagerdutyReceiverConfig",
    "ParamConfig",
    "PathTargetConfig",
    "PolicyConfig",
    "PolicySpec",
    "PositiveDuration",
    "PostgresqlCheckConfig",
    "PostgresqlTargetConfig",
    "Problem",
    "RateLimitConfig",
    "RateLimitSpec",
    "ReceiverConfig",
    "RedisCheckConfig",
    "RedisTargetConfig",
    "ResilienceConfig",
    "RetryConfig",
    "RetrySpec",
    "RouteConfig",
    "RunbookConfig",
    "RunbooksConfig",
    "S3CheckConfig",
    "S3DestinationConfig",
    "SecretDsn",
    "SecretText",
    "ServerConfig",
    "SeverityConfig",
    "SlackReceiverConfig",
    "SqliteTargetConfig",
    "StateConfig",
    "StateTls",
    "StateTlsConfig",
    "StepConfig",
    "StoreFailureMode",
    "TcpCheckConfig",
    "TimeIntervalConfig",
    "TimeoutConfig",
    "TimeoutSpec",
    "TriggerBound",
    "TriggerBoundConfig",
    "WalArchiveConfig",
    "WebhookReceiverConfig",
    "format_path",
    "json_schema",
    "load",
    "load_text",
    "parse_duration",
    "parse_matcher",
    "register_check",
    "registered_checks",
    "resolve_path",
    "validate",
]
