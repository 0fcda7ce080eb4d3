"""The README's first screen and its "What works today" table follow the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from buttress.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _table() -> str:
    start = README.index("## What works today")
    return README[start : README.index("\n## ", start + 1)]


def test_readme_table_names_every_command() -> None:
    """Every command and subcommand of the CLI appears in the table (`group a/b/c` form)."""
    table = _table()
    root = typer.main.get_command(app)
    missing: list[str] = []
    commands: dict[str, object] = getattr(root, "commands", {})
    assert "serve" in commands
    for name, command in commands.items():
        subs = getattr(command, "commands", None)
        if subs:
            for sub in subs:
                if not re.search(rf"`(buttress )?{name} [a-z/]*\b{sub}\b", table):
                    missing.append(f"{name} {sub}")
        elif not re.search(rf"`(buttress )?{name}`", table):
            missing.append(name)
    assert not missing, f"README's table does not mention: {', '.join(missing)}"


def test_readme_first_screen_says_what_to_do_after_the_first_start() -> None:
    """The set-up commands stay as they are; right after them, the next steps."""
    setup = (
        "bash scripts/serve.sh    # (a) install and run the control plane on the embedded "
        "default (SQLite, local files)\n"
        "bash scripts/check.sh    # (b) install everything, start the services, run ruff, "
        "mypy --strict and pytest\n"
    )
    assert setup in README
    first_screen = README[: README.index("## What works today")]
    assert "### After the first start" in first_screen
    for step in ("admin token", "backup-identity.txt", "buttress init", "--data-dir"):
        assert step in first_screen, step
