"""The Incidents page in real headless Chromium against a real ``buttress serve``: an incident
opened by Alertmanager's webhook is acknowledged, resolved and (once its post-mortem is
published) closed from the page; a notification's ack link asks to confirm; the declare form
shows the API's refusal; a viewer sees no button."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.alerting.test_webhook_api import alert, payload
from tests.conftest import Served, start_server
from tests.dashboard.test_dashboard import sign_in

CONFIG = """\
incidents:
  oncall:
    users:
      alice: {email: alice@example.com}
    schedules:
      primary:
        layers:
          - {name: only, users: [alice], rotation: daily, start: 2020-01-01T00:00}
"""


@pytest.fixture
def incidents_server(tmp_path: Path) -> Iterator[Served]:
    config = tmp_path / "buttress.yaml"
    config.write_text(CONFIG)
    server = start_server(tmp_path / "data", env={"BUTTRESS_CONFIG": str(config)})
    try:
        yield server
    finally:
        server.stop()


def _fire(served: Served, name: str = "CheckoutDown") -> str:
    """Alertmanager posts a firing `severity: critical` group: a P1 incident opens."""
    body = payload("firing", alert(name, service="checkout"))
    body["groupKey"] = f'{{}}:{{alertname="{name}"}}'  # one group, so one incident, per name
    answer = httpx.post(
        served.url + "api/v1/alerts/alertmanager",
        json=body,
        headers={"Authorization": f"Bearer {served.admin_token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    ref: str = answer.json()["incident"]
    assert answer.json()["opened"], answer.text
    return ref


def _viewer_token(served: Served, project: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "buttress", "-c", str(project / "buttress.yaml"),
         "--data-dir", str(project / "data"), "token", "create", "watcher", "--role", "viewer"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return next(line for line in out.stdout.split() if line.startswith("bt_"))


@pytest.mark.browser
def test_an_alert_becomes_an_incident_handled_to_closed(
    page: Page, incidents_server: Served
) -> None:
    served = incidents_server
    assert served.admin_token is not None
    ref = _fire(served)
    sign_in(page, served, served.admin_token)
    page.click("nav a[data-page=incidents]")
    expect(page.locator("#oncall tr[data-schedule=primary]")).to_contain_text("alice")
    listed = page.locator(f"#incident-list tr[data-ref='{ref}']")
    expect(listed).to_contain_text("P1")
    expect(listed).to_contain_text("triggered")
    listed.locator("a").click()

    detail = page.locator("#incident")
    expect(page.locator("#incident-status")).to_have_text("triggered")
    expect(page.locator("#incident-severity")).to_have_text("P1")
    expect(detail).to_contain_text("checkout")
    expect(page.locator("#respond-by")).to_contain_text("Respond by")
    expect(page.locator("#incident-alerts")).to_contain_text("CheckoutDown")
    expect(page.locator("#incident-alerts")).to_contain_text("firing")
    actions = page.locator("#incident-actions button")
    expect(actions).to_have_text(["Acknowledge", "Mitigate", "Resolve"])  # no Close yet

    page.click("#incident-actions button[data-action=ack]")
    expect(page.locator("#incident-status")).to_have_text("acknowledged")
    expect(page.locator("#incidents-note")).to_contain_text("now acknowledged")
    expect(actions).to_have_text(["Mitigate", "Resolve"])
    page.click("#incident-actions button[data-action=resolve]")
    expect(page.locator("#incident-status")).to_have_text("resolved")
    expect(actions).to_have_text(["Close"])

    page.click("#incident-actions button[data-action=close]")  # P1: refused without one
    note = page.locator("#incidents-note")
    expect(note).to_contain_text("needs a published post-mortem")
    expect(note).to_have_class("note bad")
    expect(page.locator("#incident-status")).to_have_text("resolved")

    page.click("#postmortem-create")
    expect(page.locator("#postmortem-status")).to_have_attribute("data-status", "draft")
    body = page.locator("#postmortem-body")
    expect(body).to_have_value(re.compile(rf"^# Post-mortem: {ref} "))
    body.fill(body.input_value().replace("## Root cause", "## Root cause\n\nThe disk filled up."))
    page.click("#postmortem-publish")  # saves the edit, then publishes
    expect(page.locator("#postmortem-status")).to_have_attribute("data-status", "published")
    expect(page.locator("#postmortem-body")).to_have_value(re.compile("The disk filled up"))
    with page.expect_download() as download:
        page.click("#postmortem-download")
    assert download.value.suggested_filename == f"{ref}-postmortem.md"
    assert "The disk filled up." in Path(download.value.path()).read_text(encoding="utf-8")

    page.click("#incident-actions button[data-action=close]")
    expect(page.locator("#incident-status")).to_have_text("closed")
    expect(page.locator("#incident-actions button")).to_have_count(0)
    kinds = page.locator("#incident-timeline li").evaluate_all(
        "items => items.map(li => li.dataset.kind)"
    )
    wanted = ["triggered", "acknowledged", "resolved", "postmortem_published", "closed"]
    assert [k for k in kinds if k in wanted] == wanted, kinds
    timeline = page.locator("#incident-timeline")
    expect(timeline.locator("li[data-kind=acknowledged]")).to_contain_text("Status → acknowledged")
    firing = timeline.locator("li[data-kind=alert_firing]")
    expect(firing).to_contain_text("Alert CheckoutDown firing")
    expect(timeline.locator("li[data-kind=postmortem_updated]")).to_contain_text("edited")

    page.click("a.back")
    expect(page.locator(f"#incident-list tr[data-ref='{ref}']")).to_contain_text("closed")
    page.select_option("#incident-filters select[name=status]", "triggered")
    page.click("#incident-filters button")
    expect(page.locator("#page")).to_contain_text("No incident matches these filters.")
    assert "status=triggered" in page.url


@pytest.mark.browser
def test_a_notification_ack_link_asks_to_confirm(page: Page, incidents_server: Served) -> None:
    """`#/incidents?ref=...&action=ack` (a notification's link) opens the incident and asks;
    nothing changes until the confirm button is pressed."""
    served = incidents_server
    assert served.admin_token is not None
    ref = _fire(served)
    sign_in(page, served, served.admin_token)
    expect(page.locator("#status-version")).to_be_visible()
    page.goto(served.url + f"#/incidents?ref={ref}&action=ack")
    confirm = page.locator("#confirm-action")
    expect(confirm).to_contain_text(f"Acknowledge {ref}?")
    expect(page.locator("#incident-status")).to_have_text("triggered")
    answer = httpx.get(
        served.url + f"api/v1/incidents/{ref}",
        headers={"Authorization": f"Bearer {served.admin_token}"},
        timeout=10,
    )
    assert answer.json()["status"] == "triggered"  # not acknowledged by opening the link
    page.click("#confirm-button")
    expect(page.locator("#incident-status")).to_have_text("acknowledged")
    expect(page.locator("#confirm-action")).to_have_count(0)
    assert "action=" not in page.url
    page.goto(served.url + f"#/incidents?ref={ref}&action=ack")  # the same link again
    expect(page.locator("#confirm-action")).to_contain_text("already acknowledged")
    expect(page.locator("#confirm-button")).to_have_count(0)


@pytest.mark.browser
def test_the_declare_form_shows_the_apis_refusal(page: Page, incidents_server: Served) -> None:
    """A declaration without a title is refused (422) and the page says which field; with a
    title it opens the new incident."""
    served = incidents_server
    assert served.admin_token is not None
    sign_in(page, served, served.admin_token)
    page.click("nav a[data-page=incidents]")
    expect(page.locator("#page .empty .doc code")).to_have_text("docs/incidents.md")
    page.fill("#declare-form input[name=services]", "api, db")
    page.click("#declare-form button[type=submit]")
    expect(page.locator("#declare-form-error")).to_contain_text("body.title")
    page.fill("#declare-form input[name=title]", "Checkout is slow")
    page.select_option("#declare-form select[name=severity]", "P2")
    page.click("#declare-form button[type=submit]")
    expect(page.locator("#incident-severity")).to_have_text("P2")
    expect(page.locator("#incident h2")).to_contain_text("Checkout is slow")
    expect(page.locator("#incident")).to_contain_text("db")
    expect(page.locator("#incident-timeline li[data-kind=declared]")).to_contain_text(
        "Declared by hand (P2)"
    )
    page.fill("#note-form textarea", "restarted the pool")
    page.click("#note-form button[type=submit]")
    expect(page.locator("#incident-timeline li[data-kind=note]")).to_contain_text(
        "Note: restarted the pool"
    )
    page.fill("#roles-form input[name=commander]", "alice")
    page.click("#roles-form button[type=submit]")
    expect(page.locator("#incident-facts dd[data-key=roles]")).to_have_text("Commander: alice")
    page.fill("#update-form textarea", "We are looking into slow checkouts.")
    page.click("#update-form button[type=submit]")
    expect(page.locator("#incident-timeline li[data-kind=public_update]")).to_contain_text(
        "Public update (investigating): We are looking into slow checkouts."
    )
    page.fill("#action-item-form input[name=title]", "Alert on pool size")
    page.fill("#action-item-form input[name=owner]", "alice")
    page.click("#action-item-form button[type=submit]")
    item = page.locator("#action-items tr[data-id]")
    expect(item).to_contain_text("Alert on pool size")
    item.locator("button").click()
    expect(item.locator(".item-status")).to_have_text("done")


@pytest.mark.browser
def test_a_viewer_reads_an_incident_but_gets_no_button(
    page: Page, incidents_server: Served, tmp_path: Path
) -> None:
    served = incidents_server
    ref = _fire(served)
    sign_in(page, served, _viewer_token(served, tmp_path))
    page.click("nav a[data-page=incidents]")
    expect(page.locator(f"#incident-list tr[data-ref='{ref}']")).to_be_visible()
    expect(page.locator("#declare-form")).to_have_count(0)
    page.goto(served.url + f"#/incidents?ref={ref}&action=ack")
    expect(page.locator("#incident-status")).to_have_text("triggered")
    expect(page.locator("#incident-timeline")).to_contain_text("Opened from Alertmanager (P1)")
    expect(page.locator("#action-needs-operator")).to_contain_text("needs an operator's token")
    expect(page.locator("#page button, #page form, #confirm-action")).to_have_count(0)


@pytest.mark.browser
def test_the_list_pages_back_and_the_detail_follows_changes(
    page: Page, incidents_server: Served
) -> None:
    """With one incident a page, "Older incidents" goes back one at a time; an open incident's
    detail shows a change made elsewhere without a reload."""
    served = incidents_server
    assert served.admin_token is not None
    first, second = _fire(served, "First"), _fire(served, "Second")
    sign_in(page, served, served.admin_token)
    expect(page.locator("#status-version")).to_be_visible()
    page.goto(served.url + "#/incidents?limit=1")
    rows = page.locator("#incident-list tr[data-ref]")
    expect(rows).to_have_count(1)
    expect(rows).to_have_attribute("data-ref", second)  # newest first
    page.click("#incidents-older")
    expect(rows).to_have_attribute("data-ref", first)
    expect(page.locator("#incidents-newest")).to_be_visible()
    page.click(f"#incident-list tr[data-ref='{first}'] a")
    expect(page.locator("#incident-status")).to_have_text("triggered")
    acked = httpx.post(
        served.url + f"api/v1/incidents/{first}/ack",
        headers={"Authorization": f"Bearer {served.admin_token}"},
        timeout=10,
    )
    assert acked.status_code == 200, acked.text
    expect(page.locator("#incident-status")).to_have_text("acknowledged", timeout=20_000)


@pytest.mark.browser
def test_the_pages_make_no_failing_request(page: Page, incidents_server: Served) -> None:
    """The list and an incident without a post-mortem load with no console error and no
    answer of 400 or more (the post-mortem is asked for only once the timeline has one)."""
    served = incidents_server
    assert served.admin_token is not None
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None
    )
    ref = _fire(served)
    sign_in(page, served, served.admin_token)
    page.click("nav a[data-page=incidents]")
    page.click(f"#incident-list tr[data-ref='{ref}'] a")
    expect(page.locator("#postmortem")).to_contain_text("No post-mortem yet.")
    page.wait_for_load_state("networkidle")
    assert problems == []
