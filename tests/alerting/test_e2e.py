"""End to end, with the real binaries: `buttress serve` (its /metrics and its Alertmanager
webhook), an application process's /metrics (a circuit breaker), Prometheus loading the rules
`buttress alerts generate` wrote and Alertmanager with the generated alertmanager.yml, all on
free ports on 127.0.0.1.

A backup target fails: its BackupTooOld alert (critical) fires in Prometheus, reaches
Alertmanager, is routed to the `buttress` receiver and lands in buttress's alert history; it
opens a P1 incident whose escalation, on the server's job runner, pages the on-call user on a
webhook notifier (the `pager` sink). A
breaker then opens: its CircuitBreakerOpen alert (warning, same service) is inhibited by the
critical one, so the `ops` receiver hears nothing of it. The target is fixed: the resolved
notification reaches buttress (the incident resolves and the pager hears so), and only then
does the breaker's alert reach `ops`.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, start_http_server

from buttress.cli import main
from buttress.resilience import CircuitBreaker, CircuitOpenError
from buttress.resilience.instrumentation.prometheus import PrometheusMetrics
from tests.alerting.stack import start_alertmanager, start_prometheus
from tests.conftest import free_port, start_server

DEADLINE = 60.0  # seconds for the whole scenario


class Sink:
    """A webhook receiver (the `ops` receiver): every notification Alertmanager posts."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, alertname: str) -> list[dict[str, Any]]:
        return [
            a
            for n in self.received
            for a in n["alerts"]
            if a["labels"].get("alertname") == alertname
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    made = Sink()
    yield made
    made.close()


@pytest.fixture
def pager() -> Iterator[Sink]:
    """The incident notifier's receiver (a webhook notifier of buttress's escalation)."""
    made = Sink()
    yield made
    made.close()


def _wait(check: Any, what: str, until: float) -> Any:
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > until:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_backup_failure_alert_is_routed_inhibits_and_resolves(
    tmp_path: Path,
    sink: Sink,
    pager: Sink,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    until = started + DEADLINE
    monkeypatch.chdir(tmp_path)
    assert main(["backup", "keygen", "key.txt"]) == 0
    recipient = capsys.readouterr().out.strip()
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>shop</h1>\n")

    # the application: a breaker, instrumented, on its own /metrics
    app_registry = CollectorRegistry()
    metrics = PrometheusMetrics(app_registry)
    breaker = CircuitBreaker(name="payments", failure_rate=50, minimum_calls=2, wait=600)
    metrics.track(breaker)
    app_port = free_port()
    app_server, _thread = start_http_server(app_port, addr="127.0.0.1", registry=app_registry)

    port = free_port()
    buttress_url = f"http://127.0.0.1:{port}"
    token_file = tmp_path / "am-token"
    config = tmp_path / "buttress.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "backup": {
                    "recipients": [recipient],
                    "identity_files": ["key.txt"],
                    "destinations": [{"name": "local", "path": "repo"}],
                    "targets": [
                        {
                            "name": "site",
                            "source": "directory",
                            "path": "site",
                            "schedule_seconds": True,
                            "schedule": "* * * * * */1",
                        }
                    ],
                },
                "incidents": {
                    "oncall": {"users": {"alice": {"email": "alice@example.com"}}},
                    "notifiers": {"pager": {"type": "webhook", "url": pager.url}},
                    "escalation_policies": {
                        "default": {
                            "channels": ["pager"],
                            "levels": [{"notify": {"users": ["alice"]}}],
                        }
                    },
                    "default_escalation_policy": "default",
                },
                "alerting": {
                    "presets": {
                        "service": "shop",
                        "backups": {
                            "enabled": True,
                            "stale": {"max_age": {"site": "4s"}},
                            "size_drop": {"enabled": False},
                        },
                        "buttress": {
                            "enabled": True,
                            "breaker_open": {"for": "0s", "severity": "warning"},
                            "degradation": {"enabled": False},
                            "health_score": {"enabled": False},
                            "state_store_fallback": {"enabled": False},
                        },
                    },
                    "alertmanager": {
                        "group_by": ["alertname", "service"],
                        "severities": [
                            {
                                "name": name,
                                "group_wait": "1s",
                                "group_interval": "1s",
                                "repeat_interval": "1h",
                                "receiver": receiver,
                            }
                            for name, receiver in (
                                ("critical", "buttress"),
                                ("warning", "ops"),
                                ("info", "ops"),
                            )
                        ],
                        "receivers": [
                            {
                                "name": "buttress",
                                "type": "buttress",
                                "url": buttress_url,
                                "token_file": str(token_file),
                            },
                            {"name": "ops", "type": "webhook", "url": sink.url},
                        ],
                    },
                },
            },
            sort_keys=False,
        )
    )
    data = tmp_path / "data"
    assert main(["--config", str(config), "--data-dir", str(data), "db", "upgrade"]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "--config",
                str(config),
                "--data-dir",
                str(data),
                "token",
                "create",
                "alertmanager",
                "--role",
                "operator",
            ]
        )
        == 0
    )
    token = capsys.readouterr().out.strip().splitlines()[-1].strip()
    token_file.write_text(token + "\n")
    out = tmp_path / "generated"
    assert main(["--config", str(config), "alerts", "generate", "--out", str(out)]) == 0

    rules = sorted(str(p) for p in out.glob("*/*.rules.yml"))
    assert rules, list(out.rglob("*"))
    server = start_server(data, "--port", str(port), env={"BUTTRESS_CONFIG": str(config)})
    am = prom = None
    try:
        am = start_alertmanager(tmp_path / "am", out / "alertmanager.yml")
        prom = start_prometheus(
            tmp_path / "prom",
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": rules,
                "alerting": {
                    "alertmanagers": [{"static_configs": [{"targets": [am.url[len("http://") :]]}]}]
                },
                "scrape_configs": [
                    {
                        "job_name": "buttress",
                        "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
                    },
                    {
                        "job_name": "app",
                        "static_configs": [{"targets": [f"127.0.0.1:{app_port}"]}],
                    },
                ],
            },
        )
        headers = {"Authorization": f"Bearer {token}"}

        def history(alertname: str, status: str) -> list[dict[str, Any]]:
            answer = httpx.get(
                f"{buttress_url}/api/v1/alerts/history",
                params={"alertname": alertname, "status": status},
                headers=headers,
            )
            assert answer.status_code == 200, answer.text
            return list(answer.json())

        def firing_in_prometheus(alertname: str) -> bool:
            found = prom.get("/api/v1/alerts")["data"]["alerts"]
            return any(
                a["labels"]["alertname"] == alertname and a["state"] == "firing" for a in found
            )

        # a good backup first: nothing fires
        _wait(
            lambda: (
                "buttress_backup_last_success_timestamp_seconds{"
                in httpx.get(f"{buttress_url}/metrics").text
            ),
            "a first good backup",
            until,
        )
        # the target fails
        failed_at = time.monotonic()
        shutil.rmtree(site)
        _wait(lambda: firing_in_prometheus("BackupTooOld"), "BackupTooOld in Prometheus", until)
        fired = _wait(lambda: history("BackupTooOld", "firing"), "the webhook in buttress", until)
        to_webhook = time.monotonic() - failed_at
        assert fired[0]["receiver"] == "buttress"
        assert fired[0]["labels"]["target"] == "site"
        assert fired[0]["labels"]["severity"] == "critical"
        assert fired[0]["labels"]["service"] == "shop"

        # ... which opened a P1 incident, and its escalation paged the on-call user
        def incidents(status: str) -> list[dict[str, Any]]:
            answer = httpx.get(
                f"{buttress_url}/api/v1/incidents", params={"status": status}, headers=headers
            )
            assert answer.status_code == 200, answer.text
            return list(answer.json()["items"])

        (incident,) = _wait(lambda: incidents("triggered"), "the incident", until)
        assert (incident["severity"], incident["source"]) == ("P1", "alertmanager")
        paged = _wait(lambda: pager.received, "the page", until)
        assert paged[0]["kind"] == "triggered"
        assert paged[0]["incident"]["ref"] == incident["ref"]
        assert [r["name"] for r in paged[0]["recipients"]] == ["alice"]

        # the breaker opens: its warning is inhibited by the critical of the same service
        def fail() -> None:
            raise ConnectionError("payments down")

        for _ in range(4):
            with pytest.raises((ConnectionError, CircuitOpenError)):
                breaker.call(fail)
        assert breaker.state == "open"
        _wait(lambda: firing_in_prometheus("CircuitBreakerOpen"), "CircuitBreakerOpen", until)

        def inhibited() -> bool:
            alerts = am.get("/api/v2/alerts")
            return any(
                a["labels"]["alertname"] == "CircuitBreakerOpen"
                and a["status"]["state"] == "suppressed"
                and a["status"]["inhibitedBy"]
                for a in alerts
            )

        _wait(inhibited, "the breaker's alert inhibited in Alertmanager", until)
        time.sleep(3)  # group_wait and group_interval are 1 s: a notification would be here
        assert sink.alerts("CircuitBreakerOpen") == []
        assert sink.alerts("BackupTooOld") == []  # critical goes to buttress only

        # fixed: the resolved notification reaches buttress, then the breaker's alert reaches ops
        site.mkdir()
        (site / "index.html").write_text("<h1>shop again</h1>\n")
        resolved = _wait(lambda: history("BackupTooOld", "resolved"), "the resolved one", until)
        assert resolved[0]["receiver"] == "buttress"
        _wait(lambda: incidents("resolved"), "the incident resolved by its alert", until)
        _wait(
            lambda: [n for n in pager.received if n["kind"] == "resolved"],
            "the resolution at the pager",
            until,
        )
        ops = _wait(lambda: sink.alerts("CircuitBreakerOpen"), "the breaker's alert at ops", until)
        assert ops[0]["status"] == "firing"
        assert ops[0]["labels"]["policy"] == "payments"
        print(
            f"failure -> buttress webhook: {to_webhook:.1f} s (scrape and evaluation 1 s, "
            f"group_wait 1 s, resend delay 1 s); whole scenario {time.monotonic() - started:.1f} s"
        )
    finally:
        for process in (prom, am):
            if process is not None:
                process.stop()
        server.stop()
        app_server.shutdown()
        app_server.server_close()
