"""The generated alertmanager.yml in a real Alertmanager (prometheus-alertmanager 0.25, free
ports, no cluster, stopped by PID): each inhibition pair of the route tests holds and only for
equal labels, a notification reaches the webhook receivers with the v4 payload buttress's
webhook accepts (and its bearer token), the resolved one follows, and a route is muted exactly
while in_window says its maintenance window holds, time zone included."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.request
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from buttress.alerting import alertmanager
from buttress.alerting.api import WebhookPayload
from buttress.alerting.generate import generate
from buttress.alerting.maintenance import in_window
from buttress.config import ButtressConfig, MaintenanceWindowConfig, load_text
from tests.alerting import stack
from tests.alerting.stack import Process
from tests.conftest import Served, wait_until

TOKEN = "bt_live_token_for_alertmanager"  # a test's own token


@dataclass
class Received:
    """What the test's webhook server was sent: (path, Authorization header, JSON body)."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self, path: str) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [(auth, body) for p, auth, body in self.calls if p == path]


@pytest.fixture
def receiver() -> Iterator[tuple[int, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's name
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            with received.lock:
                received.calls.append((self.path, self.headers.get("Authorization", ""), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Alertmanager:
    url: str
    log: Path

    def call(self, method: str, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310  # loopback
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            text = answer.read()
        return json.loads(text) if text and path.startswith("/api/") else None

    def post(self, *alerts: dict[str, Any]) -> None:
        self.call("POST", "/api/v2/alerts", list(alerts))

    def alerts(self) -> dict[str, dict[str, Any]]:
        """The alerts it holds, by alertname."""
        return {a["labels"]["alertname"]: a for a in self.call("GET", "/api/v2/alerts")}


def start_alertmanager(config: ButtressConfig, out: Path) -> tuple[Process, Alertmanager]:
    for file in generate(config):
        if file.kind in ("alertmanager", "alertmanager-test"):
            (out / file.path).write_text(file.content)
    process = stack.start_alertmanager(
        out, out / alertmanager.CONFIG_FILE, extra=("--log.level=debug",)
    )
    return process, Alertmanager(process.url, process.log)


def stop(process: Process) -> None:
    process.stop()


def firing(name: str, **labels: str) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": f"{name} is firing"},
        "startsAt": now.isoformat(),
        "endsAt": (now + dt.timedelta(minutes=10)).isoformat(),
        "generatorURL": "http://prometheus.test/graph",
    }


SHORT = """
    severities:
      - {name: critical, group_wait: 100ms, group_interval: 1s, repeat_interval: 1h}
      - {name: warning, group_wait: 100ms, group_interval: 1s, repeat_interval: 1h}
      - {name: info, group_wait: 100ms, group_interval: 1s, repeat_interval: 1h}
"""


def test_every_inhibition_pair_holds_in_alertmanager(tmp_path: Path) -> None:
    config = load_text(
        "alerting:\n  alertmanager:\n" + SHORT + "    inhibitions:\n"
        "      - {source: warning, target: info, equal: [service, env]}\n",
        env={},
    )
    process, am = start_alertmanager(config, tmp_path)
    try:
        pairs = json.loads((tmp_path / alertmanager.TESTS_FILE).read_text())["inhibitions"]
        assert len(pairs) == 4
        sent = []
        for i, pair in enumerate(pairs):
            # each pair's equal labels its own (a critical of one pair would inhibit the
            # warning of another on the same service: right, but not this pair's point)
            own = {k: f"{pair['source'][k]}-{i}" for k in pair["equal"]}
            source = {**pair["source"], **own, "alertname": f"Source{i}"}
            if pair["source"]["alertname"] == "TargetDown":
                source["alertname"] = "TargetDown"
            target = {**pair["target"], **own, "alertname": f"Target{i}"}
            # the same target but for the equal labels: never inhibited
            other = {**target, "alertname": f"Other{i}"} | dict.fromkeys(own, f"other-{i}")
            am.post(firing(source["alertname"], **_rest(source)))
            am.post(firing(target["alertname"], **_rest(target)))
            am.post(firing(other["alertname"], **_rest(other)))
            sent.append((source["alertname"], target["alertname"], other["alertname"]))

        def inhibited() -> dict[str, list[str]]:
            return {n: a["status"]["inhibitedBy"] for n, a in am.alerts().items()}

        wait_until(
            lambda: all(inhibited().get(t) for _, t, _ in sent), "every target inhibited", 20
        )
        state = am.alerts()
        for source, target, other in sent:
            assert state[target]["status"]["state"] == "suppressed"
            assert state[target]["status"]["inhibitedBy"] == [state[source]["fingerprint"]]
            assert state[source]["status"]["inhibitedBy"] == [], source
            assert state[other]["status"]["inhibitedBy"] == [], other
            assert state[other]["status"]["state"] == "active"
    finally:
        stop(process)


def _rest(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != "alertname"}


def test_notifications_reach_the_webhook_and_buttress_receivers_then_resolve(
    tmp_path: Path, receiver: tuple[int, Received]
) -> None:
    port, received = receiver
    config = load_text(
        "alerting:\n  alertmanager:\n"
        + SHORT.replace("repeat_interval: 1h}", "repeat_interval: 1h, receiver: hook}", 1)
        + "    receivers:\n"
        f"      - {{name: hook, type: webhook, url: 'http://127.0.0.1:{port}/hook'}}\n"
        f"      - {{name: buttress, type: buttress, url: 'http://127.0.0.1:{port}/bt',"
        f" token: '{TOKEN}'}}\n"
        "    routes:\n      - {receiver: buttress, continue: true}\n",
        env={},
    )
    process, am = start_alertmanager(config, tmp_path)
    try:
        alert = firing("BackupMissing", severity="critical", service="db", target="main")
        am.post(alert)
        wait_until(
            lambda: bool(received.at("/bt/api/v1/alerts/alertmanager")), "buttress notified", 20
        )
        wait_until(lambda: bool(received.at("/hook")), "the webhook notified", 20)
        (auth, body), *_ = received.at("/bt/api/v1/alerts/alertmanager")
        assert auth == f"Bearer {TOKEN}"
        notification = WebhookPayload.model_validate(body)  # what buttress's webhook reads
        assert notification.receiver == "buttress"
        assert notification.status == "firing"
        assert [a.labels["target"] for a in notification.alerts] == ["main"]
        assert notification.alerts[0].ends_at is None
        assert received.at("/hook")[0][0] == ""  # no token for the generic webhook
        now = dt.datetime.now(dt.UTC).isoformat()
        am.post({**alert, "endsAt": now})
        wait_until(
            lambda: any(
                b["status"] == "resolved" for _, b in received.at("/bt/api/v1/alerts/alertmanager")
            ),
            "the resolved notification",
            20,
        )
        resolved = [
            b for _, b in received.at("/bt/api/v1/alerts/alertmanager") if b["status"] == "resolved"
        ]
        assert WebhookPayload.model_validate(resolved[0]).alerts[0].ends_at is not None
    finally:
        stop(process)


def _minutes_around(moment: dt.datetime, begin: int, end: int) -> list[dict[str, Any]]:
    """Intervals covering [moment+begin min, moment+end min) of the local clock, split at
    midnight (a time range cannot cross it)."""
    start = moment + dt.timedelta(minutes=begin)
    stop_at = moment + dt.timedelta(minutes=end)
    if start.date() == stop_at.date():
        return [{"times": [{"start_time": f"{start:%H:%M}", "end_time": f"{stop_at:%H:%M}"}]}]
    return [
        {"times": [{"start_time": f"{start:%H:%M}", "end_time": "24:00"}]},
        {"times": [{"start_time": "00:00", "end_time": f"{stop_at:%H:%M}"}]},
    ]


def test_a_route_is_muted_while_in_window_says_its_window_holds(
    tmp_path: Path, receiver: tuple[int, Received]
) -> None:
    """Two windows in Tokyo's time: one around now, one an hour ahead; read in UTC the first
    would not hold (nine hours off), so a zone-blind reading fails this test."""
    port, received = receiver
    tokyo = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Tokyo"))
    windows = {
        "now": _minutes_around(tokyo, -30, 30),
        "later": _minutes_around(tokyo, 60, 120),
    }
    models = {
        name: MaintenanceWindowConfig(name=name, location="Asia/Tokyo", intervals=intervals)
        for name, intervals in windows.items()
    }
    now = dt.datetime.now(dt.UTC)
    assert in_window(models["now"], now)
    assert not in_window(models["later"], now)
    blind = models["now"].model_copy(update={"location": "UTC"})
    assert not in_window(blind, now)
    text = (
        "alerting:\n  alertmanager:\n" + SHORT + "    receivers:\n"
        f"      - {{name: muted, type: webhook, url: 'http://127.0.0.1:{port}/muted'}}\n"
        f"      - {{name: open, type: webhook, url: 'http://127.0.0.1:{port}/open'}}\n"
        "    routes:\n"
        "      - {team: db, receiver: muted, continue: true, mute_time_intervals: [now]}\n"
        "      - {team: db, receiver: open, mute_time_intervals: [later]}\n"
        "    maintenance_windows:\n"
        + "".join(
            f"      - name: {name}\n        location: Asia/Tokyo\n"
            f"        intervals: {json.dumps(intervals)}\n"
            for name, intervals in windows.items()
        )
    )
    process, am = start_alertmanager(load_text(text, env={}), tmp_path)
    try:
        am.post(firing("DiskFull", severity="warning", team="db", service="pg"))
        wait_until(lambda: bool(received.at("/open")), "the route outside its window to notify", 20)
        wait_until(
            lambda: "route is within mute time" in am.log.read_text(),
            "alertmanager to mute the other route",
            20,
        )
        assert received.at("/muted") == []
    finally:
        stop(process)


def test_alertmanager_notifies_a_running_buttress_which_keeps_the_history(
    tmp_path: Path, served: Served
) -> None:
    """`buttress serve` as the buttress receiver: the operator token read from a file by
    Alertmanager (credentials_file), the firing and then the resolved alert in the history."""
    assert served.admin_token is not None
    admin = {"Authorization": f"Bearer {served.admin_token}"}
    made = httpx.post(
        served.url + "api/v1/tokens",
        json={"name": "alertmanager", "role": "operator"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    token_file = tmp_path / "buttress.token"
    token_file.write_text(made.json()["token"])
    out = tmp_path / "am"
    out.mkdir()
    config = load_text(
        "alerting:\n  alertmanager:\n    receiver: buttress\n" + SHORT + "    receivers:\n"
        f"      - {{name: buttress, type: buttress, url: '{served.url}',"
        f" token_file: {token_file}}}\n",
        env={},
    )
    process, am = start_alertmanager(config, out)
    try:
        alert = firing("BreakerOpen", severity="warning", service="api", policy="payments")
        am.post(alert)

        def history() -> list[dict[str, Any]]:
            answer = httpx.get(served.url + "api/v1/alerts/history", headers=admin)
            assert answer.status_code == 200, answer.text
            rows: list[dict[str, Any]] = answer.json()
            return rows

        wait_until(lambda: bool(history()), "buttress to receive the notification", 20)
        (row,) = history()
        assert row["alertname"] == "BreakerOpen"
        assert row["status"] == "firing"
        assert row["receiver"] == "buttress"
        assert row["labels"]["policy"] == "payments"
        am.post({**alert, "endsAt": dt.datetime.now(dt.UTC).isoformat()})
        wait_until(lambda: history()[0]["status"] == "resolved", "the resolved notification", 20)
        assert history()[0]["ends_at"] is not None
        metrics = httpx.get(served.url + "metrics", headers=admin).text
        assert 'buttress_alert_notifications_total{status="resolved"} 1.0' in metrics
    finally:
        stop(process)
