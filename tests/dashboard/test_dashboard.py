"""The dashboard shell in real headless Chromium against a real ``buttress serve``."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from buttress import __version__
from buttress.cli import main
from buttress.config import load
from tests.conftest import Served, start_server

DOMAINS = ["resilience", "health", "backups", "alerts", "incidents", "drills"]
DOCS = {
    "resilience": "docs/resilience.md",
    "health": "docs/health.md",
    "backups": "docs/backup.md",
    "alerts": "README.md",
    "incidents": "docs/incidents.md",
    "drills": "README.md",
}
ROOT = Path(__file__).resolve().parents[2]


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
        expect(page.locator("#page .empty .doc code")).to_have_text(DOCS[domain])


@pytest.mark.browser
def test_each_empty_state_shows_yaml_that_fills_it(
    page: Page,
    served_empty: Served,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Resilience, Health and Backups empty states name their doc section, which exists,
    and show a YAML snippet that `buttress config check` accepts and that fills the page."""
    served = served_empty
    assert served.admin_token is not None
    sign_in(page, served, served.admin_token)
    project = tmp_path / "project"
    project.mkdir()
    (project / "site").mkdir()
    monkeypatch.chdir(project)  # the snippets' relative paths, as `serve` run there reads them
    assert main(["backup", "keygen", str(project / "age.key")]) == 0
    (project / "age.pub").write_text(capsys.readouterr().out.strip() + "\n")
    filling = {"resilience": "policies", "health": "checks", "backups": "targets"}
    for domain, filled in filling.items():
        page.click(f"nav a[data-page={domain}]")
        # this domain's empty state, not the previous page's still shown (a loaded machine)
        doc_name = "backup.md" if domain == "backups" else f"{domain}.md"
        expect(page.locator("#page .empty .doc")).to_contain_text(doc_name)
        expect(page.locator("#page .empty pre.snippet")).to_be_visible()
        doc, section = (page.locator("#page .empty .doc").text_content() or "").split(" § ")
        heading = f"## {section}"
        assert heading in (ROOT / doc.removeprefix("Docs: ")).read_text().splitlines()
        snippet = page.locator("#page .empty pre.snippet").text_content() or ""
        path = project / f"{domain}.yaml"
        path.write_text(snippet)
        assert main(["config", "check", str(path)]) == 0, capsys.readouterr()
        section_of = getattr(load(path), "backup" if domain == "backups" else domain)
        assert getattr(section_of, filled), f"the {domain} snippet configures no {filled}"


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


PAGES = ["status", "resilience", "health", "backups", "alerts", "incidents", "drills", "audit"]


@pytest.mark.browser
def test_no_console_error_or_failed_request_on_any_page(page: Page, served: Served) -> None:
    """With the default configuration, every page (and a run's detail) loads with no console
    error, no page error and no request that fails or answers 4xx/5xx (favicon included)."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None,
    )
    assert served.admin_token is not None
    sign_in(page, served, served.admin_token)
    expect(page.locator("#status-version")).to_be_visible()
    for name in PAGES:
        page.click(f"nav a[data-page={name}]")
        expect(page.locator(f"#page[data-page={name}] h1")).to_be_visible()
        page.wait_for_load_state("networkidle")
    expect(page.locator("#health-checks")).to_have_count(0)  # on Audit now
    assert problems == []
    runs = page.request.get(
        served.url + "api/v1/backups/runs",
        headers={"Authorization": f"Bearer {served.admin_token}"},
    ).json()
    assert runs, "the starter's first backup has a run"
    page.goto(served.url + f"#/backups?run={runs[0]['id']}")
    expect(page.locator("#run-detail h2")).to_contain_text(runs[0]["id"])
    page.wait_for_load_state("networkidle")
    icon = page.request.get(served.url + "static/favicon.svg")
    assert icon.status == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert problems == []


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@pytest.mark.browser
def test_usable_on_a_390px_wide_phone(browser: Browser, served: Served, tmp_path: Path) -> None:
    """At 390x844 the navigation is collapsed behind a menu button that opens it, no page is
    wider than the screen, and wide tables scroll inside their box; a screenshot is saved."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        assert served.admin_token is not None
        sign_in(page, served, served.admin_token)
        expect(page.locator("#status-version")).to_be_visible()
        menu = page.locator("#menu-button")
        expect(menu).to_be_visible()
        expect(page.locator("nav a[data-page=backups]")).to_be_hidden()
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(page.locator("nav a[data-page=backups]")).to_be_visible()
        page.click("nav a[data-page=backups]")
        expect(page.locator("#backup-targets")).to_be_visible()
        expect(page.locator("nav a[data-page=backups]")).to_be_hidden()  # closed again
        for name in PAGES:
            page.goto(served.url + f"#/{name}")
            expect(page.locator(f"#page[data-page={name}] h1")).to_be_visible()
            page.wait_for_load_state("networkidle")
            expect(page.locator("#page h1")).to_have_count(1)  # no earlier page mixed in
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the {name} page is {width} px wide on a 390 px screen"
        page.goto(served.url + "#/backups")
        expect(page.locator("#backup-runs")).to_be_visible()
        box = page.locator("#backup-runs").locator("xpath=..")
        assert box.evaluate("e => getComputedStyle(e).overflowX") == "auto"
        shot = tmp_path / "dashboard-390.png"
        page.screenshot(path=str(shot), full_page=True)
        assert _png_size(shot)[0] == 390
        menu.click()
        page.screenshot(path=str(tmp_path / "dashboard-390-menu.png"))
    finally:
        context.close()
