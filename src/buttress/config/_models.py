"""The model of ``buttress.yaml``: one section per domain.

Every model forbids unknown keys, so a typo is an error with a "did you mean" hint rather than
a setting silently ignored. Sections that later work fills in (``resilience``, ``state``,
``health``, ``alerting``, ``incidents``, ``drills``) exist already, and accept no keys until
their domain defines them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from buttress.config._types import Cron, Duration, SecretDsn, SecretText, refuse_seconds
from buttress.errors import ConfigIssue

__all__ = [
    "AlertingConfig",
    "BackupConfig",
    "BackupDestination",
    "BackupRetention",
    "BackupTarget",
    "ButtressConfig",
    "CatalogConfig",
    "DegradationConfig",
    "DrillsConfig",
    "HealthCheckConfig",
    "HealthConfig",
    "IncidentsConfig",
    "ResilienceConfig",
    "ServerConfig",
    "StateConfig",
]

DEFAULT_PORT = 8470
DEFAULT_HOST = "127.0.0.1"
_POLICY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _raise_at(title: str, errors: list[tuple[tuple[str | int, ...], str]]) -> None:
    """Report ``errors`` (location inside the model being validated, message) at once, so the
    loader points at the line of the very field rather than at its section."""
    if errors:
        raise ValidationError.from_exception_data(
            title,
            [
                InitErrorDetails(
                    type=PydanticCustomError("config", "{message}", {"message": message}),
                    loc=loc,
                    input=None,  # never echoed: a recipient list may hold a pasted private key
                )
                for loc, message in errors
            ],
        )


def _checking_files(info: ValidationInfo) -> bool:
    """True for ``config check``: the files the config names are read now, not at run time."""
    return isinstance(info.context, dict) and bool(info.context.get("check_files"))


class Section(BaseModel):
    """Base of every configuration section: unknown keys are errors, values are frozen, and
    every number is finite (``nan``/``inf`` are refused in every float field, durations too)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )


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
        default=True,
        description="Apply pending schema migrations when `buttress serve` or a command opens it.",
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
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1,
        le=1024**3,
        description="Largest request body accepted (bytes); a larger one gets 413.",
    )
    body_timeout: Duration = Field(
        default=30.0, gt=0, description="How long a request body may take to arrive (408 after)."
    )
    header_timeout: Duration = Field(
        default=10.0,
        gt=0,
        description="How long a client may take to send a request's headers (then it is cut off).",
    )
    keep_alive_timeout: Duration = Field(
        default=5.0, gt=0, description="How long an idle keep-alive connection stays open."
    )
    leader_lease: Duration = Field(
        default=5.0,
        gt=0,
        description=(
            "With several replicas on one catalog: how long the elected leader (the one that "
            "runs scheduled jobs) keeps leading without renewing; the longest failover gap when "
            "it dies on another host (docs/replicas.md)."
        ),
    )
    leader_renew: Duration = Field(
        default=1.0,
        gt=0,
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


StoreFailureMode = Literal["local", "allow", "deny"]


class StateTls(Section):
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
    connect_timeout: Duration = Field(default=1.0, gt=0, description="To open a connection.")
    command_timeout: Duration = Field(
        default=0.25, gt=0, description="Longest wait for an answer; decisions come within it."
    )
    pool_size: int = Field(default=50, ge=1, description="Connections per client.")
    retry_interval: Duration = Field(
        default=1.0, gt=0, description="After a store failure, ask the store again this often."
    )
    sync_interval: Duration = Field(
        default=0.1, gt=0, description="Breaker and budget outcomes are sent this often."
    )
    on_store_failure: StoreFailureMode = Field(
        default="local",
        description="While Redis does not answer: `local` (in-process state), `allow`, `deny`. "
        "Policies may override it.",
    )
    tls: StateTls | None = None

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


class RetrySpec(Section):
    """Retry settings; unset fields inherit from ``resilience.defaults.retry``."""

    enabled: bool | None = Field(default=None, description="false turns retry off for this policy.")
    attempts: int | None = Field(
        default=None, ge=1, description="Total attempts, first included (3)."
    )
    backoff: Literal["constant", "linear", "exponential"] | None = Field(
        default=None, description="Shape of the waits (exponential)."
    )
    delay: Duration | None = Field(default=None, description="First wait (100ms).")
    max_delay: Duration | None = Field(default=None, description="Longest wait (30s).")
    jitter: Literal["none", "full", "equal", "decorrelated"] | None = Field(
        default=None, description="How waits are spread (full)."
    )
    deadline: Duration | None = Field(default=None, description="No attempt starts after this.")
    budget_ratio: float | None = Field(
        default=None, ge=0, description="Retry budget: share of recent calls that may be retried."
    )
    budget_min_per_second: float | None = Field(
        default=None, ge=0, description="Retry budget floor, retries per second (10)."
    )


class CircuitBreakerSpec(Section):
    """Circuit-breaker settings; unset fields inherit from the defaults."""

    enabled: bool | None = None
    failure_rate: float | None = Field(default=None, gt=0, le=100, description="Percent (50).")
    slow_call_rate: float | None = Field(default=None, gt=0, le=100, description="Percent (100).")
    slow_call_duration: Duration | None = Field(default=None, description="Slow above this.")
    window: Literal["count", "time"] | None = Field(default=None, description="count or time.")
    window_size: int | None = Field(default=None, ge=1, description="Calls or seconds (100).")
    minimum_calls: int | None = Field(default=None, ge=1, description="Before judging (10).")
    wait: Duration | None = Field(default=None, description="Open for this long (60s).")
    wait_multiplier: float | None = Field(default=None, ge=1, description="Growth per re-open (1).")
    max_wait: Duration | None = Field(default=None, description="Cap of the growing wait.")
    half_open_calls: int | None = Field(default=None, ge=1, description="Probe calls (10).")


class TimeoutSpec(Section):
    """Timeout settings."""

    enabled: bool | None = None
    seconds: Duration | None = Field(default=None, description="Time allowed per call.")
    hard: bool | None = Field(default=None, description="Sync calls in a worker thread.")


class BulkheadSpec(Section):
    """Bulkhead settings."""

    enabled: bool | None = None
    max_concurrent: int | None = Field(default=None, ge=1, description="Calls at once (10).")
    max_queue: int | None = Field(default=None, ge=0, description="Calls allowed to wait (0).")
    max_wait: Duration | None = Field(default=None, description="Longest wait in the queue.")
    on_full: Literal["reject_newest", "drop_oldest"] | None = None
    lease: Duration | None = Field(
        default=None, gt=0, description="Shared state: a dead holder's permit returns after (30s)."
    )


class RateLimitSpec(Section):
    """Rate-limit settings (the global key of the policy)."""

    enabled: bool | None = None
    algorithm: (
        Literal[
            "token_bucket",
            "gcra",
            "fixed_window",
            "sliding_window",
            "sliding_window_counter",
            "leaky_bucket",
        ]
        | None
    ) = Field(default=None, description="Algorithm (token_bucket).")
    rate: float | None = Field(default=None, gt=0, description="Permits per `per` (or per window).")
    per: Duration | None = Field(default=None, description="Period of `rate` / the window (1s).")
    burst: float | None = Field(default=None, gt=0, description="Bucket size / queue capacity.")


class PolicySpec(Section):
    """One named pipeline: which policies, with which settings."""

    retry: RetrySpec | None = None
    circuit_breaker: CircuitBreakerSpec | None = None
    timeout: TimeoutSpec | None = None
    bulkhead: BulkheadSpec | None = None
    rate_limit: RateLimitSpec | None = None
    shared: bool | None = Field(
        default=None,
        description="Keep this policy's state in the `state` store (default: yes when the "
        "backend is redis); false keeps it in each process.",
    )
    on_store_failure: StoreFailureMode | None = Field(
        default=None, description="Overrides `state.on_store_failure` for this policy."
    )


class ResilienceConfig(Section):
    """Resilience policies: defaults, plus named per-dependency policies that override them.

    A named policy is a pipeline of every policy kind set in ``defaults`` or in its own entry
    (``enabled: false`` drops one), in the order fallback, retry, circuit breaker, timeout,
    bulkhead, rate limiter. Reach it with ``buttress.resilience.policy("name")``.
    """

    defaults: PolicySpec = Field(
        default_factory=PolicySpec, description="Settings every named policy starts from."
    )
    policies: dict[str, PolicySpec] = Field(
        default_factory=dict,
        description="Named policies, e.g. `database:`; each has the shape of `defaults`.",
    )

    @model_validator(mode="after")
    def _build_every_policy(self) -> ResilienceConfig:
        if not self.policies:
            return self  # nothing to build (and the resilience package is not imported)
        from buttress.resilience.registry import build_pipeline  # deferred: config stays light

        for name in self.policies:
            if not _POLICY_NAME.fullmatch(name):
                raise ValueError(f"policy name {name!r}: use letters, digits, '_', '-' and '.'")
            build_pipeline(self, name)  # every setting combination is checked at load time
        return self


_CHECK_NEEDS: dict[str, tuple[str, ...]] = {
    "postgresql": ("dsn",),
    "mariadb": ("dsn",),
    "redis": ("dsn",),
    "s3": ("bucket",),
    "http": ("url",),
    "tcp": ("host", "port"),
    "disk": ("path",),
    "custom": ("callable",),
}


class HealthCheckConfig(Section):
    """One dependency `buttress serve` watches."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    type: Literal["postgresql", "mariadb", "redis", "s3", "http", "tcp", "disk", "custom"]
    dsn: SecretDsn | None = Field(
        default=None, description="postgresql/mariadb/redis: the server's DSN or URL."
    )
    url: str | None = Field(default=None, description="http: the URL to GET.")
    expect_status: list[int] = Field(
        default_factory=lambda: [200], description="http: statuses that count as up."
    )
    host: str | None = Field(default=None, description="tcp: host.")
    port: int | None = Field(default=None, ge=1, le=65535, description="tcp: port.")
    path: str | None = Field(default=None, description="disk: a path on the filesystem.")
    min_free_percent: float = Field(
        default=10.0, ge=0, le=100, description="disk: less free space than this is down."
    )
    bucket: str | None = Field(default=None, description="s3: the bucket.")
    endpoint_url: str | None = Field(default=None, description="s3: S3-compatible endpoint.")
    region: str | None = Field(default=None, description="s3: region.")
    access_key_id: str | None = Field(default=None, description="s3: access key id.")
    secret_access_key: SecretText | None = Field(default=None, description="s3: secret key.")
    callable: str | None = Field(
        default=None,
        description="custom: `module:function`, sync or async; returns a detail, or False/raises.",
    )
    interval: Duration = Field(default=10.0, gt=0, description="Time between runs.")
    timeout: Duration = Field(default=2.0, gt=0, description="Longest a run may take.")
    weight: float = Field(default=1.0, ge=0, description="Share of the health score.")
    critical: bool = Field(default=False, description="Down means not ready (/readyz 503).")
    slow: Duration | None = Field(
        default=None, gt=0, description="Answers slower than this count as degraded."
    )

    @model_validator(mode="after")
    def _type_settings(self) -> HealthCheckConfig:
        missing = [f for f in _CHECK_NEEDS[self.type] if getattr(self, f) is None]
        if missing:
            raise ValueError(
                f"check {self.name!r}: a {self.type} check needs "
                + ", ".join(f"`{m}`" for m in missing)
            )
        if self.timeout > self.interval:
            raise ValueError(
                f"check {self.name!r}: timeout ({self.timeout:g}s) is longer than interval "
                f"({self.interval:g}s)"
            )
        if self.callable is not None and ":" not in self.callable:
            raise ValueError(f"check {self.name!r}: callable must be `module:function`")
        return self


BUILTIN_METRICS = ("cpu_usage", "memory_usage", "error_rate", "response_time_p95", "health_score")


def _presets() -> dict[str, tuple[str, ...]]:
    from buttress.degradation.levels import PRESETS  # deferred: only degradation configs pay

    return PRESETS


class TriggerBound(Section):
    """A threshold with an explicit direction."""

    above: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _one(self) -> TriggerBound:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of `above` or `below`")
        return self


def _threshold(value: object) -> object:
    """Numbers stay numbers; ``2000ms``/``2s`` become seconds (for response_time_p95)."""
    if isinstance(value, str):
        from buttress.config._types import parse_duration

        return parse_duration(value)
    return value


Threshold = Annotated[float | TriggerBound, BeforeValidator(_threshold)]


class LevelSettings(Section):
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
    cooldown: Duration = Field(default=120.0, gt=0, description="Default cooldown.")
    evaluate_every: Duration = Field(default=5.0, gt=0, description="Time between evaluations.")
    hooks: list[str] = Field(
        default_factory=list,
        description="`module:function` called with each LevelChanged event (alerts, incidents).",
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
    level: dict[str, LevelSettings] = Field(
        default_factory=dict, description="Per level name: its triggers, features and limits."
    )

    @property
    def names(self) -> list[str]:
        return list(_presets()[self.levels]) if isinstance(self.levels, str) else self.levels

    @model_validator(mode="after")
    def _consistent(self) -> DegradationConfig:
        if isinstance(self.levels, str) and self.levels not in _presets():
            raise ValueError(
                f"levels: unknown preset {self.levels!r} (presets: {', '.join(_presets())}; "
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


class HealthConfig(Section):
    """Health checks, degradation levels and feature flags."""

    checks: list[HealthCheckConfig] = Field(
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


_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_SOURCE_FIELDS: dict[str, tuple[str, ...]] = {
    "postgresql": ("dsn", "globals", "jobs", "restore_jobs", "tmp_dir"),
    "mariadb": ("dsn", "consistent_counts", "lock_timeout"),
    "redis": ("dsn", "tmp_dir"),
    "mongodb": ("dsn", "oplog"),
    "sqlite": ("path",),
    "directory": ("path", "include", "exclude"),
}
"""The one table of which source reads which target field: a field set on a target whose
source ignores it is an error rather than a setting that silently does nothing."""
_SOURCE_NEEDS = {
    "postgresql": "dsn",
    "mariadb": "dsn",
    "redis": "dsn",
    "mongodb": "dsn",
    "sqlite": "path",
    "directory": "path",
}
_S3_ONLY = (
    "bucket",
    "prefix",
    "endpoint_url",
    "region",
    "access_key_id",
    "secret_access_key",
    "storage_class",
    "part_size_mb",
    "concurrency",
    "max_attempts",
    "connect_timeout",
    "read_timeout",
    "object_deadline",
)


class BackupDestination(Section):
    """A place backups are stored: a directory (`type: local`) or an S3-compatible bucket."""

    # ${VAR}s left unset in this destination (set by the loader): an error only where it is used
    _unresolved: tuple[ConfigIssue, ...] = PrivateAttr(default=())

    @property
    def unresolved(self) -> tuple[ConfigIssue, ...]:
        """Its unset ``${VAR}``s, each with file:line: commands that use it fail with them."""
        return self._unresolved

    name: str = Field(min_length=1, pattern=_NAME)
    type: Literal["local", "s3"] = Field(
        default="local", description="`local` (a directory) or `s3` (S3-compatible storage)."
    )
    path: Path | None = Field(default=None, description="local: directory of the repository.")
    bucket: str | None = Field(default=None, description="s3: an existing bucket.")
    prefix: str = Field(default="", description="s3: key prefix inside the bucket.")
    endpoint_url: str | None = Field(
        default=None, description="s3: endpoint of an S3-compatible service (empty: AWS)."
    )
    region: str | None = Field(default=None, description="s3: the bucket's region.")
    access_key_id: str | None = Field(
        default=None, description="s3: access key id (empty: AWS_ACCESS_KEY_ID, profile, role)."
    )
    secret_access_key: SecretText | None = Field(
        default=None, description="s3: secret key (empty: AWS_SECRET_ACCESS_KEY...)."
    )
    storage_class: str | None = Field(
        default=None, description="s3: STANDARD, STANDARD_IA, GLACIER_IR... (empty: bucket's)."
    )
    part_size_mb: int = Field(default=8, ge=5, le=5120, description="s3: multipart part size.")
    concurrency: int = Field(default=4, ge=1, le=64, description="s3: parts uploaded at once.")
    max_attempts: int = Field(
        default=5, ge=1, le=20, description="s3: attempts per request (with backoff)."
    )
    connect_timeout: Duration = Field(
        default=5.0, gt=0, allow_inf_nan=False, description="s3: to open a connection."
    )
    read_timeout: Duration = Field(
        default=15.0,
        gt=0,
        allow_inf_nan=False,
        description="s3: longest wait for the endpoint on an open connection (each read/write).",
    )
    object_deadline: Duration = Field(
        default=45.0,
        gt=0,
        allow_inf_nan=False,
        description="s3: time allowed to one request on an object, every retry included; no "
        "attempt starts that could not end in time (a hung endpoint fails within it).",
    )

    @model_validator(mode="after")
    def _type_settings(self) -> BackupDestination:
        if self.type == "local":
            if self.path is None:
                raise ValueError(f"destination {self.name!r}: a local destination needs `path`")
            extra = [f for f in _S3_ONLY if f in self.model_fields_set]
            if extra:
                raise ValueError(
                    f"destination {self.name!r}: {', '.join(extra)} apply to `type: s3` only"
                )
        elif self.bucket is None:
            raise ValueError(f"destination {self.name!r}: an s3 destination needs `bucket`")
        elif self.path is not None:
            raise ValueError(f"destination {self.name!r}: `path` applies to `type: local` only")
        return self


class BackupRetention(Section):
    """How many backups `buttress backup prune` keeps (restic's rules; periods in UTC). The
    newest backup and the newest verified backup are always kept; no rule: nothing is removed."""

    keep_last: int = Field(default=0, ge=0, description="The N newest backups.")
    keep_hourly: int = Field(default=0, ge=0, description="The newest of each of N hours.")
    keep_daily: int = Field(default=0, ge=0, description="The newest of each of N days.")
    keep_weekly: int = Field(default=0, ge=0, description="The newest of each of N ISO weeks.")
    keep_monthly: int = Field(default=0, ge=0, description="The newest of each of N months.")
    keep_yearly: int = Field(default=0, ge=0, description="The newest of each of N years.")
    keep_within: Duration | None = Field(
        default=None, gt=0, description="Every backup within this long of the newest (`30d`)."
    )


class BackupTarget(Section):
    """One thing to back up, on a schedule."""

    name: str = Field(min_length=1, pattern=_NAME)
    source: Literal["postgresql", "mariadb", "redis", "sqlite", "mongodb", "directory"]
    schedule_seconds: bool = Field(
        default=False,
        description=(
            "Let the schedules have a sixth field, seconds, LAST (croniter's order, not "
            "Quartz's): they may fire more than once a minute (for tests and demos)."
        ),
    )
    schedule: Cron | None = Field(
        default=None,
        description=(
            "When `buttress serve` backs it up: cron, five fields (minute hour day-of-month "
            "month day-of-week), UTC, e.g. '0 3 * * *'; empty: manual. `config check` prints "
            "the next three times."
        ),
    )
    restore_test_schedule: Cron | None = Field(
        default=None,
        description=(
            "When `buttress serve` restore-tests its newest good backup: cron, five fields "
            "(minute hour day-of-month month day-of-week), UTC, e.g. '0 5 * * 0'."
        ),
    )

    @field_validator("schedule", "restore_test_schedule")
    @classmethod
    def _at_most_once_a_minute(cls, value: str | None, info: ValidationInfo) -> str | None:
        return value if info.data.get("schedule_seconds") else refuse_seconds(value)

    dsn: SecretDsn | None = Field(
        default=None,
        description=(
            "postgresql/mariadb/redis/mongodb: the server's DSN (`mariadb://user:pw@host:3306/db`, "
            "`redis://:pw@host:6379`)."
        ),
    )
    path: Path | None = Field(default=None, description="sqlite: the file; directory: the tree.")
    include: list[str] = Field(default_factory=list, description="directory: globs to keep.")
    exclude: list[str] = Field(default_factory=list, description="directory: globs to leave out.")
    globals: bool = Field(default=True, description="postgresql: also roles and tablespaces.")
    jobs: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "postgresql: parallel pg_dump/pg_restore jobs; above 1 the dump is taken in directory "
            "format (in `tmp_dir` first, then streamed) and restored with pg_restore --jobs."
        ),
    )
    restore_jobs: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description=(
            "postgresql: pg_restore processes a restore runs at once (default: `jobs`). Above 1 "
            "a custom-format dump is restored in parallel as it streams: tables load side by "
            "side, then indexes and constraints (`tmp_dir` holds what waits)."
        ),
    )
    consistent_counts: bool = Field(
        default=True,
        description=(
            "mariadb: hold a global read lock (milliseconds) while the dump's snapshot opens, "
            "so the recorded row counts are exact."
        ),
    )
    oplog: bool = Field(
        default=False, description="mongodb: dump with --oplog (replica sets: a point in time)."
    )
    tmp_dir: Path | None = Field(
        default=None,
        description=(
            "redis, postgresql with jobs > 1: where the dump waits while it is stored; "
            "postgresql restores with restore_jobs > 1: the TOC and table data waiting for a job."
        ),
    )
    lock_timeout: Duration = Field(
        default=10.0, gt=0, description="mariadb: longest wait for that lock and snapshot."
    )
    destinations: list[str] = Field(
        default_factory=list, description="Destination names (default: every destination)."
    )
    required: int | None = Field(
        default=None, ge=1, description="Destinations that must succeed (default: all)."
    )
    level: int = Field(default=3, ge=1, le=22, description="zstd level.")
    threads: int = Field(default=-1, ge=-1, description="zstd threads (-1: one per core).")
    object_size_mb: int = Field(default=64, ge=1, description="Split stored streams (MiB).")
    retention: BackupRetention = Field(
        default_factory=BackupRetention, description="What `buttress backup prune` keeps."
    )

    @model_validator(mode="after")
    def _source_settings(self) -> BackupTarget:
        needed = _SOURCE_NEEDS.get(self.source)
        if needed is None:
            raise ValueError(f"source {self.source!r} is not supported by this version yet")
        if getattr(self, needed) is None:
            raise ValueError(f"a {self.source} target needs `{needed}`")
        own = _SOURCE_FIELDS[self.source]
        errors: list[tuple[tuple[str | int, ...], str]] = []
        for field in type(self).model_fields:  # declaration order: stable messages
            users = [s for s, fields in _SOURCE_FIELDS.items() if field in fields]
            if field in self.model_fields_set and users and field not in own:
                errors.append(
                    (
                        (field,),
                        f"`{field}` does not apply to a {self.source} target "
                        f"(only {', '.join(users)})",
                    )
                )
        _raise_at("BackupTarget", errors)
        return self


class BackupConfig(Section):
    """Backup targets, where they go, and the keys that encrypt them."""

    recipients: list[str] = Field(
        default_factory=list,
        description="age public keys (age1...) or files of them: every backup is encrypted to all.",
    )
    identity_files: list[Path] = Field(
        default_factory=list,
        description="age identity files (private keys) for restore and restore tests.",
    )
    passphrase: SecretText | None = Field(
        default=None,
        description=(
            "Also encrypt every backup so that this passphrase opens it (age scrypt); use "
            "`${VAR}` rather than writing it here."
        ),
    )
    passphrase_file: Path | None = Field(
        default=None, description="A file whose first line is the passphrase (instead)."
    )
    manifest_key_file: Path | None = Field(
        default=None,
        description=(
            "The manifest key (32 random bytes, hex) that authenticates every backup's "
            "manifest; created (0600) by the first backup when missing. Default: "
            "manifest.key in the data directory. Keep a copy offline with the identity."
        ),
    )
    destinations: list[BackupDestination] = Field(default_factory=list)
    targets: list[BackupTarget] = Field(default_factory=list)
    max_parallel: int = Field(
        default=2, ge=1, le=32, description="Scheduled jobs `buttress serve` runs at once."
    )
    restore_roots: list[Path] = Field(
        default_factory=list,
        description=(
            "Absolute directories that restores through the API (directory, sqlite, redis "
            "targets) write inside (default: `restored` in the data directory). Not the CLI."
        ),
    )
    restore_servers: list[str] = Field(
        default_factory=list,
        description=(
            "Servers (`host:port`) that restores through the API may connect to besides each "
            "target's own (postgresql, mariadb, mongodb). Not the CLI."
        ),
    )

    @field_validator("restore_roots")
    @classmethod
    def _absolute_roots(cls, roots: list[Path]) -> list[Path]:
        for root in roots:
            if "\0" in str(root):
                raise ValueError("a restore root holds a NUL byte")
            if not root.is_absolute():
                raise ValueError(f"{str(root)[:200]!r} is not an absolute path")
        return roots

    @field_validator("destinations")
    @classmethod
    def _unique_destinations(cls, destinations: list[BackupDestination]) -> list[BackupDestination]:
        seen: set[str] = set()
        errors: list[tuple[tuple[str | int, ...], str]] = []
        for i, destination in enumerate(destinations):
            if destination.name in seen:
                errors.append(
                    (
                        (i, "name"),
                        f"destination {destination.name!r} is "
                        "declared twice (names must be unique)",
                    )
                )
            seen.add(destination.name)
        _raise_at("BackupConfig", errors)
        return destinations

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, values: list[str], info: ValidationInfo) -> list[str]:
        from buttress.backup.errors import BackupError
        from buttress.backup.keys import parse_recipient, parse_recipients

        errors: list[tuple[tuple[str | int, ...], str]] = []
        for i, value in enumerate(values):
            if value.startswith("AGE-SECRET-KEY-"):
                errors.append(
                    (
                        (i,),
                        "this is a private key (AGE-SECRET-KEY-...): put its public key "
                        "(age1...) here, and the private key in an identity file",
                    )
                )
                continue
            try:
                if value.startswith("age1"):
                    parse_recipient(value)  # the parser backups use
                elif _checking_files(info):
                    parse_recipients([value])  # a file of keys, read as a backup reads it
            except BackupError as exc:
                errors.append(((i,), str(exc)))
            except ImportError:  # pyrage missing: a backup run says which extra to install
                break
        _raise_at("BackupConfig", errors)
        return values

    @field_validator("identity_files")
    @classmethod
    def _identities(cls, paths: list[Path], info: ValidationInfo) -> list[Path]:
        if not _checking_files(info):
            return paths  # read when a restore needs them, with its own clear message
        from buttress.backup.errors import BackupError
        from buttress.backup.keys import load_identities

        errors: list[tuple[tuple[str | int, ...], str]] = []
        for i, path in enumerate(paths):
            try:
                load_identities([path])
            except BackupError as exc:
                errors.append(((i,), str(exc)))
            except ImportError:  # pyrage missing: only say whether the file can be read
                try:
                    path.read_bytes()
                except OSError as err:
                    errors.append(((i,), f"identity file {path}: {err.strerror}"))
        _raise_at("BackupConfig", errors)
        return paths

    @field_validator("passphrase_file")
    @classmethod
    def _passphrase_file(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        if path is not None and _checking_files(info):
            try:
                path.read_bytes()
            except OSError as exc:
                raise ValueError(f"{path}: {exc.strerror}") from None
        return path

    @field_validator("restore_servers")
    @classmethod
    def _servers(cls, servers: list[str]) -> list[str]:
        from buttress.backup.endpoints import parse_server

        for server in servers:
            parse_server(server)  # a ValueError names the entry and the form expected
        return servers

    @model_validator(mode="after")
    def _references(self) -> BackupConfig:
        if self.passphrase is not None and self.passphrase_file is not None:
            raise ValueError("set passphrase or passphrase_file, not both")
        known = {d.name for d in self.destinations}
        names: set[str] = set()
        for target in self.targets:
            if target.name in names:
                raise ValueError(f"target {target.name!r} is declared twice")
            names.add(target.name)
            for ref in target.destinations:
                if ref not in known:
                    raise ValueError(
                        f"target {target.name!r}: unknown destination {ref!r} "
                        f"(declared: {', '.join(sorted(known)) or 'none'})"
                    )
            count = len(target.destinations or known)
            if target.required is not None and target.required > count:
                raise ValueError(
                    f"target {target.name!r}: required={target.required} but only {count} "
                    "destinations"
                )
        return self


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
    _file: Path | None = PrivateAttr(default=None)  # set by load(): the file it was read from

    @property
    def base_dir(self) -> Path | None:
        """The directory of the file this configuration was read from (None: built in)."""
        return self._file.parent if self._file is not None else None

    @field_validator("data_dir", mode="before")
    @classmethod
    def _data_dir_not_empty(cls, value: object) -> object:
        # Path("") is the working directory: an empty value (often an unset ${VAR}) would
        # put the catalog wherever the command happens to run
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty: name the data directory, or leave data_dir out")
        return value
