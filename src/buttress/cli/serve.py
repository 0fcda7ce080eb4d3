"""``buttress serve``: run the control plane."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from buttress._version import __version__
from buttress.cli._context import state

if TYPE_CHECKING:
    from buttress.server.run import Prepared


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

    On the first start with an empty catalog an admin token is created and printed once.
    Stops gracefully on SIGTERM or Ctrl-C, letting in-flight requests finish.
    """
    from buttress import logs
    from buttress.server.run import prepare
    from buttress.server.run import serve as run

    st = state(ctx)
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
    run(config, prepared, announce=_announce)


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
