"""The Backups page in real headless Chromium: targets with their last good backup, size
trend and check results; an operator runs a backup with the button and sees it succeed; a
viewer gets no button."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from buttress.cli import main
from tests.backup.conftest import config_file
from tests.conftest import Served, start_server
from tests.dashboard.test_dashboard import sign_in


@pytest.fixture
def backup_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Served]:
    monkeypatch.chdir(tmp_path)
    assert main(["backup", "keygen", "key.txt"]) == 0
    recipient = capsys.readouterr().out.strip()
    config = config_file(tmp_path, recipient)
    server = start_server(tmp_path / "data", env={"BUTTRESS_CONFIG": config})
    yield server
    server.stop()


def _viewer_token(data_dir: Path, config: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "buttress", "-c", str(config), "--data-dir", str(data_dir),
         "token", "create", "watcher", "--role", "viewer"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return next(line for line in out.stdout.split() if line.startswith("bt_"))


@pytest.mark.browser
def test_operator_runs_a_backup_from_the_page(page: Page, backup_server: Served) -> None:
    assert backup_server.admin_token is not None
    sign_in(page, backup_server, backup_server.admin_token)
    page.click("nav a[data-page=backups]")
    site = page.locator("#backup-targets tr[data-target=site]")
    expect(site).to_contain_text("directory")
    expect(site.locator(".last-success")).to_have_text("never")
    site.locator("button.run").click()
    expect(page.locator("#backups-note")).to_contain_text("of site started")
    expect(page.locator("#backup-runs")).to_contain_text("succeeded", timeout=30_000)
    expect(site.locator(".last-success")).to_contain_text("ago", timeout=30_000)
    expect(site.locator(".checks")).to_contain_text("checksums: not checked")
    expect(site.locator("svg.size-chart circle")).to_have_count(1)
    db = page.locator("#backup-targets tr[data-target=db]")
    db.locator("button.run").click()
    expect(db.locator(".last-success")).to_contain_text("failed since", timeout=30_000)
    expect(db).not_to_contain_text("pw-9")


@pytest.mark.browser
def test_a_viewer_sees_no_run_button(page: Page, backup_server: Served, tmp_path: Path) -> None:
    token = _viewer_token(tmp_path / "data", tmp_path / "buttress.yaml")
    sign_in(page, backup_server, token)
    page.click("nav a[data-page=backups]")
    expect(page.locator("#backup-targets tr[data-target=site]")).to_be_visible()
    expect(page.locator("button.run")).to_have_count(0)
