"""The request gate: the token is checked before the body is read, bodies are bounded in size
and in time, and slow clients are cut off."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from buttress.catalog import Catalog
from buttress.config import ButtressConfig
from buttress.server.app import create_app
from tests.conftest import Served, start_server
from tests.server.conftest import Api


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80))
    sock.settimeout(30)  # a guard so that a server that never answers fails the test
    return sock


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def tight(tmp_path: Path) -> Iterator[Served]:
    """A served control plane with 1-second body and header deadlines."""
    config = tmp_path / "buttress.yaml"
    config.write_text("server:\n  body_timeout: 1s\n  header_timeout: 1s\n")
    server = start_server(tmp_path / "data", env={"BUTTRESS_CONFIG": str(config)})
    try:
        yield server
    finally:
        server.stop()


def test_anonymous_big_body_gets_401_before_it_is_sent(served: Served) -> None:
    """An anonymous 40 MB POST is answered 401 from its headers alone: no byte of it is read."""
    with _connect(served.url) as sock:
        sock.sendall(
            b"POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 41943040\r\n\r\n"
        )
        response = _read_response(sock)
    assert _status(response) == 401
    assert b"www-authenticate: Bearer" in response.lower().replace(b"bearer", b"Bearer")


def test_malformed_json_from_anonymous_is_401(api: Api) -> None:
    """Malformed JSON without a token is 401 (not 422): authentication comes first."""
    response = api.client.post(
        "/api/v1/tokens", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_too_big_body_is_413_with_the_configured_limit(catalog: Catalog) -> None:
    """An authenticated body past server.max_body_bytes is 413 naming the limit."""
    from buttress.catalog import tokens

    with catalog.begin() as session:
        _, admin = tokens.create(session=session, name="a", role="admin", created_by="test")
    config = ButtressConfig.model_validate({"server": {"max_body_bytes": 100}})
    with TestClient(create_app(catalog, config)) as client:
        headers = {"Authorization": f"Bearer {admin}"}
        small = client.post("/api/v1/tokens", json={"name": "ok"}, headers=headers)
        assert small.status_code == 201
        big = client.post("/api/v1/tokens", json={"name": "x" * 200}, headers=headers)
    assert big.status_code == 413
    assert big.json()["error"] == "payload_too_large"
    assert "larger than 100 bytes (server.max_body_bytes)" in big.json()["message"]


def test_chunked_body_is_counted_as_it_streams(served: Served) -> None:
    """A chunked body (no Content-Length) is cut at the limit with 413."""
    assert served.admin_token is not None

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(64):
            yield b"x" * 32768
        yield b'"}'

    response = httpx.post(
        served.url + "api/v1/tokens",
        content=chunks(),
        headers={
            "Authorization": f"Bearer {served.admin_token}",
            "Content-Type": "application/json",
        },
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_slow_body_is_cut_off_with_408(tight: Served) -> None:
    """A body that does not arrive within server.body_timeout gets 408."""
    assert tight.admin_token is not None
    with _connect(tight.url) as sock:
        sock.sendall(
            b"POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + tight.admin_token.encode() + b"\r\n"
            b'Content-Length: 100\r\n\r\n{"name"'
        )
        response = _read_response(sock)
        while b"server.body_timeout" not in response and (more := sock.recv(65536)):
            response += more
    assert _status(response) == 408
    assert b"server.body_timeout" in response


def test_slow_headers_are_cut_off(tight: Served) -> None:
    """A client that never finishes its headers is disconnected after server.header_timeout."""
    with _connect(tight.url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert sock.recv(65536) == b""  # closed by the server, no response
