"""buttress config check|show|schema."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.conftest import Run


def test_check_valid_file(cli: Run, tmp_path: Path) -> None:
    """A valid file: exit 0 and 'ok'."""
    (tmp_path / "b.yaml").write_text("server: {port: 9000}\n")
    result = cli("config", "check", "b.yaml")
    assert (result.code, result.out.strip()) == (0, "b.yaml: ok")


def test_check_invalid_file_reports_all_problems(cli: Run, tmp_path: Path) -> None:
    """An invalid file: exit 2, every problem on its own line with file:line:col."""
    (tmp_path / "b.yaml").write_text("server:\n  prot: 1\n  port: x\n")
    result = cli("config", "check", "b.yaml")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert lines[0] == "error: invalid configuration (2 problems):"
    assert lines[1].strip().startswith("b.yaml:2:3 server.prot: unknown key 'prot'")
    assert lines[2].strip().startswith("b.yaml:3:9 server.port:")
    assert "Traceback" not in result.err


def test_malformed_yaml_exits_2(cli: Run, tmp_path: Path) -> None:
    """Malformed YAML: exit 2 with line and column."""
    (tmp_path / "b.yaml").write_text("server: {port: 1\n")
    result = cli("config", "check", "b.yaml")
    assert result.code == 2
    assert "b.yaml:2:1 invalid YAML" in result.err


def test_unreadable_file_exits_2(cli: Run, tmp_path: Path) -> None:
    """A file that cannot be read: exit 2 naming it."""
    path = tmp_path / "locked.yaml"
    path.write_text("server: {}\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # root reads anything: use a directory instead
            path.chmod(0o644)
            path.unlink()
            path.mkdir()
        result = cli("config", "check", "locked.yaml")
    finally:
        if path.is_file():
            path.chmod(0o644)
    assert result.code == 2
    assert "locked.yaml: cannot read config file" in result.err


def test_missing_env_var_exits_2(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset variable without default: exit 2 naming it."""
    monkeypatch.delenv("BUTTRESS_TEST_UNSET", raising=False)
    (tmp_path / "b.yaml").write_text("catalog:\n  url: ${BUTTRESS_TEST_UNSET}\n")
    result = cli("--config", "b.yaml", "config", "show")
    assert result.code == 2
    assert "BUTTRESS_TEST_UNSET is not set" in result.err


def test_show_masks_secrets(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """config show prints the effective configuration with DSN passwords as ***."""
    monkeypatch.setenv("DB_PASSWORD", "hunter2")
    (tmp_path / "b.yaml").write_text(
        "catalog:\n  url: postgresql://app:${DB_PASSWORD}@db:5432/app\n"
    )
    result = cli("--config", "b.yaml", "config", "show", "--format", "json")
    assert result.code == 0
    shown = json.loads(result.out)
    assert shown["catalog"]["url"] == "postgresql://app:***@db:5432/app"
    assert shown["server"]["port"] == 8470
    assert "hunter2" not in result.out


def test_schema_is_json_schema(cli: Run, tmp_path: Path) -> None:
    """config schema prints a JSON Schema; -o writes it to a file."""
    result = cli("config", "schema")
    schema = json.loads(result.out)
    assert schema["$schema"].endswith("2020-12/schema")
    assert cli("config", "schema", "-o", "s.json").code == 0
    assert json.loads((tmp_path / "s.json").read_text()) == schema


def test_config_env_var_is_used(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$BUTTRESS_CONFIG selects the file."""
    (tmp_path / "env.yaml").write_text("server: {port: 9123}\n")
    monkeypatch.setenv("BUTTRESS_CONFIG", str(tmp_path / "env.yaml"))
    result = cli("config", "show", "--format", "json")
    assert json.loads(result.out)["server"]["port"] == 9123


def test_a_six_field_schedule_is_refused_naming_the_five_fields(cli: Run, tmp_path: Path) -> None:
    """'42 * * * * *' (seconds last to croniter, first to Quartz) fired 60 backups in a minute:
    six fields are an error naming the five a schedule has, with the likely meaning."""
    (tmp_path / "b.yaml").write_text(
        "backup:\n  targets:\n    - {name: db, source: directory, path: /srv, "
        "schedule: '42 * * * * *'}\n"
    )
    result = cli("config", "check", "b.yaml")
    assert result.code == 2
    assert "b.yaml:3:" in result.err
    assert "backup.targets[0].schedule" in result.err
    assert "has six fields" in result.err
    assert "minute hour day-of-month month day-of-week" in result.err
    assert "did you mean '42 * * * *'?" in result.err
    (tmp_path / "c.yaml").write_text(  # seconds, last, written out: for tests and demos
        "backup:\n  targets:\n    - {name: db, source: directory, path: /srv, "
        "schedule_seconds: true, schedule: '* * * * * */2'}\n"
    )
    assert cli("config", "check", "c.yaml").code == 0


def test_check_prints_each_schedules_next_three_times(cli: Run, tmp_path: Path) -> None:
    """config check shows when each schedule fires next (UTC), so a wrong field order shows."""
    (tmp_path / "b.yaml").write_text(
        "backup:\n  targets:\n    - {name: db, source: directory, path: /srv, "
        "schedule: '0 3 * * *', restore_test_schedule: '@weekly'}\n"
    )
    result = cli("config", "check", "b.yaml")
    assert result.code == 0, result.err
    lines = result.out.strip().splitlines()
    assert lines[0] == "b.yaml: ok"
    daily = next(line for line in lines if ".schedule '0 3 * * *'" in line)
    times = daily.split("next: ")[1].split(", ")
    assert len(times) == 3
    assert all(t.endswith(" 03:00") for t in times)
    assert any("restore_test_schedule '@weekly'" in line for line in lines)


def test_check_without_argument_names_the_file_it_read(cli: Run, tmp_path: Path) -> None:
    """With ./buttress.yaml present and no argument, config check names that file."""
    (tmp_path / "buttress.yaml").write_text("server: {port: 9000}\n")
    result = cli("config", "check")
    assert result.code == 0, result.err
    assert result.out.strip() == "buttress.yaml: ok"
