"""The errors buttress raises, as one tree.

::

    ButtressError                 every error buttress raises on purpose
    ├── ConfigError               buttress.yaml or CLI input is wrong (exit code 2)
    ├── UsageError                a command was asked for something it cannot do (exit code 2)
    │   └── ConflictError         ...because of the state things are in (API: 409)
    ├── CatalogError              the catalog database cannot be reached or used (exit code 1)
    ├── NotFoundError             a named thing (token, backup, incident...) does not exist
    ├── MissingDependencyError    an optional dependency is not installed (exit code 2): names
    │                             the extra to install (``pip install 'buttress[backup]'``)
    └── ServeError                the control plane cannot start (exit code 2 for bad input)

Every error's message is one line that names what is wrong and where, and never contains a
secret: DSNs are shown with their password replaced by ``***``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ButtressError",
    "CatalogError",
    "ConfigError",
    "ConfigIssue",
    "ConflictError",
    "MissingDependencyError",
    "NotFoundError",
    "ServeError",
    "UsageError",
]


class ButtressError(Exception):
    """Root of every error buttress raises on purpose.

    ``exit_code`` is what the CLI exits with when this error reaches it: 1 when an operation
    failed, 2 when the input (configuration, arguments) is wrong.
    """

    exit_code: int = 1


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a configuration file, located by file, line, column and field path."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else f"{self.file}:"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where} {self.message}"


class ConfigError(ButtressError):
    """The configuration is invalid; ``issues`` holds every problem found, not only the first.

    Its message shows the first :attr:`SHOWN` problems and counts the rest (:meth:`shown`).
    """

    exit_code = 2
    SHOWN = 50

    def __init__(self, issues: list[ConfigIssue] | str) -> None:
        self.issues: list[ConfigIssue] = (
            [ConfigIssue("<config>", 1, 1, "", issues)] if isinstance(issues, str) else issues
        )
        super().__init__("\n".join(self.shown()))

    def shown(self) -> list[str]:
        """The lines to print: the first :attr:`SHOWN` problems, then how many more there are."""
        lines = [str(issue) for issue in self.issues[: self.SHOWN]]
        if len(self.issues) > self.SHOWN:
            lines.append(f"... and {len(self.issues) - self.SHOWN:,} more")
        return lines


class UsageError(ButtressError):
    """A command or API call was asked for something it cannot do with the given input."""

    exit_code = 2


class ConflictError(UsageError):
    """The request cannot be done in the current state (e.g. revoking the last admin token)."""


class CatalogError(ButtressError):
    """The catalog database cannot be reached, migrated or used."""


class NotFoundError(ButtressError):
    """A named object does not exist; ``kind`` and ``key`` say which."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class ServeError(ButtressError):
    """The control plane cannot start (for example, its port is taken)."""

    exit_code = 2


# the optional dependencies, by top-level module, and the extra that installs each
_EXTRAS = {
    "pyrage": "backup",
    "zstandard": "backup",
    "boto3": "s3",
    "botocore": "s3",
    "pymysql": "mariadb",
    "pymongo": "mongodb",
    "bson": "mongodb",
    "redis": "redis",
    "hiredis": "redis",
    "fastapi": "server",
    "starlette": "server",
    "anyio": "server",
    "h11": "server",
    "uvicorn": "server",
    "sqlalchemy": "server",
    "alembic": "server",
    "prometheus_client": "server",
    "psycopg": "server",
    "httpx": "server",
    "psutil": "server",
    "opentelemetry": "otel",
    "openfeature": "openfeature",
    "grafana_foundation_sdk": "alerting",
    "jinja2": "incidents",
}


class MissingDependencyError(ButtressError):
    """An optional dependency is not installed; the message names the extra that installs it."""

    exit_code = 2

    def __init__(self, module: str, extra: str, *, needed_by: str = "this") -> None:
        super().__init__(
            f"{needed_by} needs the optional dependency {module!r}, which is not installed: "
            f"pip install 'buttress[{extra}]' (or 'buttress[all]' for everything)"
        )
        self.module = module
        self.extra = extra

    @classmethod
    def from_import(cls, exc: ImportError) -> MissingDependencyError | None:
        """The error for a failed import of an optional dependency; None for any other module
        (a missing module of buttress itself is a bug, not a missing extra)."""
        top = (exc.name or "").partition(".")[0]
        extra = _EXTRAS.get(top)
        return None if extra is None else cls(top, extra)
