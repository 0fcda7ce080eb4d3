"""``buttress incident``: declare and walk an incident on the catalog directly, and the
errors of a refused transition and an unknown id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from buttress.cli import app, main


def _run(data: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["--data-dir", str(data), "incident", *args])
    assert result.exit_code == code, result.output
    return result.stdout


def test_declare_walk_and_show(tmp_path: Path) -> None:
    """Declare, ack, note, resolve, close (a P2: once its post-mortem is published) from the
    CLI; show has the timeline with cli:user."""
    ref = _run(tmp_path, "declare", "checkout errors", "--severity", "P2", "--service", "shop")
    ref = ref.strip()
    assert ref.startswith("INC-")
    for step in (
        ("ack", ref),
        ("note", ref, "rolled back"),
        ("resolve", ref),
        ("postmortem", ref, "--publish"),
        ("close", ref),
    ):
        _run(tmp_path, *step)
    shown = json.loads(_run(tmp_path, "show", ref, "--json"))
    assert shown["status"] == "closed"
    assert [e["kind"] for e in shown["timeline"]] == [
        "declared",
        "acknowledged",
        "note",
        "resolved",
        "postmortem_created",
        "postmortem_published",
        "closed",
    ]
    assert all(e["actor"].startswith("cli:") for e in shown["timeline"])
    listed = json.loads(_run(tmp_path, "list", "--service", "shop", "--json"))
    assert [i["ref"] for i in listed] == [ref]
    assert ref in _run(tmp_path, "list")


def test_a_refused_transition_and_an_unknown_id_exit_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Closing an unresolved incident exits 2 with the reason; an unknown id and a bad
    severity say what is wrong, without a traceback."""
    ref = _run(tmp_path, "declare", "x").strip()
    base = ["--data-dir", str(tmp_path), "incident"]
    capsys.readouterr()
    assert main([*base, "close", ref]) == 2
    assert "only a resolved incident can be closed" in capsys.readouterr().err
    assert main([*base, "ack", "INC-2026-9999"]) != 0
    err = capsys.readouterr().err
    assert "INC-2026-9999" in err
    assert "Traceback" not in err
    assert main([*base, "declare", "y", "--severity", "P9"]) == 2
    assert "P9" in capsys.readouterr().err
