"""The repoint hooks: the DSN file rewritten atomically (mode kept), a command and an HTTP
call given the DSN."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from buttress.config._failover_pg import (
    PostgresNodeConfig,
    PostgresPairConfig,
    RepointCommandConfig,
    RepointDsnFileConfig,
    RepointHttpConfig,
    RepointHttpRequest,
)
from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.postgres import repoint

NEW = "postgresql://app:s3cret@db2:5432/app"


def _pair(
    how: RepointCommandConfig | RepointDsnFileConfig | RepointHttpConfig,
) -> PostgresPairConfig:
    node = PostgresNodeConfig(dsn="postgresql://app@db1/app")
    return PostgresPairConfig(primary=node, replica=node, repoint=how)


def test_dsn_file_is_replaced_whole_keeping_its_mode(tmp_path: Path) -> None:
    """The file holds the new DSN, keeps its 0600 mode, and no temporary file is left."""
    path = tmp_path / "primary.dsn"
    path.write_text("postgresql://app@db1/app\n")
    path.chmod(0o600)
    done = repoint(_pair(RepointDsnFileConfig(dsn_file=path)), NEW)
    assert done is not None
    assert path.read_text() == NEW + "\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["primary.dsn"]
    assert "s3cret" not in done.detail


def test_command_gets_the_dsn_and_a_failure_is_an_error(tmp_path: Path) -> None:
    """`{dsn}` in the argv becomes the new DSN; a non-zero exit is a FailoverError."""
    out = tmp_path / "got"
    script = "import sys, pathlib; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"
    repoint(
        _pair(RepointCommandConfig(command=[sys.executable, "-c", script, str(out), "{dsn}"])), NEW
    )
    assert out.read_text() == NEW
    failing = RepointCommandConfig(command=[sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(FailoverError, match="exited 3"):
        repoint(_pair(failing), NEW)


def test_http_repoint_posts_the_dsn_and_checks_the_status() -> None:
    """The HTTP hook sends the DSN in its body; an unexpected status is a FailoverError whose
    message has no password."""
    got: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(self.rfile.read(int(self.headers["content-length"])))
            self.send_response(204 if self.path == "/ok" else 500)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        ok = RepointHttpConfig(http=RepointHttpRequest(url=f"{base}/ok"))
        done = repoint(_pair(ok), NEW)
        assert done is not None
        assert json.loads(got[0]) == {"primary": NEW}
        bad = RepointHttpConfig(http=RepointHttpRequest(url=f"{base}/bad", body="to {dsn}"))
        with pytest.raises(FailoverError, match="answered 500") as caught:
            repoint(_pair(bad), NEW)
        assert got[1] == f"to {NEW}".encode()
        assert "s3cret" not in str(caught.value)
    finally:
        server.shutdown()
        server.server_close()
