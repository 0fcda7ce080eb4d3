"""Run the CLI in-process, in an empty working directory, with no inherited configuration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from buttress.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """``cli("token", "list")`` runs ``buttress --data-dir <tmp>/data token list``."""
    monkeypatch.chdir(tmp_path)
    for var in ("BUTTRESS_CONFIG", "BUTTRESS_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)

    def run(*args: str, data_dir: bool = True) -> Result:
        argv = ["--data-dir", str(tmp_path / "data"), *args] if data_dir else list(args)
        code = main(argv)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
