"""``ButtressConfig``: the whole of ``buttress.yaml``, one section per domain.

Every model forbids unknown keys, so a typo is an error with a "did you mean" hint rather than
a setting silently ignored. Sections that later work fills in (``alerting``, ``incidents``,
``drills``) exist already, and accept no keys until their domain defines them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import Field, PrivateAttr, field_validator

from buttress.config._alerting import AlertingConfig
from buttress.config._backup import BackupConfig
from buttress.config._base import Section
from buttress.config._catalog import CatalogConfig
from buttress.config._drills import DrillsConfig
from buttress.config._health import HealthConfig
from buttress.config._incidents import IncidentsConfig
from buttress.config._resilience import ResilienceConfig
from buttress.config._runbooks import RunbooksConfig
from buttress.config._server import ServerConfig
from buttress.config._state import StateConfig
from buttress.errors import ConfigIssue

__all__ = ["ButtressConfig", "Reporter"]

Reporter = Callable[[tuple[str | int, ...], str], ConfigIssue]
"""Places a problem (path from the top of the file, message) at its file, line and column."""


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
    runbooks: RunbooksConfig = Field(default_factory=RunbooksConfig)
    _file: Path | None = PrivateAttr(default=None)  # set by load(): the file it was read from
    _filename: str = PrivateAttr(default="<config>")  # as errors name it
    _report: Reporter | None = PrivateAttr(default=None)  # set by load_text(): where a path is

    def __eq__(self, other: object) -> bool:
        # the same settings, wherever they were read from (the private attributes say where)
        return type(other) is type(self) and self.__dict__ == other.__dict__

    __hash__ = Section.__hash__

    @property
    def file(self) -> Path | None:
        """The file this configuration was read from (None: built in, or read from text)."""
        return self._file

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
