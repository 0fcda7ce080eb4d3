"""The sections of docs/alerting.md, for the tests that run its examples."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "alerting.md"


def section(title: str) -> str:
    """The text of the ``## <title>...`` section of docs/alerting.md (to the next ``## ``)."""
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^(?=## )", text, flags=re.MULTILINE)
    found = [p for p in parts if p.startswith(f"## {title}")]
    assert len(found) == 1, f"docs/alerting.md has {len(found)} sections titled {title!r}"
    return found[0]


def yaml_examples(title: str) -> list[str]:
    """The ```yaml blocks of that section."""
    return re.findall(r"```yaml\n(.*?)```", section(title), re.DOTALL)
