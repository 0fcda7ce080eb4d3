"""`buttress slo list` and the errors of `buttress slo report`: exit 2 for what the user gave
wrong (no Prometheus, a bad time), exit 1 when Prometheus does not answer as Prometheus."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from buttress.cli import main
from tests.conftest import free_port

CONFIG = """
alerting:
  burn_tiers:
    - {name: page, kind: page, severity: critical, long_window: 1h, short_window: 5m, factor: 14.4}
    - {name: ticket, kind: ticket, severity: warning, long_window: 1d, short_window: 2h, factor: 3}
    - {name: quiet, kind: ticket, severity: info, long_window: 3d, short_window: 6h, factor: 1,
       enabled: false}
  slos:
    - name: checkout
      service: shop
      team: payments
      objective: 99.95
      sli:
        kind: ratio
        errors: sum(rate(http_requests_total{code=~"5.."}[$window]))
        total: sum(rate(http_requests_total[$window]))
    - name: search-latency
      service: search
      objective: 99
      period: 14d
      burn_tiers: [page]
      sli: {kind: latency, metric: http_request_duration_seconds, threshold: 0.25}
"""


def buttress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str, config: str = CONFIG
) -> tuple[int, str, str]:
    path = tmp_path / "buttress.yaml"
    path.write_text(config)
    code = main(["--config", str(path), "slo", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each SLO with its service, team, exact objective, period, SLI kind and the tiers it
    alerts on (its own list, else every enabled tier)."""
    code, out, err = buttress(tmp_path, capsys, "list", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == [
        {
            "name": "checkout",
            "service": "shop",
            "team": "payments",
            "objective": "99.95",
            "period_seconds": 2592000.0,
            "period": "30d",
            "sli": "ratio",
            "tiers": ["page", "ticket"],
        },
        {
            "name": "search-latency",
            "service": "search",
            "team": None,
            "objective": "99",
            "period_seconds": 1209600.0,
            "period": "14d",
            "sli": "latency",
            "tiers": ["page"],
        },
    ]


def test_list_as_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = buttress(tmp_path, capsys, "list")
    assert code == 0
    (row,) = [line for line in out.splitlines() if "checkout" in line]
    for cell in ("shop", "99.95 %", "30d", "ratio", "page, ticket"):
        assert cell in row
    (row,) = [line for line in out.splitlines() if "search-latency" in line]
    assert "14d" in row
    assert "latency" in row


def test_list_without_slos_says_where_to_declare_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = buttress(tmp_path, capsys, "list", config="alerting: {}\n")
    assert (code, out.strip()) == (0, "no SLOs configured (declare them under alerting.slos)")
    code, out, _ = buttress(tmp_path, capsys, "list", "--format", "json", config="{}\n")
    assert (code, json.loads(out)) == (0, [])


def test_report_without_a_prometheus_asks_for_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --prometheus and no alerting.prometheus.url: exit 2, naming both."""
    code, _, err = buttress(tmp_path, capsys, "report")
    assert code == 2
    assert "pass --prometheus URL" in err
    assert "alerting.prometheus.url" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prometheus", "prom:9090"], "--prometheus: expected an http:// or https:// URL"),
        (["--at", "yesterday"], "--at: 'yesterday' is not a time"),
        (["--exclude", "2026-12-01T00:00Z"], "is not START/END"),
        (["--exclude", "2026-12-02T00:00Z/2026-12-01T00:00Z"], "ends before it starts"),
        (["--format", "xml"], "Invalid value for '--format'"),
    ],
)
def test_report_bad_arguments_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = buttress(tmp_path, capsys, "report", "--prometheus", "http://127.0.0.1:1", *args)
    assert code == 2
    assert message in err


def test_report_when_prometheus_does_not_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens: exit 1, naming the server with its password masked."""
    url = f"http://admin:hunter2@127.0.0.1:{free_port()}"
    code, out, err = buttress(tmp_path, capsys, "report", "--prometheus", url)
    assert code == 1
    assert "did not answer: ConnectError" in err
    assert "hunter2" not in err + out
    assert "127.0.0.1" in err


def test_report_when_prometheus_is_too_slow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that accepts and never answers: the configured timeout ends the wait."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        config = CONFIG + f"  prometheus: {{url: 'http://127.0.0.1:{port}', timeout: 0.2}}\n"
        code, _, err = buttress(tmp_path, capsys, "report", config=config)
    assert code == 1
    assert "did not answer within 0.2 s (alerting.prometheus.timeout)" in err


class _NotPrometheus(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = b"<html>login</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_report_when_the_url_is_not_prometheus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An HTTP server that is not Prometheus's API (a login page): exit 1, saying so."""
    server = HTTPServer(("127.0.0.1", 0), _NotPrometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        code, _, err = buttress(tmp_path, capsys, "report", "--prometheus", url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert code == 1
    assert "answered HTTP 200 without a Prometheus API response" in err
