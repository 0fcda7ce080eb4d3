"""Every Python example in the docs runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from buttress.resilience import registry

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
# an example that connects to a service is marked with it (tests/conftest.py: the fast lane)
SERVICES = {"redis://": "redis", "postgresql://": "postgres", "mariadb://": "mariadb"}
EXAMPLES = [
    pytest.param(
        code,
        id=f"{doc.name}#{i}",
        marks=[getattr(pytest.mark, m) for scheme, m in SERVICES.items() if scheme in code],
    )
    for doc in sorted((ROOT / "docs").glob("*.md"))
    for i, code in enumerate(BLOCK.findall(doc.read_text(encoding="utf-8")))
]


@pytest.mark.parametrize("code", EXAMPLES)
def test_example_runs(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The example executes without error and prints something."""
    try:
        exec(compile(code, "<docs example>", "exec"), {"__name__": "__docs__"})  # noqa: S102  # our own docs
    finally:
        registry.configure(None)
    assert capsys.readouterr().out
