"""The ``buttress`` command line.

Exit codes: 0 success, 1 the operation failed, 2 usage or configuration error.
Errors are printed as one line each (``error: ...``); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperGroup

from buttress._version import __version__
from buttress.cli import config, db, token
from buttress.cli.init import init
from buttress.cli.serve import serve
from buttress.components import COMPONENTS
from buttress.errors import ButtressError, ConfigError, MissingDependencyError, UsageError
from buttress.platform.cli import State
from buttress.platform.component import CliGroup, Listed

__all__ = ["app", "main"]

_SETTINGS: dict[str, Any] = {
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,  # plain usage errors: "Error: ..." on one line, no box
    "add_completion": False,
}


_LISTED: dict[str, Listed] = {name: listed for listed in COMPONENTS for name in listed.commands}


class _Root(TyperGroup):
    """The root group: the foundation's commands, and each component's, imported only when
    one of them runs (or is listed by ``--help``)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *_LISTED]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        listed = _LISTED.get(cmd_name)
        if listed is None:
            return super().get_command(ctx, cmd_name)
        for mount in listed.load().cli():
            if mount.name == cmd_name:
                return _click(mount)
        raise LookupError(f"{listed.module} does not mount the command {cmd_name!r}")


def _click(mount: Any) -> Any:
    # built the way add_typer/command would have built it under this root
    holder = typer.Typer(**_SETTINGS)
    if isinstance(mount, CliGroup):
        holder.add_typer(mount.app, name=mount.name)
    else:
        holder.command(mount.name)(mount.command)
        holder.callback()(lambda: None)  # a group even with one command
    return typer.main.get_command(holder).get_command(None, mount.name)  # type: ignore[attr-defined]


app = typer.Typer(
    cls=_Root,
    name="buttress",
    help=(
        "buttress: resilience and operations toolkit for Python services.\n\n"
        "Exit codes: 0 ok, 1 operation failed, 2 usage or configuration error."
    ),
    no_args_is_help=True,
    **_SETTINGS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("serve")(serve)
app.command("init")(init)
app.command("serve")(serve)
app.command("init")(init)
app.add_typer(config.app, name="config")
app.add_typer(db.app, name="db")
app.add_typer(token.app, name="token")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"buttress {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    ctx: typer.Context,
    config_path: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            envvar="BUTTRESS_CONFIG",
            help=(
                "Configuration file (default: ./buttress.yaml if present, else the starter "
                "<data dir>/buttress.yaml that the first serve writes, else built-in defaults)."
            ),
        ),
    ] = None,
    data_dir: Annotated[
        str | None,  # a str: Path("") would be the working directory, not an error
        typer.Option(
            "--data-dir",
            envvar="BUTTRESS_DATA_DIR",
            help=(
                "Directory for the SQLite catalog and local files "
                "(default: data_dir, else ./.buttress)."
            ),
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    _show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = State(config_path=config_path, data_dir=_data_dir(ctx, data_dir), debug=debug)


def _data_dir(ctx: typer.Context, given: str | None) -> Path | None:
    """--data-dir / $BUTTRESS_DATA_DIR as a path; an empty one (often an unset variable in a
    script) is refused: it would put the catalog wherever the command happens to run."""
    where = "--data-dir is empty"
    source = ctx.get_parameter_source("data_dir")  # Typer's own copy of Click's enum
    if source is not None and source.name == "ENVIRONMENT":
        where = "BUTTRESS_DATA_DIR is empty"
    elif given is None and os.environ.get("BUTTRESS_DATA_DIR") == "":
        # Click reads an empty variable as unset; in a script it is an unset ${VAR} just the same
        given, where = "", "BUTTRESS_DATA_DIR is set but empty"
    if given is None:
        return None
    if not given.strip():
        raise UsageError(
            f"{where}: give the data directory of your server (--data-dir DIR), or leave it "
            "out for the default (data_dir from buttress.yaml, else ./.buttress)"
        )
    return Path(given)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the ``buttress`` console script exits with it)."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        # standalone mode: Typer prints usage errors itself and always ends in SystemExit
        app(args=args, prog_name="buttress")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except ConfigError as exc:
        if debug:
            traceback.print_exc()
        noun = "problem" if len(exc.issues) == 1 else "problems"
        typer.echo(f"error: invalid configuration ({len(exc.issues)} {noun}):", err=True)
        for line in exc.shown():
            typer.echo(f"  {line}", err=True)
        code = exc.exit_code
    except ButtressError as exc:
        if debug:
            traceback.print_exc()
        typer.echo(f"error: {exc}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # noqa: BLE001  # last resort: one line instead of a traceback
        if debug:
            traceback.print_exc()
        missing = MissingDependencyError.from_import(exc) if isinstance(exc, ImportError) else None
        if missing is not None:  # an optional dependency: name the extra, never "internal"
            typer.echo(f"error: {missing}", err=True)
            return missing.exit_code
        from buttress.secrets import redact

        typer.echo(
            f"internal error: {type(exc).__name__}: {redact(str(exc))} "
            "(run with --debug for the traceback)",
            err=True,
        )
        code = 1
    else:
        code = 0
    return code


def run() -> None:
    """The console script's entry point before it moved to :mod:`buttress._entry` (scripts
    installed by earlier versions still call it)."""
    from buttress._entry import run as entry

    entry()
