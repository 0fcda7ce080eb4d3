"""Regenerate docs/configuration.md and docs/cli.md from the code."""

from __future__ import annotations

from pathlib import Path

from buttress.docgen import cli_reference, config_reference

DOCS = Path(__file__).resolve().parents[1] / "docs"

if __name__ == "__main__":
    for name, text in (("configuration.md", config_reference()), ("cli.md", cli_reference())):
        (DOCS / name).write_text(text, encoding="utf-8")
        print(f"wrote docs/{name}")
