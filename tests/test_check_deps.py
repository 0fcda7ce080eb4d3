"""scripts/check_deps.py keeps imports and declared dependencies in step: the project passes,
and each kind of drift in a small project of its own is reported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "check_deps.py"

PYPROJECT = """
[project]
name = "buttress"
dependencies = ["pydantic>=2"]

[project.optional-dependencies]
server = ["fastapi>=0.115"{server_more}]
dev = ["buttress[server]", "pytest>=8"{dev_more}]
all = ["buttress[server]"]
"""


def _run(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(project)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _project(
    tmp_path: Path,
    *,
    src: str = "import pydantic\nimport fastapi\n",
    tests: str = "import pytest\n",
    extras_table: str = '{"fastapi": "server"}',
    server_more: str = "",
    dev_more: str = "",
) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        PYPROJECT.format(server_more=server_more, dev_more=dev_more)
    )
    package = tmp_path / "src" / "buttress"
    package.mkdir(parents=True)
    (package / "errors.py").write_text(f"_EXTRAS = {extras_table}\n")
    (package / "mod.py").write_text(src)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(tests)
    return tmp_path


def test_the_project_passes() -> None:
    """This project's imports and declarations are in step."""
    done = _run(ROOT)
    assert done.returncode == 0, done.stderr
    assert "every import is declared" in done.stdout


def test_a_consistent_small_project_passes(tmp_path: Path) -> None:
    """The small project the other cases break passes as written."""
    done = _run(_project(tmp_path))
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (  # anyio was declared only by the dev extra, which users do not install
            {"src": "import fastapi\nimport anyio.to_thread\n", "dev_more": ', "anyio>=4"'},
            "src/buttress/mod.py:2: imports 'anyio' (anyio), which is not declared in "
            "dependencies or a runtime extra",
        ),
        (  # starlette comes with fastapi, but an import of it needs its own declaration
            {"src": "import fastapi\nfrom starlette.types import ASGIApp\n"},
            "imports 'starlette' (starlette), which is not declared",
        ),
        (
            {"extras_table": "{}"},
            "imports 'fastapi' from an extra, but buttress.errors._EXTRAS names None for it "
            "(the extra that declares it: server)",
        ),
        (
            {"extras_table": '{"fastapi": "web"}'},
            "_EXTRAS names 'web' for 'fastapi', no such extra",
        ),
        (
            {"server_more": ', "zstandard>=0.22"'},
            "extra 'server' declares 'zstandard', which nothing imports",
        ),
        (
            {"tests": "import pytest\nimport hypothesis\n"},
            "tests/test_x.py:2: imports 'hypothesis' (hypothesis), which is not declared in dev",
        ),
    ],
)
def test_each_drift_is_reported(tmp_path: Path, change: dict[str, str], expected: str) -> None:
    """An undeclared import, one declared only for development, a transitive one, a wrong or
    missing `_EXTRAS` entry and an unused declaration each fail with a line naming them."""
    done = _run(_project(tmp_path, **change))
    assert done.returncode == 1
    assert expected in done.stderr, done.stderr
