"""The public status page, ``GET /status`` (HTML), ``GET /status.json`` and
``GET /status/feed.atom``, with no token (they are outside ``/api/``, which the request gate
guards); and ``POST /api/v1/incidents/{ref}/updates`` (operator), a public update.

The public routes are cheap whatever the traffic: the page's data (two catalog queries, see
:func:`~buttress.incidents.status.public_incidents`, and the health monitor's latest results)
is computed at most once per ``status_page.cache_seconds``, by one request at a time, and
the HTML with it; a public update posted here refreshes it at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from buttress.catalog import Catalog
from buttress.config._status_page import StatusPageConfig
from buttress.incidents import status
from buttress.incidents.api import IncidentRead
from buttress.incidents.status import MAX_TEXT
from buttress.incidents.status_page import (
    CheckFacts,
    PublicStatus,
    StatusPageRead,
    build,
)
from buttress.incidents.status_render import CSS, atom, page_html
from buttress.platform.auth import Operator
from buttress.platform.http import SECURITY_HEADERS, ApiError, CatalogDep

__all__ = ["PublicUpdate", "StatusSource", "public", "updates"]

public = APIRouter(tags=["status"])
updates = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

CheckReader = Callable[[], Mapping[str, CheckFacts]]
"""The health checks' latest results by name (read on the event loop)."""


class PublicUpdate(BaseModel):
    """A public update: what the people affected are told."""

    model_config = ConfigDict(extra="forbid")

    status: PublicStatus
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


@dataclass
class StatusSource:
    """The status page's data and HTML, recomputed at most once per ``config.cache_seconds``."""

    catalog: Catalog
    config: StatusPageConfig
    checks: CheckReader = dict
    clock: Callable[[], float] = time.monotonic
    _cached: tuple[float, StatusPageRead, str] | None = field(default=None, init=False)
    _lock: asyncio.Lock | None = field(default=None, init=False, repr=False)
    _lock_loop: object = field(default=None, init=False, repr=False)

    def _turn(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    def invalidate(self) -> None:
        """Forget the cached page (the next request reads the catalog)."""
        self._cached = None

    def _fresh(self) -> tuple[StatusPageRead, str] | None:
        cached = self._cached
        if cached is not None and self.clock() - cached[0] < self.config.cache_seconds:
            return cached[1], cached[2]
        return None

    async def get(self) -> tuple[StatusPageRead, str]:
        """The page and its HTML, from the cache while it is fresh."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._turn():
            fresh = self._fresh()  # another request computed it while this one waited
            if fresh is not None:
                return fresh
            checks = self.checks()
            now = dt.datetime.now(dt.UTC)

            def read() -> StatusPageRead:
                with self.catalog.begin() as session:
                    incidents = status.public_incidents(
                        session=session, now=now, history_days=self.config.history_days
                    )
                return build(self.config, checks=checks, incidents=incidents, now=now)

            page = await anyio.to_thread.run_sync(read)
            html = page_html(page, history_days=self.config.history_days)
            self._cached = (self.clock(), page, html)
            return page, html


def _source(request: Request) -> StatusSource:
    found = getattr(request.app.state, "status_page", None)
    if not isinstance(found, StatusSource):
        raise ApiError(404, "not_found", "the status page is not enabled")
    return found


def _headers(source: StatusSource) -> dict[str, str]:
    return {
        **SECURITY_HEADERS,
        "Cache-Control": f"public, max-age={int(source.config.cache_seconds)}",
    }


@public.get("/status", include_in_schema=False)
async def status_page(request: Request) -> Response:
    source = _source(request)
    _, html = await source.get()
    return Response(html, media_type="text/html; charset=utf-8", headers=_headers(source))


@public.get("/status/style.css", include_in_schema=False)
async def status_style(request: Request) -> Response:
    return Response(CSS, media_type="text/css; charset=utf-8", headers=_headers(_source(request)))


@public.get(
    "/status.json",
    summary="The public status page: components, their state, open and past incidents",
    response_model=StatusPageRead,
)
async def status_json(request: Request) -> Response:
    source = _source(request)
    page, _ = await source.get()
    return Response(page.model_dump_json(), media_type="application/json", headers=_headers(source))


@public.get("/status/feed.atom", include_in_schema=False)
async def status_feed(request: Request) -> Response:
    source = _source(request)
    page, _ = await source.get()
    config = request.app.state.incidents_config
    base = (config.public_url or str(request.base_url)).rstrip("/")
    return Response(
        atom(page, base_url=base),
        media_type="application/atom+xml; charset=utf-8",
        headers=_headers(source),
    )


@updates.post(
    "/{ref}/updates", summary="Post a public update (shown on the status page)", status_code=201
)
def post_update(
    request: Request, ref: str, body: PublicUpdate, catalog: CatalogDep, who: Operator
) -> IncidentRead:
    with catalog.begin() as session:
        incident = status.public_update(
            session=session, ref=ref, status=body.status, text=body.text, actor=who.name
        )
        read = IncidentRead.model_validate(incident)
    request.state.audit_target = read.ref
    source = getattr(request.app.state, "status_page", None)
    if isinstance(source, StatusSource):
        source.invalidate()
    return read
