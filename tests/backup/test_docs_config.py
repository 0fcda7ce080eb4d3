"""The configuration examples in docs/backup.md load as they are written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from buttress.config import load

DOC = Path(__file__).resolve().parents[2] / "docs" / "backup.md"
BLOCKS = list(re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.DOTALL))


@pytest.mark.parametrize("block", BLOCKS, ids=[f"yaml#{i}" for i in range(len(BLOCKS))])
def test_yaml_examples_load(block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in set(re.findall(r"\$\{(\w+)\}", block)):
        monkeypatch.setenv(var, "example-value")
    path = tmp_path / "buttress.yaml"
    path.write_text(block)
    config = load(path)
    assert config.backup.targets


def test_there_is_an_example() -> None:
    assert BLOCKS
