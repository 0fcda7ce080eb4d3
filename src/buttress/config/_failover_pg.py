"""A PostgreSQL primary with a streaming replica, as the failover actions see it.

```yaml
runbooks:
  failover:
    postgresql:
      orders:
        primary: {dsn: "postgresql://postgres:${PG_PW}@db1:5432/postgres",
                  data_dir: /var/lib/postgresql/15/main, os_user: postgres}
        replica: {dsn: "postgresql://postgres:${PG_PW}@db2:5432/postgres",
                  data_dir: /var/lib/postgresql/15/main, os_user: postgres}
        max_lag_bytes: 1048576
        max_lag_seconds: 5s
        synchronous: true
        fence: read_only
        repoint: {dsn_file: /etc/orders/primary.dsn}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from buttress.config._base import Section
from buttress.config._types import PositiveDuration, SecretDsn

__all__ = [
    "PostgresNodeConfig",
    "PostgresPairConfig",
    "RepointCommandConfig",
    "RepointDsnFileConfig",
    "RepointHttpConfig",
    "RepointHttpRequest",
]

DEFAULT_MAX_LAG_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_LAG_SECONDS = 30.0
DEFAULT_PROMOTE_TIMEOUT = 60.0


class PostgresNodeConfig(Section):
    """One server of the pair: how to reach it, and (for fencing by stop and for the rebuild
    of failback) where its data is and how it is stopped and started."""

    dsn: SecretDsn = Field(
        description=(
            "The server's DSN, `postgresql://user:pw@host:5432/postgres` (a superuser, or a "
            "role that may run pg_promote, ALTER SYSTEM and pg_terminate_backend)."
        )
    )
    data_dir: Path | None = Field(
        default=None,
        description=(
            "Its data directory, on this host: needed to stop/start it with pg_ctl and to "
            "rebuild it (pg_rewind, pg_basebackup) when it fails back."
        ),
    )
    bin_dir: Path | None = Field(
        default=None,
        description=(
            "The PostgreSQL programs (pg_ctl, pg_rewind, pg_basebackup, pg_controldata); "
            "default: the newest /usr/lib/postgresql/*/bin, else PATH."
        ),
    )
    os_user: str | None = Field(
        default=None,
        description="Run the PostgreSQL programs as this OS user (`postgres`) via runuser.",
    )
    stop_command: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Stops the server (argv); default `pg_ctl -D data_dir -m fast -w stop`.",
    )
    start_command: list[str] | None = Field(
        default=None,
        min_length=1,
        description=(
            "Starts the server (argv); default `pg_ctl -D data_dir -l data_dir/pg_ctl.log -w "
            "start`. pg_rewind and pg_basebackup copy postgresql.conf from the other server, "
            "so settings that differ (port) belong here or in a file outside the data directory."
        ),
    )


class RepointCommandConfig(Section):
    """Repoint by running a command; `{dsn}` in an argument becomes the new primary's DSN
    (also in the environment as BUTTRESS_NEW_PRIMARY_DSN)."""

    command: list[str] = Field(min_length=1, description="argv, no shell.")
    timeout: PositiveDuration = Field(default=60.0, description="Seconds the command may take.")


class RepointHttpRequest(Section):
    """An HTTP call that repoints clients (a proxy's or a service registry's API)."""

    method: str = Field(default="POST", description="HTTP method.")
    url: SecretDsn = Field(description="The URL called.")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    body: str | None = Field(
        default=None,
        description='Request body; `{dsn}` becomes the new DSN. Default: `{"primary": DSN}`.',
    )
    expect_status: list[int] = Field(
        default_factory=lambda: [200, 201, 202, 204], description="Accepted statuses."
    )
    timeout: PositiveDuration = Field(default=10.0, description="Seconds.")


class RepointHttpConfig(Section):
    """Repoint with an HTTP call."""

    http: RepointHttpRequest = Field(description="The call made.")


class RepointDsnFileConfig(Section):
    """Repoint by rewriting a file (atomically, mode 0600) that holds the primary's DSN, which
    applications and buttress's own targets read."""

    dsn_file: Path = Field(description="The file rewritten with the new primary's DSN.")


class PostgresPairConfig(Section):
    """A PostgreSQL primary and its streaming replica."""

    primary: PostgresNodeConfig = Field(description="The server that is the primary normally.")
    replica: PostgresNodeConfig = Field(description="Its streaming standby, promoted on failover.")
    max_lag_bytes: int = Field(
        default=DEFAULT_MAX_LAG_BYTES,
        ge=0,
        description="Promotion is refused (unless forced) when the replica is further behind.",
    )
    max_lag_seconds: PositiveDuration = Field(
        default=DEFAULT_MAX_LAG_SECONDS,
        description="Promotion is refused (unless forced) when the replica lags longer.",
    )
    synchronous: bool = Field(
        default=False,
        description="The replica is expected to be a synchronous standby (the lag step checks).",
    )
    fence: Literal["read_only", "stop", "command"] = Field(
        default="read_only",
        description=(
            "How the old primary is made to refuse writes: `read_only` (ALTER SYSTEM SET "
            "default_transaction_read_only, reload, sessions terminated), `stop` (its "
            "stop_command or pg_ctl), or `command` (fence_command)."
        ),
    )
    fence_command: list[str] | None = Field(
        default=None, min_length=1, description="`fence: command`: the argv run to fence."
    )
    repoint: RepointCommandConfig | RepointHttpConfig | RepointDsnFileConfig | None = Field(
        default=None,
        description="How clients are sent to the new primary: `command`, `http` or `dsn_file`.",
    )
    rebuild: Literal["auto", "rewind", "clone"] = Field(
        default="auto",
        description=(
            "Failback's rebuild of the old primary: `rewind` (pg_rewind only), `clone` (a fresh "
            "pg_basebackup), `auto` (pg_rewind when possible, else a clone)."
        ),
    )
    promote_timeout: PositiveDuration = Field(
        default=DEFAULT_PROMOTE_TIMEOUT,
        description="Seconds to wait for promotion and for the new primary to accept writes.",
    )

    @model_validator(mode="after")
    def _fence_command_given(self) -> PostgresPairConfig:
        if self.fence == "command" and not self.fence_command:
            raise ValueError("fence: command needs fence_command (an argv list)")
        if self.fence == "stop" and self.primary.data_dir is None and not self.primary.stop_command:
            raise ValueError("fence: stop needs primary.data_dir (pg_ctl) or primary.stop_command")
        return self
