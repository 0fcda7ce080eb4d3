"""``/api/v1/incidents/{id}/postmortem`` and ``.../action-items`` on the real app (SQLite and
PostgreSQL): the walk to a closed P1, the Markdown answer, refusals and bad input."""

from __future__ import annotations

from typing import Any

from tests.incidents.test_api import declare
from tests.server.conftest import Api

URL = "/api/v1/incidents"


def post(api: Api, path: str, code: int = 200, **body: Any) -> Any:
    answer = api.client.post(f"{URL}/{path}", json=body or None, headers=api.auth(api.operator))
    assert answer.status_code == code, answer.text
    return answer.json()


def test_a_p1_closes_once_its_post_mortem_is_published(api: Api) -> None:
    """Close is 409 naming the post-mortem; draft, edit, publish; then close is 200."""
    ref = declare(api, severity="P1", impact="checkout failed")["ref"]
    post(api, f"{ref}/resolve")
    refused = post(api, f"{ref}/close", 409)
    assert "needs a published post-mortem" in refused["message"]
    made = post(api, f"{ref}/postmortem", 201)
    assert made["status"] == "draft"
    assert made["incident"] == ref
    assert "| Customer impact | checkout failed |" in made["body"]
    assert post(api, f"{ref}/close", 409)["message"].endswith(f"{ref} --publish")
    put = api.client.put(
        f"{URL}/{ref}/postmortem", json={"body": "# done\n"}, headers=api.auth(api.operator)
    )
    assert put.status_code == 200, put.text
    assert post(api, f"{ref}/postmortem/publish")["status"] == "published"
    assert post(api, f"{ref}/close")["status"] == "closed"
    shown = api.client.get(f"{URL}/{ref}/postmortem", headers=api.auth(api.viewer)).json()
    assert (shown["body"], shown["updated_by"]) == ("# done\n", "operator-token")


def test_the_markdown_is_served_as_text_markdown(api: Api) -> None:
    """postmortem.md answers the body itself as text/markdown."""
    ref = declare(api)["ref"]
    body = post(api, f"{ref}/postmortem", 201)["body"]
    answer = api.client.get(f"{URL}/{ref}/postmortem.md", headers=api.auth(api.viewer))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/markdown")
    assert answer.text == body


def test_a_second_draft_is_409_unless_regenerated(api: Api) -> None:
    """POST twice is 409; ?regenerate=true redrafts; after publishing it is 409 again."""
    ref = declare(api)["ref"]
    post(api, f"{ref}/postmortem", 201)
    assert "regenerate" in post(api, f"{ref}/postmortem", 409)["message"]
    answer = api.client.post(
        f"{URL}/{ref}/postmortem", params={"regenerate": "true"}, headers=api.auth(api.operator)
    )
    assert answer.status_code == 201, answer.text
    assert "Post-mortem drafted" in answer.json()["body"]  # the first draft is on the timeline
    post(api, f"{ref}/postmortem/publish")
    again = api.client.post(
        f"{URL}/{ref}/postmortem", params={"regenerate": "true"}, headers=api.auth(api.operator)
    )
    assert again.status_code == 409


def test_unknown_incidents_missing_post_mortems_and_roles(api: Api) -> None:
    """An unknown incident, or one without a post-mortem, is 404; a viewer cannot draft;
    an empty body is 422."""
    viewer = api.auth(api.viewer)
    assert api.client.get(f"{URL}/INC-2026-9999/postmortem", headers=viewer).status_code == 404
    assert post(api, "INC-2026-9999/postmortem", 404)["error"] == "not_found"
    assert (
        post(api, "INC-2026-9999/action-items", 404, title="x", owner="a")["error"] == "not_found"
    )
    ref = declare(api)["ref"]
    assert api.client.get(f"{URL}/{ref}/postmortem.md", headers=viewer).status_code == 404
    assert api.client.post(f"{URL}/{ref}/postmortem", headers=viewer).status_code == 403
    post(api, f"{ref}/postmortem", 201)
    empty = api.client.put(
        f"{URL}/{ref}/postmortem", json={"body": ""}, headers=api.auth(api.operator)
    )
    assert empty.status_code == 422


def test_action_items_are_tracked_listed_and_patched(api: Api) -> None:
    """Add two items, mark one done and clear a due date with PATCH; the global list takes
    status and overdue filters (not mistaken for an incident id)."""
    ref = declare(api)["ref"]
    late = post(api, f"{ref}/action-items", 201, title="late", owner="ann", due="2000-01-02")
    later = post(api, f"{ref}/action-items", 201, title="later", owner="bo", due="2999-01-01")
    assert (late["overdue"], later["overdue"], late["status"]) == (True, False, "open")
    viewer = api.auth(api.viewer)
    overdue = api.client.get(f"{URL}/action-items", params={"overdue": "true"}, headers=viewer)
    assert overdue.status_code == 200, overdue.text
    assert [i["title"] for i in overdue.json()["items"]] == ["late"]
    patched = api.client.patch(
        f"{URL}/action-items/{late['id']}", json={"status": "done"}, headers=api.auth(api.operator)
    )
    assert patched.json()["status"] == "done"
    cleared = api.client.patch(
        f"{URL}/action-items/{later['id']}", json={"due": None}, headers=api.auth(api.operator)
    )
    assert cleared.json()["due"] is None
    listed = api.client.get(f"{URL}/action-items", params={"status": "done"}, headers=viewer)
    assert [i["title"] for i in listed.json()["items"]] == ["late"]
    mine = api.client.get(f"{URL}/{ref}/action-items", headers=viewer).json()["items"]
    assert [(i["title"], i["incident"]) for i in mine] == [("late", ref), ("later", ref)]
    kinds = [e["kind"] for e in api.client.get(f"{URL}/{ref}", headers=viewer).json()["timeline"]]
    assert kinds[-4:] == [
        "action_item_added",
        "action_item_added",
        "action_item_updated",
        "action_item_updated",
    ]


def test_bad_action_item_input_is_422_and_an_unknown_item_404(api: Api) -> None:
    """A bad date, an unknown status or field is 422 naming it; an unknown item is 404."""
    ref = declare(api)["ref"]
    bad = post(api, f"{ref}/action-items", 422, title="x", owner="a", due="2026-13-40")
    assert any(p["field"] == "body.due" for p in bad["problems"])
    operator = api.auth(api.operator)
    item = post(api, f"{ref}/action-items", 201, title="x", owner="a")
    wrong = api.client.patch(
        f"{URL}/action-items/{item['id']}", json={"status": "closed"}, headers=operator
    )
    assert wrong.status_code == 422
    extra = api.client.patch(
        f"{URL}/action-items/{item['id']}", json={"colour": "red"}, headers=operator
    )
    assert extra.status_code == 422
    gone = api.client.patch(f"{URL}/action-items/999999", json={"status": "done"}, headers=operator)
    assert gone.status_code == 404
    listed = api.client.get(
        f"{URL}/action-items", params={"status": "late"}, headers=api.auth(api.viewer)
    )
    assert listed.status_code == 422
