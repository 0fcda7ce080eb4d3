"""Repointing clients: a URL file rewritten atomically, a command and an HTTP call with the
new address."""

from __future__ import annotations

import json
import stat
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from buttress.config._failover_redis import (
    RedisRepointCommand,
    RedisRepointHttp,
    RedisRepointUrlFile,
)
from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.redis import RedisPair, repoint
from buttress.runbooks.failover.redis_plans import plan_repoint

PAIR = RedisPair("cache", "redis://:pw@10.0.0.1:6379/0", "redis://:pw@10.0.0.2:6380/0")


def test_the_url_file_is_replaced(tmp_path: Path) -> None:
    """The file holds the new primary's URL, readable by its owner only, no temporary left."""
    target = tmp_path / "redis.url"
    target.write_text("redis://:pw@10.0.0.1:6379/0\n")
    pair = replace(PAIR, repoint=RedisRepointUrlFile(type="url_file", path=target))
    done = repoint(pair)
    assert target.read_text() == "redis://:pw@10.0.0.2:6380/0\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["redis.url"]
    assert done.server == "redis://:***@10.0.0.2:6380/0"


def test_a_command_gets_the_new_host_and_port(tmp_path: Path) -> None:
    """{host} and {port} in the argv are the new primary's."""
    out = tmp_path / "out"
    argv = [sys.executable, "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])"]
    hook = RedisRepointCommand(type="command", argv=[*argv, str(out), "{host}:{port}"])
    repoint(replace(PAIR, repoint=hook))
    assert out.read_text() == "10.0.0.2:6380"


def test_a_failing_command_is_an_error() -> None:
    """A non-zero exit is a FailoverError with the status and the end of stderr."""
    argv = [sys.executable, "-c", "import sys; sys.exit('no route')"]
    hook = RedisRepointCommand(type="command", argv=argv)
    with pytest.raises(FailoverError, match="exited 1: no route"):
        repoint(replace(PAIR, repoint=hook))


def test_a_missing_program_shows_in_the_plan() -> None:
    """The dry run says the program is not found, and repoint fails saying so."""
    hook = RedisRepointCommand(type="command", argv=["no-such-repointer-xyz"])
    pair = replace(PAIR, repoint=hook)
    plan = plan_repoint(pair)
    assert not plan.ready
    assert plan.probes[0].detail == "program not found"
    with pytest.raises(FailoverError, match="no-such-repointer-xyz"):
        repoint(pair)


class _Recorder(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []
    status: ClassVar[int] = 204

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        self.bodies.append(self.rfile.read(length))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_hook() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Handler", (_Recorder,), {"bodies": [], "status": 204})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/redis", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_http_hook_gets_the_new_primary(http_hook: tuple[str, type[_Recorder]]) -> None:
    """The call carries the new primary's host, port and URL; a wrong status is an error."""
    url, handler = http_hook
    hook = RedisRepointHttp(type="http", url=url, method="PUT")
    pair = replace(PAIR, repoint=hook)
    assert repoint(pair).method == "http"
    assert json.loads(handler.bodies[0]) == {
        "host": "10.0.0.2",
        "port": 6380,
        "url": "redis://:pw@10.0.0.2:6380/0",
    }
    handler.status = 500
    with pytest.raises(FailoverError, match="status 500"):
        repoint(pair)
