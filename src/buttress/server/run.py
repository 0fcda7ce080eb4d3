"""``buttress serve``: open the catalog, migrate, bootstrap an admin token, bind, serve."""

from __future__ import annotations

import contextlib
import errno
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from buttress.catalog import Catalog, audit, tokens
from buttress.config import ButtressConfig
from buttress.errors import ServeError
from buttress.platform.catalog import open_catalog, ready_catalog

__all__ = ["Prepared", "bind", "bootstrap_admin", "open_catalog", "prepare", "serve"]

log = logging.getLogger("buttress.server")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, bound before anything else starts.

    Raises:
        ServeError: the port is taken, the address is not local, or binding is not allowed.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"cannot listen on {host}:{port}: the port is already in use "
                "(stop the other process, or choose another with --port or server.port)"
            ) from exc
        reason = exc.strerror or str(exc)
        raise ServeError(f"cannot listen on {host}:{port}: {reason}") from exc
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def bootstrap_admin(catalog: Catalog) -> Iterator[str | None]:
    """On an empty catalog (no token ever created), create an admin token and yield its text;
    otherwise yield ``None``.

    The token is created in a transaction that commits only when the ``with`` body (which
    prints it) has returned: if anything fails before the token was shown, no token is left,
    and the next start creates and shows one. (If the commit itself fails after the token was
    printed, that printed token does not work and the next start shows a new one.)
    """
    with catalog.begin() as session:
        if tokens.get_all(session=session, include_revoked=True):
            yield None
            return
        row, text = tokens.create(
            session=session, name="bootstrap-admin", role="admin", created_by="serve:bootstrap"
        )
        audit.record(
            session=session,
            actor="serve:bootstrap",
            action="token.create",
            target=f"token_id={row.id}",
            outcome="success",
            detail={"reason": "first start with an empty catalog", "role": "admin"},
        )
        yield text


@dataclass
class Prepared:
    """Everything ``serve`` needs, ready before the first request."""

    catalog: Catalog
    sock: socket.socket
    url: str
    admin_token: str | None


def prepare(config: ButtressConfig, data_dir: Path, *, host: str, port: int) -> Prepared:
    """Open and migrate the catalog and bind the port. The bootstrap admin token is created
    later, by :func:`serve`, after everything else that can fail, in the same step that prints
    it."""
    from buttress.jobs.runner import alive_after, refuse_sqlite_elsewhere

    catalog = ready_catalog(config, data_dir)
    try:
        refuse_sqlite_elsewhere(
            catalog, alive_after(config.server.leader_lease, config.server.leader_renew)
        )
        sock = bind(host, port)
    except BaseException:
        catalog.dispose()
        raise
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return Prepared(
        catalog=catalog, sock=sock, url=f"http://{shown}:{bound_port}/", admin_token=None
    )


def serve(
    config: ButtressConfig,
    prepared: Prepared,
    *,
    announce: Callable[[Prepared], None],
    started: Callable[[Prepared], None] | None = None,
) -> None:
    """Run the control plane until SIGTERM or SIGINT, then drain in-flight requests and return
    (so the process exits 0 after a graceful stop). ``started`` is called once announced (and
    the bootstrap token committed), before the server runs: to start work in the background."""
    import uvicorn

    from buttress.server.app import create_app
    from buttress.server.protocol import header_timeout_protocol

    class _Server(uvicorn.Server):
        # uvicorn re-raises the caught signal after shutdown, which makes a clean, drained
        # stop exit 143; buttress reports it as the success it is.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self._on_signal) for sig in _SIGNALS}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        def _on_signal(self, sig: int, frame: FrameType | None) -> None:
            log.info("received %s: draining in-flight requests", signal.Signals(sig).name)
            self.handle_exit(sig, frame)

    app = create_app(prepared.catalog, config)
    uv_config = uvicorn.Config(
        app,
        http=header_timeout_protocol(config.server.header_timeout),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(config.server.shutdown_timeout) or 1,
        timeout_keep_alive=max(1, round(config.server.keep_alive_timeout)),
        server_header=False,
    )
    uv_config.load()  # fails here, before a token exists, rather than in run()
    server = _Server(uv_config)
    try:
        with bootstrap_admin(prepared.catalog) as prepared.admin_token:
            announce(prepared)  # the token commits only once this has written it out
        if started is not None:
            started(prepared)
        server.run(sockets=[prepared.sock])
    finally:
        prepared.sock.close()
        prepared.catalog.dispose()
    log.info("shutdown complete")
