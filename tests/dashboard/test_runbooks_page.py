"""The Runbooks page in real headless Chromium against a real ``buttress serve``: a run
started from the page waits at its confirm step, is approved with the button and succeeds,
its steps shown live; a dry run shows the plan; a viewer sees no Run button."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Served, start_server
from tests.dashboard.test_dashboard import sign_in
from tests.runbooks.cli_support import CONFIG


@pytest.fixture
def runbooks_server(tmp_path: Path) -> Iterator[Served]:
    config = tmp_path / "buttress.yaml"
    config.write_text(CONFIG)
    server = start_server(tmp_path / "data", env={"BUTTRESS_CONFIG": str(config)})
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.browser
def test_a_run_is_started_and_confirmed_from_the_page(page: Page, runbooks_server: Served) -> None:
    """Run "ask": the page follows the run to its waiting step; Approve lets it succeed."""
    served = runbooks_server
    assert served.admin_token is not None
    sign_in(page, served, served.admin_token)
    page.click("nav a[data-page=runbooks]")
    box = page.locator("section.runbook[data-runbook=ask]")
    expect(box).to_contain_text("gate (confirm)")
    box.locator("button.run").click()
    expect(page.locator("#confirm-box")).to_contain_text("Fail over now?")
    expect(page.locator("#run-status")).to_have_text("running")
    page.fill("#confirm-box input[name=comment]", "replica is in sync")
    page.click("#confirm-approve")
    expect(page.locator("#run-status")).to_have_text("succeeded")
    steps = page.locator("#run-steps tr[data-step]")
    expect(steps).to_have_count(2)
    expect(page.locator("#run-steps tr[data-step='0']")).to_contain_text("approved by")
    page.click("text=All runbooks")
    expect(page.locator("#runbook-runs tr[data-run='1']")).to_contain_text("succeeded")


@pytest.mark.browser
def test_a_dry_run_from_the_page_shows_the_plan(page: Page, runbooks_server: Served) -> None:
    """Dry run of "nap" with a parameter: every step shows as planned (skipped)."""
    served = runbooks_server
    assert served.admin_token is not None
    sign_in(page, served, served.admin_token)
    page.click("nav a[data-page=runbooks]")
    box = page.locator("section.runbook[data-runbook=nap]")
    box.locator("input[name=seconds]").fill("7")
    box.locator("button.dry-run").click()
    expect(page.locator("#run-status")).to_have_text("succeeded")
    expect(page.locator("#run-steps tr[data-step]")).to_have_count(3)
    expect(page.locator("#run-steps tr[data-step='1']")).to_contain_text("sleep 7")
    expect(page.locator("#page h2")).to_contain_text("(dry run)")


@pytest.mark.browser
def test_a_viewer_sees_no_run_button(page: Page, runbooks_server: Served, tmp_path: Path) -> None:
    """A viewer token lists the runbooks without Run or Dry run."""
    out = subprocess.run(
        [sys.executable, "-m", "buttress", "-c", str(tmp_path / "buttress.yaml"),
         "--data-dir", str(tmp_path / "data"), "token", "create", "watcher", "--role", "viewer"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    viewer = next(line for line in out.stdout.split() if line.startswith("bt_"))
    sign_in(page, runbooks_server, viewer)
    page.click("nav a[data-page=runbooks]")
    expect(page.locator("section.runbook[data-runbook=ask]")).to_be_visible()
    expect(page.locator("section.runbook button")).to_have_count(0)


@pytest.mark.browser
def test_a_failed_run_is_resumed_from_the_page(page: Page, runbooks_server: Served) -> None:
    """A failed run offers Resume; the new run names the one it continues."""
    served = runbooks_server
    assert served.admin_token is not None
    sign_in(page, served, served.admin_token)
    page.click("nav a[data-page=runbooks]")
    page.locator("section.runbook[data-runbook=broken] button.run").click()
    expect(page.locator("#run-status")).to_have_text("failed")
    page.click("#run-follow button[data-action=resume]")
    expect(page.locator("#page h2")).to_contain_text("Run 2")
    expect(page.locator("#page")).to_contain_text("resume by")
    expect(page.locator("#page")).to_contain_text("continues run 1")


@pytest.mark.browser
def test_a_link_to_one_runbook_shows_it_alone(page: Page, runbooks_server: Served) -> None:
    """#/runbooks?name=NAME (what an alert's runbook_url points at) shows that runbook only."""
    served = runbooks_server
    assert served.admin_token is not None
    sign_in(page, served, served.admin_token)
    expect(page.locator("#status-version")).to_be_visible()
    page.goto(served.url + "#/runbooks?name=broken")
    expect(page.locator("section.runbook")).to_have_count(1)
    expect(page.locator("section.runbook[data-runbook=broken]")).to_contain_text("1 step")
