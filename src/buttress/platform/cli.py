"""What every command shares: the global options, the loaded config, the data directory."""

from __future__ import annotations

import contextlib
import getpass
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from buttress.config import ButtressConfig, load
from buttress.config._loader import DEFAULT_FILE, resolve_path
from buttress.config_checks import register_domain_checks
from buttress.errors import UsageError

if TYPE_CHECKING:
    from buttress.catalog import Catalog

__all__ = ["DEFAULT_DATA_DIR", "State", "print_table", "state"]

DEFAULT_DATA_DIR = Path(".buttress")


@dataclass
class State:
    """Global options given before the command (``buttress --config f.yaml token list``)."""

    config_path: Path | None = None
    data_dir: Path | None = None
    debug: bool = False
    _config: ButtressConfig | None = field(default=None, repr=False)

    def config_file(self) -> Path | None:
        """The file the configuration comes from: --config / $BUTTRESS_CONFIG /
        ./buttress.yaml, else the starter ``buttress.yaml`` in the data directory (written by
        the first ``buttress serve``), else ``None`` (built-in defaults)."""
        found = resolve_path(self.config_path)
        if found is None:
            starter = (self.data_dir or DEFAULT_DATA_DIR) / DEFAULT_FILE
            found = starter if starter.is_file() else None
        return found

    @property
    def config(self) -> ButtressConfig:
        """The configuration, loaded on first use (raises ConfigError with every problem)."""
        if self._config is None:
            register_domain_checks()  # the validation step checks what needs domain code
            config = load(self.config_file())
            if config.backup.manifest_key_file is None:  # its default lives in the data dir
                where = (self.data_dir or config.data_dir or DEFAULT_DATA_DIR) / "manifest.key"
                backup = config.backup.model_copy(update={"manifest_key_file": where})
                config = config.model_copy(update={"backup": backup})
            self._config = config
        return self._config

    def resolved_data_dir(self) -> Path:
        """--data-dir / $BUTTRESS_DATA_DIR, else ``data_dir`` from the config, else ./.buttress."""
        return self.data_dir or self.config.data_dir or DEFAULT_DATA_DIR

    @contextlib.contextmanager
    def catalog(self, migrate: bool = True, *, create: bool = False) -> Iterator[Catalog]:
        """The catalog, opened, checked to answer and (with ``migrate``) brought to this
        version's schema as ``catalog.auto_migrate`` says; its connections are closed on exit.
        Which catalog is printed on stderr (one line). Without ``create`` (only ``db upgrade``
        creates one), a new SQLite catalog in the default data directory, with no config
        file saying where, is refused rather than created silently."""
        from buttress.catalog.engine import SQLITE_FILE
        from buttress.platform.catalog import open_catalog, ready_catalog

        data_dir = self.resolved_data_dir()
        if (
            not create
            and not self.config.catalog.url
            and self.data_dir is None
            and self.config.data_dir is None
            and self.config_file() is None
            and not (data_dir / SQLITE_FILE).exists()
        ):
            raise UsageError(
                f"no catalog in {data_dir.absolute()} (the default data directory) and no "
                "buttress.yaml here: pass --data-dir (or BUTTRESS_DATA_DIR) for the data "
                "directory of your server, or run 'buttress serve' or 'buttress db upgrade' "
                "to create a catalog here"
            )
        opener = ready_catalog if migrate else open_catalog
        catalog = opener(self.config, data_dir)
        sys.stderr.write(f"catalog: {catalog.location}\n")
        try:
            yield catalog
        finally:
            catalog.dispose()

    @staticmethod
    def actor() -> str:
        """How CLI actions are named in the audit log."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return f"cli:{user}"


def state(ctx: typer.Context) -> State:
    """The :class:`State` of the running command."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[str]], *, soft_wrap: bool = False
) -> None:
    """``rows`` as a table on stdout: the terminal's width, or 160 columns into a pipe. Rich is
    imported here, by the commands that show a table, not by every command."""
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*row)
    if soft_wrap:
        Console(soft_wrap=True).print(table)
    else:
        Console(width=None if sys.stdout.isatty() else 160).print(table)
