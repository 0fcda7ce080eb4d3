"""A custom check's `module:function` is found beside buttress.yaml, whatever the current
directory, and when it is nowhere the error says where it was looked for."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from buttress.cli import main


def test_a_module_beside_the_config_file_is_found_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`buttress --config conf/buttress.yaml health` run elsewhere imports conf/mychecks.py."""
    conf = tmp_path / "conf"
    elsewhere = tmp_path / "elsewhere"
    conf.mkdir()
    elsewhere.mkdir()
    (conf / "bt_beside_checks.py").write_text("def ok() -> str:\n    return 'queue drained'\n")
    (conf / "buttress.yaml").write_text(
        "health:\n  checks:\n    - {name: queue, type: custom, callable: 'bt_beside_checks:ok'}\n"
    )
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.delitem(sys.modules, "bt_beside_checks", raising=False)
    path_before = list(sys.path)
    try:
        code = main(["--config", str(conf / "buttress.yaml"), "health", "--json"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        checks = json.loads(captured.out)["checks"]
        assert checks[0]["detail"] == "queue drained"
        assert sys.path == path_before  # the config's directory was on the path for one import
    finally:
        sys.modules.pop("bt_beside_checks", None)


def test_a_module_found_nowhere_names_where_it_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The error names the config file's directory, the current directory and PYTHONPATH."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "buttress.yaml").write_text(
        "health:\n  checks:\n    - {name: queue, type: custom, callable: 'bt_nowhere:ok'}\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["--config", str(conf / "buttress.yaml"), "health"]) == 2
    err = capsys.readouterr().err
    assert f"no module 'bt_nowhere' in {conf} (the config file's directory)" in err
    assert f"current directory {tmp_path}" in err
    assert "PYTHONPATH" in err
    assert len(err.strip().splitlines()) == 1
