"""``buttress oncall now|show`` on the config alone, and the gap warnings of ``buttress config
check``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from buttress.cli import app, main

CONFIG = """
incidents:
  oncall:
    users: {alice: {}, bob: {}}
    schedules:
      dba:
        time_zone: Europe/Berlin
        layers:
          - {name: primary, users: [alice, bob], rotation: weekly, start: 2026-01-05T09:00}
      always:
        layers:
          - {name: only, users: [alice], rotation: daily, start: 2020-01-01T00:00}
"""

GAPPY = """
incidents:
  oncall:
    users: {alice: {}}
    schedules:
      office:
        time_zone: Europe/Berlin
        layers:
          - name: office
            users: [alice]
            rotation: weekly
            start: 2020-01-06T00:00
            restrict: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}]
"""


def config_file(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "buttress.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run(tmp_path: Path, *args: str, code: int = 0) -> str:
    """The output of ``buttress --config <file> oncall ...`` (no data directory, no catalog)."""
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(config_file(tmp_path)),
            "--data-dir",
            str(tmp_path / "d"),
            "oncall",
            *args,
        ],
    )
    assert result.exit_code == code, result.output
    return result.stdout


def test_now_lists_every_schedule_or_one(tmp_path: Path) -> None:
    """A table of schedule, on call and until; with a name, only that schedule."""
    out = run(tmp_path, "now")
    assert "schedule" in out
    assert "on call" in out
    assert "until" in out
    assert "dba" in out
    assert "always" in out
    always = [line for line in out.splitlines() if "always" in line]
    assert "alice" in always[0]
    assert "-" in always[0]
    assert "always" not in run(tmp_path, "now", "dba")
    assert not (tmp_path / "d").exists()  # no catalog was opened or created


def test_show_lists_shifts_at_a_time_as_json(tmp_path: Path) -> None:
    """--at in the schedule's zone, --days and --json give the shifts of the window."""
    data = json.loads(
        run(tmp_path, "show", "dba", "--at", "2026-01-06T12:00", "--days", "14", "--json")
    )
    assert data["on_call"] == "alice"
    assert data["at"] == "2026-01-06T11:00:00+00:00"
    assert [(s["user"], s["start"], s["end"]) for s in data["shifts"]] == [
        ("alice", "2026-01-06T11:00:00+00:00", "2026-01-12T08:00:00+00:00"),
        ("bob", "2026-01-12T08:00:00+00:00", "2026-01-19T08:00:00+00:00"),
        ("alice", "2026-01-19T08:00:00+00:00", "2026-01-20T11:00:00+00:00"),
    ]
    assert data["gaps"] == []


def test_show_prints_tables_in_local_time(tmp_path: Path) -> None:
    """The table shows hand-offs at the schedule's local time, and says when there is no gap."""
    out = run(tmp_path, "show", "dba", "--at", "2026-03-27T12:00", "--days", "7")
    assert "Mon 2026-03-30 09:00 CEST" in out
    assert "no gaps" in out


def test_an_unknown_schedule_or_time_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown schedule names it and the known ones; a malformed --at says what to write."""
    base = ["--config", str(config_file(tmp_path)), "oncall"]
    capsys.readouterr()
    assert main([*base, "show", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown on-call schedule 'nope' (incidents.oncall.schedules: always, dba)" in err
    assert "Traceback" not in err
    assert main([*base, "now", "nope"]) == 2
    assert main([*base, "show", "dba", "--at", "tomorrow"]) == 2
    assert "expected an ISO 8601 time" in capsys.readouterr().err


def test_config_check_warns_of_gaps_on_stderr_and_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A business-hours-only schedule: config check exits 0 and prints warning: lines naming
    the schedule's path on stderr; a schedule without gaps prints none."""
    capsys.readouterr()
    assert main(["config", "check", str(config_file(tmp_path, GAPPY))]) == 0
    captured = capsys.readouterr()
    assert "ok" in captured.out
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning: ")]
    assert warnings[0].startswith("warning: incidents.oncall.schedules.office: nobody is on call ")
    assert warnings[0].endswith("(Europe/Berlin)")
    assert len(warnings) == 6  # five gaps, then the count of the others (ten nights or so)
    assert re.fullmatch(
        r"warning: incidents\.oncall\.schedules\.office: "
        r"\.\.\. and \d+ more gaps in the next 14 days",
        warnings[-1],
    )
    assert "warning:" not in captured.out
    assert main(["config", "check", str(config_file(tmp_path))]) == 0
    assert "nobody is on call" not in capsys.readouterr().err
