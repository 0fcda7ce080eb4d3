"""``buttress incident notify-test CHANNEL`` sends one test notification and says how it went."""

from __future__ import annotations

from pathlib import Path

import pytest

from buttress.cli import main
from tests.incidents.notify_receivers import Receiver, receiver

__all__ = ["receiver"]


def test_notify_test_delivers_and_reports(
    tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reachable channel gets the test message; an unknown one exits 1 naming it."""
    config = tmp_path / "buttress.yaml"
    config.write_text(
        f"incidents:\n  notifiers:\n    ops: {{type: teams, webhook_url: '{receiver.url}/w'}}\n"
    )
    base = ["--config", str(config), "--data-dir", str(tmp_path), "incident", "notify-test"]
    assert main([*base, "ops"]) == 0
    assert "ops: delivered (1 attempt(s), status 200)" in capsys.readouterr().out
    card = receiver.requests[0].json()["attachments"][0]["content"]
    assert card["body"][0]["text"] == "[P4] INC-TEST triggered: buttress notify-test"
    assert main([*base, "nope"]) == 1
    assert "unknown notifier 'nope' (configured: ops)" in capsys.readouterr().err
