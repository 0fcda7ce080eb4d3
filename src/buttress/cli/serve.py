"""``buttress serve``: run the control plane."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from buttress._version import __version__
from buttress.cli._starter import STARTER_TARGET, write_starter
from buttress.config._loader import resolve_path
from buttress.platform.cli import DEFAULT_DATA_DIR, state

if TYPE_CHECKING:
    from buttress.config import ButtressConfig
    from buttress.server.run import Prepared

log = logging.getLogger("buttress.server")


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default: server.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="TCP port (default: server.port, 8470; 0 picks a free one)."
        ),
    ] = None,
    log_format: Annotated[
        Literal["plain", "json"] | None, typer.Option(help="Log lines as plain text or JSON.")
    ] = None,
) -> None:
    """Run the control plane: REST API, /metrics, /healthz, /readyz and the dashboard.

    On the first start with an empty catalog an admin token is created and printed once. With
    no configuration file given or found, the first start writes a starter
    <data dir>/buttress.yaml (a daily backup of the catalog, encrypted to an age key generated
    in the data directory, a weekly restore test, a disk check) and runs a first backup and
    restore test of it in the background. Stops gracefully on SIGTERM or Ctrl-C, letting
    in-flight requests finish.
    """
    from buttress import logs
    from buttress.server.run import prepare
    from buttress.server.run import serve as run

    st = state(ctx)
    starter = None
    if st.config_file() is None:  # nothing given or found: the starter protects the catalog
        starter = write_starter(st.data_dir or DEFAULT_DATA_DIR)
    on_starter = resolve_path(st.config_path) is None and st.config_file() is not None
    # the app learns the data directory (--data-dir, data_dir, ./.buttress) from the config:
    # restores through the API go inside <data dir>/restored by default
    config = st.config.model_copy(update={"data_dir": st.resolved_data_dir().absolute()})
    logs.configure(
        log_format or config.server.log_format, "debug" if st.debug else config.server.log_level
    )
    prepared = prepare(
        config,
        st.resolved_data_dir(),
        host=host or config.server.host,
        port=config.server.port if port is None else port,
    )
    if starter is not None:
        sys.stdout.write(starter.note())
    started = None
    if on_starter and any(t.name == STARTER_TARGET for t in config.backup.targets):
        started = _first_run_starter(config)
    run(config, prepared, announce=_announce, started=started)


def _first_run_starter(config: ButtressConfig) -> Callable[[Prepared], None]:
    """While the starter's target has never been backed up (the first start, or a first start
    that failed before serving), back it up and restore-test it right away, in the background,
    so that the dashboard shows a verified backup within seconds."""

    def work(prepared: Prepared) -> None:
        from buttress.backup.service import Backups

        try:
            backups = Backups(config.backup, prepared.catalog)
            if backups.runs(STARTER_TARGET, limit=1):
                return
            view = backups.run(STARTER_TARGET, trigger="first-start")
            checked = backups.verify(view.id, restore=True)
            ok = checked.ok and checked.restore_test is not None
            log.info(
                "first start: backup %s of %s %s",
                view.id,
                STARTER_TARGET,
                "succeeded, verified and restore-tested" if ok else "failed its checks",
            )
        except Exception:  # a failed first run is recorded; it must not stop the server
            log.exception("first start: the first backup of %s failed", STARTER_TARGET)

    def start(prepared: Prepared) -> None:
        threading.Thread(
            target=work, args=(prepared,), name="buttress-first-run", daemon=True
        ).start()

    return start


def _announce(prepared: Prepared) -> None:
    out = sys.stdout
    out.write(f"buttress {__version__} serving on {prepared.url}\n")
    out.write(f"catalog: {prepared.catalog.location}\n")
    if prepared.admin_token:
        out.write(
            "first start: created an admin token. It is shown only this once; store it now:\n"
            f"  {prepared.admin_token}\n"
        )
    out.write(f"dashboard: {prepared.url}  (Ctrl-C or SIGTERM stops the server)\n")
    out.flush()
