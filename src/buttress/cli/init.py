"""``buttress init``: write a commented buttress.yaml with the starter and examples."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from buttress.cli._starter import Starter, ensure_key, starter_text, write_config
from buttress.config._loader import DEFAULT_FILE
from buttress.errors import UsageError
from buttress.platform.cli import DEFAULT_DATA_DIR, state

__all__ = ["init"]


def init(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="Where to write the configuration (never over a file).")
    ] = Path(DEFAULT_FILE),
) -> None:
    """Write a commented buttress.yaml: the starter (a daily backup of the catalog to
    <data dir>/backups, encrypted to an age key in the data directory, a weekly restore test,
    a disk check) and commented examples for PostgreSQL, Redis, S3 and a resilience policy.

    The data directory is --data-dir, else .buttress next to PATH; its key is reused when it
    exists. Exit 2 when PATH exists.
    """
    if path.exists():
        raise UsageError(f"{path}: already exists; refusing to overwrite it")
    data_dir = state(ctx).data_dir or path.parent / DEFAULT_DATA_DIR
    key, recipient, created = ensure_key(data_dir)
    write_config(path, starter_text(data_dir, recipient, key, examples=True))
    typer.echo(Starter(path, key, created).note(lead=""), nl=False)
    typer.echo(f"check it with: buttress --config {path} config check")
