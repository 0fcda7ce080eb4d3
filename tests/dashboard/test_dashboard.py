"""The dashboard shell in real headless Chromium against a real ``buttress serve``."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from buttress import __version__
from tests.conftest import Served

DOMAINS = ["resilience", "health", "backups", "alerts", "incidents", "drills"]


def sign_in(page: Page, served: Served, token: str) -> None:
    page.goto(served.url)
    page.fill("#token", token)
    page.click("#signin-button")


@pytest.mark.browser
def test_sign_in_shows_status_page(page: Page, served: Served) -> None:
    """Signing in with the admin token shows the status page: version, uptime, catalog backend."""
    assert served.admin_token is not None
    sign_in(page, served, served.admin_token)
    expect(page.locator("#status-version")).to_have_text(__version__)
    expect(page.locator("#status-backend")).to_have_text("sqlite")
    expect(page.locator("#status-uptime")).to_contain_text("s")
    expect(page.locator("#who")).to_contain_text("bootstrap-admin (admin)")
    assert page.locator("#token").input_value() == ""


@pytest.mark.browser
def test_wrong_token_is_rejected(page: Page, served: Served) -> None:
    """A wrong token stays on the sign-in form with a clear message."""
    sign_in(page, served, "bt_AAAAAAAA_" + "b" * 32)
    expect(page.locator("#signin-error")).to_contain_text("not accepted")
    expect(page.locator("#shell")).to_be_hidden()


@pytest.mark.browser
def test_every_domain_page_has_an_empty_state(page: Page, served: Served) -> None:
    """The navigation has one page per domain, each with its empty state."""
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
