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


@pytest.fixture
def level_server(tmp_path: Path) -> Iterator[Served]:
    config = tmp_path / "buttress.yaml"
    config.write_text(
        "health:\n  window: 1\n  checks:\n"
        "    - {name: smtp, type: tcp, host: 127.0.0.1, port: 1, interval: 1s, timeout: 500ms}\n"
        "  degradation:\n    evaluate_every: 200ms\n    for: 0s\n"
        "    features: [recommendations, checkout]\n"
        "    level:\n      YELLOW: {when: {health_score: 60}, disable: [recommendations]}\n"
        "      RED: {enable_only: [checkout]}\n"
    )
    server = start_server(tmp_path / "data", env={"BUTTRESS_CONFIG": str(config)})
    yield server
    server.stop()


@pytest.mark.browser
def test_level_light_flags_and_override_form(page: Page, level_server: Served) -> None:
    """The level as a traffic light with why; an operator overrides it and clears it."""
    assert level_server.admin_token is not None
    sign_in(page, level_server, level_server.admin_token)
    page.click("nav a[data-page=health]")
    expect(page.locator("#level-name")).to_have_text("YELLOW", timeout=15_000)
    expect(page.locator("#level-why")).to_contain_text("health_score < 60")
    expect(page.locator("#level-features")).to_contain_text("recommendations: off")
    page.select_option("#override-form select", "RED")
    page.fill("#override-form input[name=for]", "10m")
    page.click("#override-form button[type=submit]")
    expect(page.locator("#override-error")).to_contain_text("reason")  # required, refused
    page.fill("#override-form input[name=reason]", "failover drill")
    page.click("#override-form button[type=submit]")
    expect(page.locator("#level-name")).to_have_text("RED")
    expect(page.locator("#level-why")).to_contain_text("failover drill")
    expect(page.locator("#level-features")).to_contain_text("checkout: on")
    page.click("#override-clear")
    expect(page.locator("#level-name")).to_have_text("YELLOW")
