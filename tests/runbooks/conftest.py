"""A real HTTP server on 127.0.0.1 for http steps: it records every request it gets and
answers what the test sets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Web:
    """The server's address, what it answers, and the requests it got."""

    url: str = ""
    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True, "role": "primary"})
    delay: float = 0.0
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    """Statuses to answer first, one per request, before `status`."""


@pytest.fixture
def web() -> Iterator[Web]:
    """A running HTTP server; every method answers `status` with `body` as JSON."""
    state = Web()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return None

        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length) if length else b""
            state.requests.append((self.command, self.path, dict(self.headers), payload))
            if state.delay:
                threading.Event().wait(state.delay)
            status = state.answers.pop(0) if state.answers else state.status
            data = json.dumps(state.body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = handle_any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
