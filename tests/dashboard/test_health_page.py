"""The Health page in real headless Chromium: the score, readiness, and each check with its
status, detail and recent history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Served, start_server
from tests.dashboard.test_dashboard import sign_in


@pytest.fixture
def health_server(tmp_path: Path) -> Iterator[Served]:
    config = tmp_path / "buttress.yaml"
    config.write_text(
        "health:\n  checks:\n"
        "    - {name: scratch, type: disk, path: /, min_free_percent: 0, interval: 1s,"
        " timeout: 1s}\n"
        "    - {name: smtp, type: tcp, host: 127.0.0.1, port: 1, critical: true, interval: 1s,"
        " timeout: 500ms}\n"
    )
    server = start_server(tmp_path / "data", env={"BUTTRESS_CONFIG": str(config)})
    yield server
    server.stop()


@pytest.mark.browser
def test_health_page_shows_score_readiness_and_checks(page: Page, health_server: Served) -> None:
    assert health_server.admin_token is not None
    sign_in(page, health_server, health_server.admin_token)
    page.click("nav a[data-page=health]")
    expect(page.locator("#health-score")).to_have_text("50", timeout=15_000)
    expect(page.locator("#health-ready")).to_contain_text("not ready")
    smtp = page.locator("#health-checks tr[data-check=smtp]")
    expect(smtp.locator(".status")).to_have_text("down")
    expect(smtp).to_contain_text("127.0.0.1:1")
    expect(smtp).to_contain_text("critical")
    expect(page.locator("#health-checks tr[data-check=scratch] .status")).to_have_text("up")
    expect(smtp.locator(".dot.down").first).to_be_visible()
