"""Which catalog a command opens: named on stderr, and never a new one created silently."""

from __future__ import annotations

from pathlib import Path

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
