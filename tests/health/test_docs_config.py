"""The configuration example in docs/health.md loads as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from buttress.config import load

DOC = Path(__file__).resolve().parents[2] / "docs" / "health.md"


def test_yaml_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert blocks
    for block in blocks:
        for var in set(re.findall(r"\$\{(\w+)\}", block)):
            monkeypatch.setenv(var, "example")
        (tmp_path / "buttress.yaml").write_text(block)
        config = load(tmp_path / "buttress.yaml")
        assert len(config.health.checks) == 8


def test_degradation_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "degradation.md"
    block = re.findall(r"```yaml\n(.*?)```", doc.read_text(), re.DOTALL)[0]
    (tmp_path / "buttress.yaml").write_text(block)
    degradation = load(tmp_path / "buttress.yaml").health.degradation
    assert degradation is not None
    assert degradation.names == ["GREEN", "YELLOW", "ORANGE", "RED"]
