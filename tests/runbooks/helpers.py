"""Shared by the runbook tests: a configuration from YAML text, an engine on a memory recorder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from buttress.config import ButtressConfig, load
from buttress.errors import ConfigError
from buttress.runbooks.engine import Engine
from buttress.runbooks.recorder import MemoryRecorder


def config(tmp_path: Path, text: str, **files: str) -> ButtressConfig:
    """``text`` (dedented) as tmp_path/buttress.yaml, ``files`` beside it, loaded."""
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(body))
    path = tmp_path / "buttress.yaml"
    path.write_text(textwrap.dedent(text))
    return load(path, env={})


def issues(tmp_path: Path, text: str, **files: str) -> list[str]:
    """The problems loading ``text`` (and ``files``) reports, as ``file:line:col path: msg``."""
    with pytest.raises(ConfigError) as info:
        config(tmp_path, text, **files)
    return [str(i) for i in info.value.issues]


def runbook_yaml(steps: str, *, extra: str = "") -> str:
    """A configuration with one runbook ``rb`` whose steps are ``steps`` (YAML, dedented)."""
    body = textwrap.indent(textwrap.dedent(steps), " " * 8)
    more = textwrap.indent(textwrap.dedent(extra), " " * 6) if extra else ""
    return f"runbooks:\n  definitions:\n    - name: rb\n      steps:\n{body}{more}"


def engine(cfg: ButtressConfig, **answers: bool) -> tuple[Engine, MemoryRecorder]:
    """An engine on ``cfg`` recording in memory; confirm steps answered by ``answers``."""
    recorder = MemoryRecorder(answers=dict(answers))
    return Engine(cfg, recorder=recorder, actor="test:runner", sleep=lambda s: None), recorder
