"""The test harness's Prometheus and Alertmanager start, answer and stop (what the e2e test
and the generated-rules tests stand on)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.alerting.stack import start_alertmanager, start_prometheus
from tests.conftest import wait_until


def test_prometheus_and_alertmanager_start_answer_and_stop(tmp_path: Path) -> None:
    am_config = tmp_path / "alertmanager.yml"
    am_config.write_text(
        yaml.safe_dump({"route": {"receiver": "null"}, "receivers": [{"name": "null"}]})
    )
    with start_alertmanager(tmp_path / "am", am_config) as am:
        status = am.get("/api/v2/status")
        assert status["cluster"]["status"] == "disabled"
        with start_prometheus(
            tmp_path / "prom",
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [am.url[7:]]}]}]},
            },
        ) as prom:
            answer = prom.get("/api/v1/query", query="1+1")
            assert answer["data"]["result"][1] == "2"
            wait_until(
                lambda: bool(prom.get("/api/v1/alertmanagers")["data"]["activeAlertmanagers"]),
                "Prometheus to find the Alertmanager",
            )
        assert prom.process.poll() is not None
    assert am.process.poll() is not None
