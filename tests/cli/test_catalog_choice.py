"""Which catalog a command opens: named on stderr, and never a new one created silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Run


def test_no_silent_second_catalog(cli: Run, tmp_path: Path) -> None:
    """token create where there is no catalog, no config and no --data-dir: exit 2 naming the
    data directory it looked in and --data-dir; nothing is created."""
    result = cli("token", "create", "ci", data_dir=False)
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert f"no catalog in {tmp_path / '.buttress'}" in result.err
    assert "--data-dir" in result.err
    assert result.out == ""
    assert not (tmp_path / ".buttress").exists()


def test_commands_name_the_catalog_they_open(cli: Run, tmp_path: Path) -> None:
    """db upgrade may create the catalog; every command then names it on stderr, once."""
    upgraded = cli("db", "upgrade", data_dir=False)
    assert upgraded.code == 0, upgraded.err
    where = f"catalog: sqlite:{Path('.buttress') / 'catalog.db'}\n"
    assert upgraded.err == where
    created = cli("token", "create", "ci", data_dir=False)
    assert created.code == 0, created.err
    assert created.err.startswith(where)
    assert created.err.count("catalog:") == 1
    assert created.out.startswith("bt_")
    listed = cli("token", "list")  # --data-dir given: the place is named, the catalog made
    assert listed.code == 0, listed.err
    assert listed.err == f"catalog: sqlite:{tmp_path / 'data' / 'catalog.db'}\n"


EMPTY_DATA_DIR_COMMANDS = [
    ("token", "create", "ci"),
    ("token", "list"),
    ("db", "upgrade"),
    ("init",),
    ("config", "check"),
    ("backup", "list"),
    ("level", "show"),
]


@pytest.mark.parametrize("command", EMPTY_DATA_DIR_COMMANDS, ids=" ".join)
def test_empty_data_dir_option_is_refused(
    cli: Run, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """--data-dir '' is not the working directory: every command refuses it (exit 2, one
    line naming the option) and writes nothing."""
    result = cli("--data-dir", "", *command, data_dir=False)
    assert result.code == 2
    assert result.err.startswith("error: --data-dir is empty: give the data directory")
    assert result.err.count("\n") == 1
    assert result.out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("value", "said"), [("", "is set but empty"), ("  ", "is empty")])
def test_empty_data_dir_variable_is_refused(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, said: str
) -> None:
    """BUTTRESS_DATA_DIR= (an unset ${VAR} in a script) is refused, not read as unset: the
    catalog would otherwise be made in ./.buttress of wherever the command runs."""
    monkeypatch.setenv("BUTTRESS_DATA_DIR", value)
    result = cli("db", "upgrade", data_dir=False)
    assert result.code == 2
    assert result.err == (
        f"error: BUTTRESS_DATA_DIR {said}: give the data directory of your server "
        "(--data-dir DIR), or leave it out for the default (data_dir from buttress.yaml, "
        "else ./.buttress)\n"
    )
    assert list(tmp_path.iterdir()) == []
    given = cli("--data-dir", str(tmp_path / "d"), "db", "upgrade", data_dir=False)
    assert given.code == 0, given.err  # the option, when given, wins over the variable


def test_empty_data_dir_in_the_config_is_refused(cli: Run, tmp_path: Path) -> None:
    """data_dir: "" in buttress.yaml is a located error, not a catalog in the file's folder."""
    (tmp_path / "buttress.yaml").write_text('data_dir: ""\n')
    result = cli("token", "create", "ci", data_dir=False)
    assert result.code == 2
    assert "buttress.yaml:1:11 data_dir: is empty: name the data directory" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["buttress.yaml"]
