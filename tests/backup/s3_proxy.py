"""An HTTP proxy in front of the S3 server that starts failing uploads on demand: the S3 errors
a backup meets mid-upload (500 InternalError after N writes), from a real HTTP exchange; or,
with ``hang=True``, an endpoint that takes those writes and never answers; or 500s for the
listings of one key prefix (``fail_list_prefix``); or a DeleteObjects answered "done, but
AccessDenied for these keys" (``refuse_deletes``: keys containing that text are refused and
kept; the others are deleted)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import re
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
        self.refuse_deletes: str | None = None  # DeleteObjects keeps keys containing it
        self.kept: list[str] = []  # the <Object>s of the DeleteObjects in flight it kept
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
                deleting = self.command == "POST" and "delete" in self.path.split("?", 1)[-1]
                if deleting and proxy.refuse_deletes is not None:
                    body = proxy.refused(body)
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
                if deleting:  # the body changed: its length and checksum go with it
                    headers = {
                        k: v
                        for k, v in headers.items()
                        if k.lower() not in ("content-length", "content-md5")
                        and not k.lower().startswith("x-amz-checksum")
                        and k.lower() != "x-amz-sdk-checksum-algorithm"
                    }
                    digest = hashlib.md5(body).digest()  # noqa: S324  # S3's Content-MD5
                    headers["Content-MD5"] = base64.b64encode(digest).decode()
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                if deleting and proxy.kept:
                    data = proxy.with_errors(data)
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

    def refused(self, body: bytes) -> bytes:
        """The DeleteObjects body without the refused keys (remembered for the answer)."""
        assert self.refuse_deletes is not None
        text = body.decode()
        objects = re.findall(r"<Object>.*?</Object>", text, flags=re.S)
        self.kept = [o for o in objects if self.refuse_deletes in o]
        for o in self.kept:
            text = text.replace(o, "")
        return text.encode()

    def with_errors(self, data: bytes) -> bytes:
        errors = "".join(
            "<Error><Key>"
            + re.sub(r".*<Key>(.*?)</Key>.*", r"\1", o, flags=re.S)
            + "</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
            for o in self.kept
        )
        self.kept = []
        text = re.sub(rb"<DeleteResult([^>]*)/>", rb"<DeleteResult\1></DeleteResult>", data)
        return text.replace(b"</DeleteResult>", errors.encode() + b"</DeleteResult>")

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
