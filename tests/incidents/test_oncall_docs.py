"""The examples of docs/incidents.md's "On-call schedules" section are what buttress does: the
config loads and answers as the text says, each command runs on it, and the API's answer has
the documented keys and values."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from buttress.catalog import Catalog, tokens
from buttress.cli import main
from buttress.config import load_text
from buttress.incidents.oncall import on_call, resolve_targets
from buttress.server.app import create_app
from tests.incidents.test_docs import section

BERLIN = ZoneInfo("Europe/Berlin")


def example() -> str:
    (found,) = re.findall(r"```yaml\n(.*?)```", section("On-call schedules"), re.DOTALL)
    return str(found)


def test_the_example_answers_as_the_text_says() -> None:
    """Carol covers weekday business hours, the weekly primary the rest, bob's override the
    whole of 2 March; hand-offs stay at 09:00 local across DST; teams resolve as written."""
    config = load_text(example()).incidents.oncall

    def at(month: int, day: int, hour: int, minute: int = 0) -> str | None:
        when = dt.datetime(2026, month, day, hour, minute, tzinfo=BERLIN)
        return on_call(config, "dba-primary", when)

    assert at(1, 5, 9) == "carol"  # Monday, business hours: the later layer
    assert at(1, 5, 18) == "alice"  # the evening: primary, week 1
    assert at(1, 10, 12) == "alice"  # Saturday
    assert at(1, 12, 20) == "bob"  # week 2
    assert at(3, 2, 12) == "bob"  # the override, over carol
    assert at(3, 30, 8, 59) == "bob"
    assert at(3, 30, 9) == "carol"
    assert at(3, 30, 18) == "alice"
    monday = dt.datetime(2026, 1, 5, 20, tzinfo=BERLIN)
    assert resolve_targets(config, teams=["dba", "web"], at=monday) == ["alice", "carol", "bob"]


def test_the_cli_lines_run_on_the_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each `$ buttress oncall ...` line exits 0 on the example config; the --json one says
    bob is on call (the override)."""
    path = tmp_path / "buttress.yaml"
    path.write_text(example(), encoding="utf-8")
    (console,) = re.findall(r"```console\n(.*?)```", section("On-call schedules"), re.DOTALL)
    lines = [line for line in console.strip().splitlines() if line.startswith("$ ")]
    assert len(lines) == 4
    for line in lines:
        capsys.readouterr()
        assert main(["--config", str(path), *line[2:].split()[1:]]) == 0, line
    assert json.loads(capsys.readouterr().out)["on_call"] == "bob"


def test_the_api_answer_is_the_documented_one(catalog: Catalog) -> None:
    """The JSON shown has the answer's keys, and its values for the same `at`."""
    (shown,) = re.findall(r"```json\n(.*?)```", section("On-call schedules"), re.DOTALL)
    documented = json.loads(shown)
    with catalog.begin() as session:
        viewer = tokens.create(session=session, name="v", role="viewer", created_by="t")[1]
    app = create_app(catalog, load_text(example()))
    with TestClient(app, client=("127.0.0.9", 50000)) as client:
        answer = client.get(
            "/api/v1/oncall/dba-primary",
            params={"at": "2026-03-02T12:00"},
            headers={"Authorization": f"Bearer {viewer}"},
        ).json()
    assert set(answer) == set(documented)
    for key in ("schedule", "time_zone", "at", "on_call", "until", "gaps"):
        assert answer[key] == documented[key], key
    assert answer["shifts"][0] == documented["shifts"][0]


def test_the_gap_warning_example_has_the_format_of_gap_warnings() -> None:
    """The warning shown is a line of the form config check prints."""
    (shown,) = re.findall(r"```text\n(.*?)```", section("On-call schedules"), re.DOTALL)
    assert re.fullmatch(
        r"warning: incidents\.oncall\.schedules\.[\w.-]+: nobody is on call "
        r"\w{3} \d{4}-\d\d-\d\d \d\d:\d\d\u2013\d\d:\d\d \([\w/]+\)\n",
        shown,
    )
