"""An HTTP proxy in front of the S3 server that starts failing uploads on demand: the S3 errors
a backup meets mid-upload (500 InternalError after N writes), from a real HTTP exchange; or,
with ``hang=True``, an endpoint that takes those writes and never answers; or 500s for the
listings of one key prefix (``fail_list_prefix``)."""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
    b"<Message>injected by the test proxy</Message></Error>"
)


class FaultyProxy:
    """Forwards to ``upstream_port``; once ``writes_before_failure`` PUT/POST requests went
    through, every further PUT/POST gets a 500 (reads keep working), or with ``hang`` no
    answer at all (until :meth:`close`)."""

    def __init__(
        self, upstream_port: int, writes_before_failure: int | None = None, hang: bool = False
    ) -> None:
        self.upstream_port = upstream_port
        self.writes_before_failure = writes_before_failure
        self.hang = hang
        self.fail_list_prefix: str | None = None  # LISTs of keys under it get a 500
        self.writes = 0
        self.failed = 0
        self.lock = threading.Lock()
        self.released = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                listing = self.command == "GET" and "list-type=2" in self.path
                if listing and proxy.fail_list_prefix is not None:
                    query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                    if any(p.startswith(proxy.fail_list_prefix) for p in query.get("prefix", [])):
                        self.send_response(500)
                        self.send_header("Content-Type", "application/xml")
                        self.send_header("Content-Length", str(len(_ERROR)))
                        self.end_headers()
                        self.wfile.write(_ERROR)
                        return
                if self.command in ("PUT", "POST") and proxy.should_fail():
                    if proxy.hang:  # the request was taken; no answer comes
                        proxy.released.wait(timeout=300)
                        self.close_connection = True
                        return
                    self.send_response(500)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(_ERROR)))
                    self.end_headers()
                    self.wfile.write(_ERROR)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                self.send_response(response.status)
                head = self.command == "HEAD"  # no body: pass the upstream length on as is
                for key, value in response.getheaders():
                    lower = key.lower()
                    if lower in ("transfer-encoding", "connection"):
                        continue
                    if lower == "content-length" and not head:
                        continue
                    self.send_header(key, value)
                if not head:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def should_fail(self) -> bool:
        with self.lock:
            if self.writes_before_failure is not None and self.writes >= self.writes_before_failure:
                self.failed += 1
                return True
            self.writes += 1
            return False

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
