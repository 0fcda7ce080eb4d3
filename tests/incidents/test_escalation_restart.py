"""The control plane killed (SIGKILL) while an escalation timer is pending: after a restart the
next level is sent once, late, and the timeline says how late."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import yaml

from tests.alerting.test_webhook_api import alert, payload
from tests.conftest import start_server
from tests.incidents.notify_receivers import Receiver, receiver

__all__ = ["receiver"]

WAIT = 30.0
T = TypeVar("T")


def _until(check: Callable[[], T], what: str) -> T:
    deadline = time.monotonic() + WAIT
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_killed_server_sends_the_pending_level_once_after_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = tmp_path / "buttress.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "incidents": {
                    "oncall": {"users": {"alice": {}, "bob": {}}},
                    "notifiers": {
                        "hook": {"type": "webhook", "url": f"{receiver.url}/hook", "retries": 0}
                    },
                    "escalation_policies": {
                        "default": {
                            "channels": ["hook"],
                            "levels": [
                                {"notify": {"users": ["alice"]}, "wait": "3s"},
                                {"notify": {"users": ["bob"]}},
                            ],
                        }
                    },
                    "default_escalation_policy": "default",
                }
            }
        )
    )
    env = {"BUTTRESS_CONFIG": str(config)}
    data = tmp_path / "data"
    first = start_server(data, env=env)
    assert first.admin_token is not None
    headers = {"Authorization": f"Bearer {first.admin_token}"}
    answer = httpx.post(
        f"{first.url.rstrip('/')}/api/v1/alerts/alertmanager",
        json=payload("firing", alert("BackupMissing", "firing")),
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    ref = answer.json()["incident"]
    _until(lambda: len(receiver.requests) == 1, "level 1")

    def first_records() -> list[dict[str, object]]:
        shown = httpx.get(f"{first.url.rstrip('/')}/api/v1/incidents/{ref}", headers=headers)
        assert shown.status_code == 200, shown.text
        return [e for e in shown.json()["timeline"] if e["kind"] == "notification"]

    # a send's record is written after the send: killed between the two, level 1 would be sent
    # but unrecorded, and the count of records below would be off by one
    _until(first_records, "level 1's record")
    first.process.send_signal(signal.SIGKILL)  # no graceful stop: the timer stays pending
    first.process.wait(timeout=10)
    assert first.process.stdout is not None
    first.process.stdout.close()
    time.sleep(3 + 6)  # the level's wait passes, and more, while nothing runs

    second = start_server(data, env=env)
    try:
        _until(lambda: len(receiver.requests) == 2, "level 2 after the restart")
        assert receiver.requests[1].json()["incident"]["level"] == 2

        def timeline() -> list[dict[str, object]]:
            shown = httpx.get(f"{second.url.rstrip('/')}/api/v1/incidents/{ref}", headers=headers)
            assert shown.status_code == 200, shown.text
            return list(shown.json()["timeline"])

        def late() -> list[dict[str, object]]:
            return [e for e in timeline() if e["kind"] == "timer_late"]

        (event,) = _until(late, "the late timer's event")
        detail = event["detail"]
        assert isinstance(detail, dict)
        assert detail["late_s"] > 5
        _until(lambda: [e for e in timeline() if e["kind"] == "notification"][1:], "its record")
        time.sleep(1)
        assert len(receiver.requests) == 2  # once
    finally:
        assert second.stop() == 0
