"""The dashboard shell in real headless Chromium against a real ``buttress serve``."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from buttress import __version__
from tests.conftest import Served, start_server

DOMAINS = ["resilience", "health", "backups", "alerts", "incidents", "drills"]


UPTIME = re.compile(r"^(?:(\d+)d )?(?:(\d+)h )?(\d+)m (\d+)s$")  # "1d 0h 3m 7s", "0m 2s"


def _seconds(shown: str) -> int:
    found = UPTIME.match(shown)
    assert found is not None, shown
    days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _api_uptime(served: Served, token: str) -> float:
    answer = httpx.get(
        served.url.rstrip("/") + "/api/v1/status",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    answer.raise_for_status()
    return float(answer.json()["uptime_seconds"])


def sign_in(page: Page, served: Served, token: str) -> None:
    page.goto(served.url)
    page.fill("#token", token)
    page.click("#signin-button")


@pytest.mark.browser
def test_sign_in_shows_status_page(page: Page, served: Served) -> None:
    """Signing in with the admin token shows the status page: version, uptime, catalog backend."""
    assert served.admin_token is not None
    before = _api_uptime(served, served.admin_token)
    sign_in(page, served, served.admin_token)
    expect(page.locator("#status-version")).to_have_text(__version__)
    expect(page.locator("#status-backend")).to_have_text("sqlite")
    expect(page.locator("#status-uptime")).to_have_text(UPTIME)
    shown = _seconds(page.locator("#status-uptime").inner_text())
    # the server's uptime as the API told it just before and just after the page showed it
    assert math.floor(before) <= shown <= _api_uptime(served, served.admin_token)
    expect(page.locator("#who")).to_contain_text("bootstrap-admin (admin)")
    assert page.locator("#token").input_value() == ""


@pytest.mark.browser
def test_wrong_token_is_rejected(page: Page, served: Served) -> None:
    """A wrong token stays on the sign-in form with a clear message."""
    sign_in(page, served, "bt_AAAAAAAA_" + "b" * 32)
    expect(page.locator("#signin-error")).to_contain_text("not accepted")
    expect(page.locator("#shell")).to_be_hidden()


@pytest.fixture
def served_empty(tmp_path: Path) -> Iterator[Served]:
    """A control plane with an empty configuration file: no starter, nothing configured."""
    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    server = start_server(tmp_path / "data", env={"BUTTRESS_CONFIG": str(config)})
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.browser
def test_every_domain_page_has_an_empty_state(page: Page, served_empty: Served) -> None:
    """The navigation has one page per domain, each with its empty state."""
    served = served_empty
    assert served.admin_token is not None
    sign_in(page, served, served.admin_token)
    expect(page.locator("#status-version")).to_be_visible()
    for domain in DOMAINS:
        page.click(f"nav a[data-page={domain}]")
        expect(page.locator("#page")).to_have_attribute("data-page", domain)
        expect(page.locator("#page .empty")).to_be_visible()
        expect(page.locator(f"nav a[data-page={domain}]")).to_have_class("active")


@pytest.mark.browser
def test_sign_out_and_session_survives_reload(page: Page, served: Served) -> None:
    """The token lasts across a reload in the same tab, and sign-out forgets it."""
    assert served.admin_token is not None
    sign_in(page, served, served.admin_token)
    expect(page.locator("#status-version")).to_be_visible()
    page.reload()
    expect(page.locator("#status-version")).to_be_visible()
    page.click("#signout")
    expect(page.locator("#signin")).to_be_visible()
    page.reload()
    expect(page.locator("#signin")).to_be_visible()


@pytest.mark.browser
def test_audit_page_lists_the_bootstrap(page: Page, served: Served) -> None:
    """Admins see the audit page, which lists the admin token's creation."""
    assert served.admin_token is not None
    sign_in(page, served, served.admin_token)
    page.click("nav a[data-page=audit]")
    expect(page.locator("#page table")).to_contain_text("serve:bootstrap")


@pytest.mark.browser
def test_first_start_shows_a_verified_backup_and_a_disk_check(page: Page, served: Served) -> None:
    """The embedded default (no config): the Backups page shows the starter's verified,
    restore-tested backup of the catalog, the Health page its disk check."""
    assert served.admin_token is not None
    sign_in(page, served, served.admin_token)
    expect(page.locator("#status-version")).to_be_visible()
    page.click("nav a[data-page=backups]")
    catalog = page.locator("#backup-targets tr[data-target=catalog]")
    expect(catalog).to_contain_text("sqlite")
    for _ in range(30):  # the first backup runs in the background: reload until it shows
        if "restore test: ok" in (catalog.locator(".checks").text_content() or ""):
            break
        page.wait_for_timeout(1000)
        page.click("nav a[data-page=health]")
        page.click("nav a[data-page=backups]")
    expect(catalog.locator(".checks")).to_contain_text("checksums: ok")
    expect(catalog.locator(".checks")).to_contain_text("restore test: ok")
    expect(catalog.locator(".last-success")).to_contain_text("ago")
    page.click("nav a[data-page=health]")
    disk = page.locator("#health-checks tr[data-check=data-disk]")
    expect(disk.locator(".status")).to_have_text("up", timeout=30_000)
