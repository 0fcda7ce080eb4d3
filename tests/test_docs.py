"""The generated references in docs/ are current."""

from __future__ import annotations

from pathlib import Path

from buttress.docgen import cli_reference

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current() -> None:
    """docs/cli.md matches the commands (regenerate with python scripts/gen_docs.py)."""
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == cli_reference(), "docs/cli.md is stale: run python scripts/gen_docs.py"
