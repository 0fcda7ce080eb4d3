"""The component contract: how a domain plugs into the CLI and the control plane.

Each domain package (``buttress/<domain>/``) has a ``component.py`` with one instance of a
:class:`Component` subclass, and :mod:`buttress.components` lists those instances, one line
each. ``buttress.server.app`` and ``buttress.cli`` iterate over that list; they import no domain
themselves. A domain contributes:

- ``section``: the attribute of :class:`~buttress.config.ButtressConfig` it reads (its YAML
  section), for documentation and tooling;
- ``tables``: the module that declares its catalog tables on the one shared
  :class:`~buttress.catalog.tables.Base` metadata (migrations stay one linear Alembic history);
- :meth:`Component.cli`: its Typer command groups and commands, mounted on ``buttress``;
- :meth:`Component.config_warnings`: lines ``buttress config check`` prints as warnings;
- :meth:`Component.serve`: at app build time, given a :class:`ServerContext` (configuration,
  catalog, metrics registry, what earlier components provide), a :class:`Contribution`: API
  routers, metric collectors, a lifespan (background tasks), readiness checks for ``/readyz``,
  exception handlers, ``app.state`` entries, its dashboard page's data endpoint, and the
  registration of its jobs.

Authentication is not imported from the server: routers use the role dependencies of
:mod:`buttress.platform.auth` (``Viewer``, ``Operator``, ``Admin``) and the catalog dependency
and ``ApiError`` of :mod:`buttress.platform.http`; the server runs the gate that authenticates
every ``/api/`` request before a route's dependencies check its role.

A ``component.py`` stays cheap to import (the CLI imports every one on start): it imports its
domain's heavy modules (FastAPI routers, SQLAlchemy, clients) inside its methods.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter, Request, Response
    from prometheus_client import CollectorRegistry
    from prometheus_client.registry import Collector

    from buttress.catalog import Catalog
    from buttress.config import ButtressConfig
    from buttress.platform.schemas import Readiness

__all__ = [
    "CliCommand",
    "CliGroup",
    "Component",
    "Contribution",
    "Listed",
    "ReadinessCheck",
    "ServerContext",
]

T = TypeVar("T")

ReadinessCheck = Callable[[], "Mapping[str, Readiness]"]
"""Called on each ``/readyz``: ``{name: Readiness(ok=..., ...)}``
(:class:`~buttress.platform.schemas.Readiness`); any ``ok`` False makes the instance not ready
(503)."""

ExceptionHandler = Callable[["Request", Any], Awaitable["Response"]]


@dataclass(frozen=True)
class CliGroup:
    """A Typer sub-app mounted as ``buttress <name> ...``."""

    name: str
    app: typer.Typer


@dataclass(frozen=True)
class CliCommand:
    """A single command mounted as ``buttress <name>``."""

    name: str
    command: Callable[..., Any]


@dataclass
class ServerContext:
    """What a component is handed when the control plane is built.

    ``provide``/``require`` share live objects between components in list order (the health
    component provides its monitor; the degradation component, later in the list, reads it):
    a dependency on another domain's *instance* goes through here rather than through a
    global.
    """

    config: ButtressConfig
    catalog: Catalog
    registry: CollectorRegistry
    _provided: dict[str, object] = field(default_factory=dict, repr=False)

    def provide(self, key: str, value: object) -> None:
        """Make ``value`` available to later components under ``key`` (e.g. ``health.monitor``)."""
        if key in self._provided:
            raise ValueError(f"{key!r} is already provided")
        self._provided[key] = value

    def require(self, key: str, kind: type[T]) -> T:
        """What an earlier component provided under ``key``, checked to be a ``kind``."""
        value = self._provided.get(key)
        if not isinstance(value, kind):
            raise LookupError(
                f"{key!r} is not provided (as a {kind.__name__}): is the component that "
                "provides it listed earlier in buttress.components?"
            )
        return value


@dataclass(frozen=True)
class Contribution:
    """What a component adds to the control plane; every part is optional."""

    routers: Sequence[APIRouter] = ()
    collectors: Sequence[Collector] = ()
    lifespan: Callable[[], AbstractAsyncContextManager[None]] | None = None
    """Entered when the app starts, after the earlier components' (left in reverse order)."""
    readiness: ReadinessCheck | None = None
    exception_handlers: Mapping[type[Exception], ExceptionHandler] = field(default_factory=dict)
    state: Mapping[str, object] = field(default_factory=dict)
    """Set as attributes of ``app.state`` (e.g. ``health``), for this domain's routes."""
    dashboard: str | None = None
    """The URL path of the data endpoint the dashboard page of this domain reads."""


class Component:
    """Base of every domain's component: override what the domain contributes.

    Example (``buttress/example/component.py``)::

        class ExampleComponent(Component):
            name = "example"
            section = "example"

            def cli(self) -> Sequence[CliGroup | CliCommand]:
                from buttress.example.cli import app

                return [CliGroup("example", app)]

            def serve(self, ctx: ServerContext) -> Contribution:
                from buttress.example.api import router

                return Contribution(routers=[router])


        COMPONENT = ExampleComponent()
    """

    name: ClassVar[str]
    section: ClassVar[str | None] = None
    tables: ClassVar[str | None] = None
    """Dotted name of the module declaring this domain's tables (imported by
    :func:`buttress.components.metadata`), or None."""

    def cli(self) -> Sequence[CliGroup | CliCommand]:
        """The command groups and commands this domain adds to ``buttress``."""
        return ()

    def serve(self, ctx: ServerContext) -> Contribution:
        """What this domain adds to the control plane built around ``ctx``."""
        return Contribution()

    def config_warnings(self, config: ButtressConfig) -> Sequence[str]:
        """What ``buttress config check`` warns of in this domain's section, as of now: valid
        configuration that will not do what was likely meant (each line without the
        ``warning:`` prefix, starting with the YAML path). Does not fail the check."""
        return ()

    def __repr__(self) -> str:
        return f"<component {self.name}>"


@dataclass(frozen=True)
class Listed:
    """One line of the component list: the module holding the domain's ``COMPONENT``, and
    the top-level commands its :meth:`Component.cli` mounts. The CLI imports the module only
    when one of those commands runs (or for ``--help``), so that a command does not pay for
    importing every domain; a test checks that ``commands`` is what ``cli()`` mounts."""

    module: str
    commands: tuple[str, ...] = ()

    def load(self) -> Component:
        """The component (the module is imported on the first call)."""
        found = getattr(importlib.import_module(self.module), "COMPONENT", None)
        if not isinstance(found, Component):
            raise TypeError(f"{self.module}.COMPONENT is not a buttress Component")
        return found
