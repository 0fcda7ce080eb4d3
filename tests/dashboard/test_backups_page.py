"""The Backups page in real headless Chromium: targets with their last good backup, size
trend and check results; an operator runs a backup with the button and sees it succeed; a
viewer gets no button; a physical target's recoverable window, its WAL gaps in red."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from buttress.backup.wal.names import segment_name
from buttress.catalog import Catalog, catalog_url
from buttress.cli import main
from tests.backup.conftest import config_file
from tests.backup.wal_rows import PG_TARGET, add_backup, add_segments
from tests.conftest import Served, start_server, wait_until
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


@pytest.fixture
def two_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[tuple[Served, Path]]:
    """The backup project with a second local destination, `spare`."""
    monkeypatch.chdir(tmp_path)
    assert main(["backup", "keygen", "key.txt"]) == 0
    config = Path(config_file(tmp_path, capsys.readouterr().out.strip()))
    config.write_text(
        config.read_text().replace(
            "    - {name: local, path: repo}\n",
            "    - {name: local, path: repo}\n    - {name: spare, path: repo2}\n",
        )
    )
    server = start_server(tmp_path / "data", env={"BUTTRESS_CONFIG": str(config)})
    yield server, tmp_path
    server.stop()


def _backup(served: Served, target: str) -> str:
    auth = {"Authorization": f"Bearer {served.admin_token}"}
    started = httpx.post(served.url + f"api/v1/backups/targets/{target}/run", headers=auth)
    assert started.status_code == 202, started.text
    backup_id: str = started.json()["id"]
    wait_until(
        lambda: (
            httpx.get(served.url + f"api/v1/backups/runs/{backup_id}", headers=auth).json()[
                "status"
            ]
            != "running"
        ),
        f"backup {backup_id} to end",
        timeout=60,
    )
    return backup_id


@pytest.mark.browser
def test_run_detail_shows_error_metadata_and_copies(
    page: Page, two_copies: tuple[Served, Path]
) -> None:
    """A failed run's detail shows its error; a good one its recorded metadata and its copy in
    each destination."""
    served, project = two_copies
    assert served.admin_token is not None
    failed = _backup(served, "db")
    good = _backup(served, "site")
    sign_in(page, served, served.admin_token)
    page.click("nav a[data-page=backups]")
    page.click(f"#backup-runs tr[data-id='{failed}'] a")
    expect(page.locator("#run-status")).to_have_text("failed")
    expect(page.locator("#run-error")).to_contain_text("127.0.0.1")
    expect(page.locator("#run-detail")).not_to_contain_text("pw-9")
    page.click(f"#backup-runs tr[data-id='{good}'] a")
    expect(page.locator("#run-status")).to_have_text("succeeded")
    meta = page.locator("#run-metadata")
    expect(meta.locator("dd[data-key=file_count]")).to_have_text("1")
    expect(meta.locator("table[data-key=files]")).to_contain_text("index.html")
    copies = page.locator("#run-copies")
    for name in ("local", "spare"):
        copy = copies.locator(f"tr[data-destination={name}]")
        expect(copy).to_contain_text("every object and the manifest")
        expect(copy.locator("td").nth(2)).to_have_text("2")  # the tar, then the manifest
    assert (project / "repo2").is_dir()


@pytest.mark.browser
def test_an_operator_restore_tests_a_run_from_its_detail(
    page: Page, two_copies: tuple[Served, Path]
) -> None:
    """Verify and Restore test start the check (202) and the view follows it to its result,
    each copy's check included."""
    served, _ = two_copies
    assert served.admin_token is not None
    good = _backup(served, "site")
    sign_in(page, served, served.admin_token)
    page.goto(served.url + f"#/backups?run={good}")
    expect(page.locator("#run-check")).to_have_text("")
    page.click("#verify-button")
    expect(page.locator("#backups-note")).to_contain_text(f"Verify of {good} started")
    expect(page.locator("#run-check")).to_contain_text("checksums ok", timeout=30_000)
    expect(page.locator("#run-copies tr[data-destination=spare]")).to_contain_text("ok")
    page.click("#restore-test-button")
    expect(page.locator("#backups-note")).to_contain_text(f"Restore test of {good} started")
    expect(page.locator("#run-check")).to_contain_text("restore test ok", timeout=30_000)
    expect(page.locator("#run-check")).to_contain_text("files: 0 difference(s)")
    row = page.locator(f"#backup-runs tr[data-id='{good}']")
    expect(row).to_contain_text("ok")


@pytest.mark.browser
def test_a_viewer_gets_no_check_buttons(page: Page, two_copies: tuple[Served, Path]) -> None:
    """A viewer sees a run's detail but no verify or restore-test button."""
    served, project = two_copies
    good = _backup(served, "site")
    sign_in(page, served, _viewer_token(project / "data", project / "buttress.yaml"))
    page.goto(served.url + f"#/backups?run={good}")
    expect(page.locator("#run-status")).to_have_text("succeeded")
    expect(page.locator("#verify-button, #restore-test-button")).to_have_count(0)


@pytest.mark.browser
def test_the_size_chart_draws_each_backup_at_its_time_and_size(
    page: Page, two_copies: tuple[Served, Path]
) -> None:
    """Two good backups of different sizes: two dots, the later one to the right, the larger
    one higher, each with its size in its title."""
    served, project = two_copies
    assert served.admin_token is not None
    first = _backup(served, "site")
    (project / "site" / "more.bin").write_bytes(bytes(range(256)) * 400)  # barely compresses
    second = _backup(served, "site")
    sign_in(page, served, served.admin_token)
    page.click("nav a[data-page=backups]")
    chart = page.locator("#backup-targets tr[data-target=site] svg.size-chart")
    dots = chart.locator("circle")
    expect(dots).to_have_count(2)
    a, b = dots.nth(0), dots.nth(1)
    assert a.get_attribute("data-id") == first
    assert b.get_attribute("data-id") == second
    assert float(b.get_attribute("cx") or 0) > float(a.get_attribute("cx") or 0)
    assert float(b.get_attribute("cy") or 0) < float(a.get_attribute("cy") or 0)  # higher
    assert int(b.get_attribute("data-stored") or 0) > int(a.get_attribute("data-stored") or 0)
    expect(b.locator("title")).to_contain_text("stored")
    expect(chart.locator("polyline")).to_have_count(1)


@pytest.mark.browser
def test_a_flash_message_does_not_survive_sign_out(
    page: Page, two_copies: tuple[Served, Path]
) -> None:
    """The "backup started" message of one session is gone after sign-out and sign-in."""
    served, _ = two_copies
    assert served.admin_token is not None
    sign_in(page, served, served.admin_token)
    page.click("nav a[data-page=backups]")
    page.locator("#backup-targets tr[data-target=site] button.run").click()
    expect(page.locator("#backups-note")).to_contain_text("of site started")
    expect(page.locator("#backup-runs")).to_contain_text("succeeded", timeout=30_000)
    page.click("#signout")
    expect(page.locator("#signin")).to_be_visible()
    page.fill("#token", served.admin_token)
    page.click("#signin-button")  # back on the page it was on: Backups
    expect(page.locator("#backup-targets")).to_be_visible()
    expect(page.locator("#backups-note")).to_have_text("")
    page.click("nav a[data-page=status]")
    page.click("nav a[data-page=backups]")
    expect(page.locator("#backup-targets")).to_be_visible()
    expect(page.locator("#backups-note")).to_have_text("")


@pytest.fixture
def wal_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Served]:
    """The backup project plus a physical target `pg` whose catalog records a base backup
    and WAL with a gap (segments 5 and 6 missing) before a second base backup."""
    monkeypatch.chdir(tmp_path)
    assert main(["backup", "keygen", "key.txt"]) == 0
    config = config_file(tmp_path, capsys.readouterr().out.strip(), PG_TARGET)
    server = start_server(tmp_path / "data", env={"BUTTRESS_CONFIG": config})
    catalog = Catalog(catalog_url(None, tmp_path / "data"))
    try:
        add_segments(catalog, 1, [2, 3, 4, 7, 8, 9])
        add_backup(catalog, "b1", 2, 3, 3)
        add_backup(catalog, "b2", 7, 8, 8)
    finally:
        catalog.dispose()
    yield server
    server.stop()


@pytest.mark.browser
def test_the_recoverable_window_shows_gaps_in_red(page: Page, wal_server: Served) -> None:
    """The physical target's window runs from b1's stop to the newest segment, in two green
    spans with the unrecoverable stretch between them red, and the gap named in red; the
    directory target has no window."""
    token = _viewer_token(Path("data"), Path("buttress.yaml"))
    sign_in(page, wal_server, token)
    page.click("nav a[data-page=backups]")
    box = page.locator("#wal-windows section.wal-window[data-target=pg]")
    expect(box).to_have_attribute("data-state", "gaps")
    expect(box.locator(".range")).to_contain_text("Recoverable:")
    expect(box.locator(".range")).to_contain_text("(6m 0s)")  # b1 stopped at 3, segment 9 at 9
    expect(box.locator("svg.wal-bar rect.span")).to_have_count(2)
    expect(box.locator("svg.wal-bar rect.hole")).to_have_count(1)
    gap = box.locator("ul.wal-gaps li")
    expect(gap).to_have_text(
        f"WAL gap: {segment_name(1, 5)} … {segment_name(1, 6)} missing (2 segments)"
    )
    red = "rgb(179, 38, 30)"  # --bad
    assert gap.evaluate("e => getComputedStyle(e).color") == red
    hole = box.locator("svg.wal-bar rect.hole")
    assert hole.evaluate("e => getComputedStyle(e).fill") == red
    spans = box.locator("svg.wal-bar rect.span")
    first_end = float(spans.nth(0).get_attribute("x") or 0) + float(
        spans.nth(0).get_attribute("width") or 0
    )
    assert float(hole.get_attribute("x") or 0) == first_end
    assert float(spans.nth(1).get_attribute("x") or 0) > first_end
    expect(box).to_contain_text(f"newest {segment_name(1, 9)}")
    expect(page.locator("section.wal-window[data-target=site]")).to_have_count(0)
