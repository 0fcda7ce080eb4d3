"""The Resilience page in real headless Chromium against a real ``buttress serve`` with three
configured policies: each is shown with its settings and state; an operator forces the
breaker open and resets it from the page; a viewer gets no buttons."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Served, start_server
from tests.dashboard.test_backups_page import _viewer_token
from tests.dashboard.test_dashboard import sign_in

POLICIES = """resilience:
  policies:
    database:
      retry: {attempts: 4}
      circuit_breaker: {failure_rate: 50, minimum_calls: 5, wait: 30s}
    payments:
      rate_limit: {algorithm: gcra, rate: 10, per: 1s, burst: 5}
      bulkhead: {max_concurrent: 3}
    search:
      timeout: {seconds: 750ms}
"""


@pytest.fixture
def resilient(tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    config = tmp_path / "buttress.yaml"
    config.write_text(POLICIES)
    server = start_server(tmp_path / "data", env={"BUTTRESS_CONFIG": str(config)})
    try:
        yield server, config
    finally:
        server.stop()


@pytest.mark.browser
def test_the_page_shows_the_configured_policies(page: Page, resilient: tuple[Served, Path]) -> None:
    """Three configured policies: three sections with their policies' settings and state, not
    the empty state."""
    served, _ = resilient
    assert served.admin_token is not None
    sign_in(page, served, served.admin_token)
    page.click("nav a[data-page=resilience]")
    expect(page.locator("section.policy")).to_have_count(3)
    expect(page.locator("#page .empty")).to_have_count(0)
    database = page.locator("section.policy[data-policy=database]")
    expect(database.locator("tr[data-kind=Retry] .settings")).to_contain_text("attempts=4")
    breaker = database.locator("tr[data-kind=CircuitBreaker]")
    expect(breaker.locator(".settings")).to_contain_text("minimum_calls=5")
    expect(breaker.locator(".breaker-state")).to_have_text("closed")
    payments = page.locator("section.policy[data-policy=payments]")
    expect(payments.locator("tr[data-kind=Bulkhead] .occupancy")).to_have_text(
        "0 of 3 running, 0 of 0 queued"
    )
    expect(payments.locator("tr[data-kind=RateLimiter] .settings")).to_contain_text("GCRA(")
    expect(payments.locator("tr[data-kind=RateLimiter] .limiter-keys")).to_have_text(
        "0 keys tracked"
    )
    search = page.locator("section.policy[data-policy=search]")
    expect(search.locator("tr[data-kind=Timeout] .settings")).to_contain_text("seconds=0.75")


@pytest.mark.browser
def test_an_operator_forces_the_breaker_from_the_page(
    page: Page, resilient: tuple[Served, Path]
) -> None:
    """Force open: the page and the API say forced_open; Reset: closed again; both audited."""
    served, _ = resilient
    assert served.admin_token is not None
    auth = {"Authorization": f"Bearer {served.admin_token}"}
    sign_in(page, served, served.admin_token)
    page.click("nav a[data-page=resilience]")
    breaker = page.locator("section.policy[data-policy=database] tr[data-kind=CircuitBreaker]")
    breaker.locator("button[data-action=force_open]").click()
    expect(breaker.locator(".breaker-state")).to_have_text("forced open")
    expect(page.locator("#resilience-note")).to_contain_text("now forced open")
    api = httpx.get(served.url + "api/v1/resilience/policies/database", headers=auth).json()
    assert [p["breaker"]["state"] for p in api["policies"] if p["breaker"]] == ["forced_open"]
    breaker.locator("button[data-action=reset]").click()
    expect(breaker.locator(".breaker-state")).to_have_text("closed")
    audit = httpx.get(
        served.url + "api/v1/audit", params={"action": "resilience.breaker"}, headers=auth
    ).json()
    assert [(a["target"], a["detail"]["action"]) for a in audit] == [
        ("policy=database", "reset"),
        ("policy=database", "force_open"),
    ]


@pytest.mark.browser
def test_a_viewer_sees_the_state_but_no_buttons(
    page: Page, resilient: tuple[Served, Path], tmp_path: Path
) -> None:
    """A viewer sees the breaker's state and no force or reset button."""
    served, config = resilient
    sign_in(page, served, _viewer_token(tmp_path / "data", config))
    page.click("nav a[data-page=resilience]")
    expect(page.locator(".breaker-state")).to_have_text("closed")
    expect(page.locator("button[data-action]")).to_have_count(0)


@pytest.mark.browser
def test_a_breaker_can_be_forced_on_a_phone(
    browser: Browser, resilient: tuple[Served, Path], tmp_path: Path
) -> None:
    """At 390x844 each policy's rows stack: the breaker's state and buttons are on screen, the
    page no wider than it."""
    served, _ = resilient
    assert served.admin_token is not None
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        sign_in(page, served, served.admin_token)
        page.goto(served.url + "#/resilience")
        breaker = page.locator("section.policy[data-policy=database] tr[data-kind=CircuitBreaker]")
        button = breaker.locator("button[data-action=force_open]")
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(tmp_path / "resilience-390.png"), full_page=True)
        button.click()
        expect(breaker.locator(".breaker-state")).to_have_text("forced open")
    finally:
        context.close()
