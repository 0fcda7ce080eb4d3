"""Degradation levels inside your application's own process, where the flags are read.

    from buttress.degradation.embed import start_degradation

    levels = start_degradation()  # reads buttress.yaml ($BUTTRESS_CONFIG, ./buttress.yaml)
    app = LoadSheddingMiddleware(app, routes=..., stats=levels.controller.requests)
    ...
    levels.stop()  # at shutdown (a daemon thread: the process may also just exit)

This runs, in a daemon thread of the application, what ``buttress serve`` runs: the level
machine of ``health.degradation`` on this process's metrics (its CPU and memory, the requests
the middleware reports, the health checks of ``health.checks`` when ``checks=True``), the
overrides kept in the catalog (``catalog.url``, else the SQLite catalog of the data directory,
so that ``buttress level set`` reaches every process within ``evaluate_every``, and the first
answer already reflects an override in force), and the fleet's level through Redis when
``shared: true``. :func:`buttress.flags.enabled` then answers for this process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from buttress.degradation.controller import DegradationController, build_levels
from buttress.errors import UsageError

if TYPE_CHECKING:
    from buttress.catalog import Catalog
    from buttress.config import ButtressConfig
    from buttress.health.monitor import HealthMonitor

__all__ = ["Embedded", "controller_from_config", "start_degradation"]

log = logging.getLogger("buttress.degradation")


@dataclass
class Embedded:
    """The running controller and the way to stop it."""

    controller: DegradationController
    _stop: threading.Event
    _thread: threading.Thread
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop evaluating and release the catalog connections."""
        self._stop.set()
        self._thread.join(timeout)
        self.controller.close()  # the hooks' subscriptions to LevelChanged
        for close in self._cleanup:
            close()


def controller_from_config(
    config: ButtressConfig, monitor: HealthMonitor | None, catalog: Catalog | None
) -> DegradationController:
    """The controller of ``health.degradation``: fed by ``monitor``'s score, following the
    overrides of ``catalog`` (when given) and, with ``shared: true``, the fleet's level."""
    settings = config.health.degradation
    if settings is None:
        raise UsageError("no degradation levels configured (declare health.degradation)")
    controller = DegradationController(
        build_levels(settings),
        evaluate_every=settings.evaluate_every,
        monitor=monitor,
        cpu=settings.cpu,
    )
    from buttress.health.build import load_callable

    for spec in settings.hooks:  # each a subscription to LevelChanged (ended by close())
        controller.add_hook(load_callable("degradation hook", spec, config.base_dir))
    if catalog is not None:
        from buttress.degradation import overrides

        def current() -> overrides.OverrideRecord | None:
            with catalog.begin() as session:
                return overrides.active(session=session)

        controller.follow_overrides(current)
    if settings.shared:
        from buttress.state import SharedStateStore, open_store

        store = open_store(config.state)
        if not isinstance(store, SharedStateStore):
            raise UsageError(
                "health.degradation.shared needs the Redis state store (state.backend: redis)"
            )
        controller.share(store)
    return controller


def _catalog(config: ButtressConfig) -> Catalog | None:
    """The catalog `buttress level set` writes to: ``catalog.url``, else the SQLite file of the
    data directory (``data_dir``, $BUTTRESS_DATA_DIR, ./.buttress), which is never created here."""
    from buttress.catalog import Catalog, catalog_url

    env = os.environ.get("BUTTRESS_DATA_DIR")  # the same order as the CLI's
    data_dir = Path(env) if env else (config.data_dir or Path(".buttress"))
    if not config.catalog.url:
        from buttress.catalog.engine import SQLITE_FILE

        if not (data_dir / SQLITE_FILE).is_file():
            log.warning(
                "no catalog at %s: this process does not follow `buttress level set` overrides "
                "(set data_dir or catalog.url to the catalog `buttress serve` uses)",
                data_dir / SQLITE_FILE,
            )
            return None
    return Catalog(catalog_url(config.catalog.url, data_dir))


def start_degradation(
    config: ButtressConfig | None = None,
    *,
    config_path: str | Path | None = None,
    checks: bool = True,
    overrides: bool = True,
) -> Embedded:
    """Build the controller of ``health.degradation`` and run it in a daemon thread.

    Raises:
        UsageError: the configuration has no ``health.degradation`` section.
        ConfigError: the configuration is invalid (every problem, with file and line).
    """
    if config is None:
        from buttress.config import load
        from buttress.config_checks import register_domain_checks

        register_domain_checks()
        config = load(Path(config_path) if config_path else None)
    if config.health.degradation is None:
        raise UsageError("no degradation levels configured (declare health.degradation)")
    monitor = None
    if checks and config.health.checks:
        from buttress.health.build import build_checks
        from buttress.health.monitor import HealthMonitor

        monitor = HealthMonitor(
            build_checks(config.health, config.base_dir),
            history=config.health.history,
            window=config.health.window,
        )
    catalog = _catalog(config) if overrides else None
    controller = controller_from_config(config, monitor, catalog)
    cleanup: list[Callable[[], None]] = [catalog.dispose] if catalog is not None else []
    stop = threading.Event()

    def run() -> None:
        async def main() -> None:
            if monitor is not None:
                monitor.start()
            controller.start()
            await asyncio.to_thread(stop.wait)
            await controller.stop()
            if monitor is not None:
                await monitor.stop()

        asyncio.run(main())

    thread = threading.Thread(target=run, name="buttress-degradation", daemon=True)
    thread.start()
    log.info("degradation levels running in this process (%s)", ", ".join(controller.levels.names))
    return Embedded(controller, stop, thread, cleanup)
