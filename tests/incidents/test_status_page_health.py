"""A component's state follows the health checks it names, as the running monitor sees them:
a TCP check against a port the test opens and closes on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from buttress.catalog import Catalog
from tests.conftest import wait_until
from tests.incidents.status_support import StatusApp, status_app


@contextmanager
def listening() -> Iterator[tuple[socket.socket, int]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock, int(sock.getsockname()[1])
    finally:
        sock.close()


def config(port: int, *, critical: bool) -> str:
    return f"""\
health:
  checks:
    - {{name: api-port, type: tcp, host: 127.0.0.1, port: {port}, interval: 0.05,
       timeout: 0.05, critical: {str(critical).lower()}}}
incidents:
  status_page:
    cache_seconds: 0
    components:
      - {{name: API, checks: [api-port], services: [api]}}
      - {{name: Docs}}
"""


def wait_for(app: StatusApp, state: str) -> None:
    wait_until(lambda: app.states()["API"] == state, f"API to be {state}")


@pytest.mark.parametrize(("critical", "down"), [(False, "partial_outage"), (True, "major_outage")])
def test_a_failing_check_takes_its_component_down(
    catalog: Catalog, critical: bool, down: str
) -> None:
    """While the port accepts connections the component is operational; once it is closed,
    a partial outage (or a major one when the check is critical); the other component and the
    overall state follow."""
    with listening() as (sock, port), status_app(catalog, config(port, critical=critical)) as app:
        wait_until(
            lambda: (
                app.client.get("/api/v1/health", headers=app.auth(app.viewer)).json()["checks"][0][
                    "status"
                ]
                == "up"
            ),
            "the check to run",
        )
        assert app.states() == {"API": "operational", "Docs": "operational"}
        sock.close()
        wait_for(app, down)
        page = app.page()
        assert page["state"] == down
        assert page["components"][1]["state"] == "operational"


def test_the_worst_of_checks_and_incidents_wins(catalog: Catalog) -> None:
    """A down (non-critical) check and a P1 incident: the incident's major outage wins; once
    resolved, the check's partial outage remains."""
    with listening() as (sock, port):
        sock.close()  # nothing listens on it now
        with status_app(catalog, config(port, critical=False)) as app:
            wait_for(app, "partial_outage")
            ref = app.declare("api down", "P1", "api")
            assert app.states()["API"] == "major_outage"
            app.act(ref, "resolve")
            assert app.states()["API"] == "partial_outage"
