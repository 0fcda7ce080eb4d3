"""The breakers', retry's and the limiter's sync driver, sync wrapper and pipeline stages are
written by scripts/gen_faces.py from their async source: a stale generated block fails here,
and a change to the source reaches every generated face."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_faces.py"


def _gen_faces() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_faces", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_faces_are_up_to_date() -> None:
    """`python scripts/gen_faces.py --check` passes on the checked-in sources."""
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_change_to_the_async_source_reaches_every_generated_face(tmp_path: Path) -> None:
    """Edit acall's and _awrap's fast path in a copy of the breaker: the check sees the block
    stale, and the regenerated call, _wrap, _link and _alink carry the edit."""
    gen = _gen_faces()
    source = (ROOT / "src/buttress/resilience/circuit_breaker.py").read_text(encoding="utf-8")
    templates, block = source.split(gen.BEGIN)  # acall and _awrap come before the block
    templates = templates.replace("failed(gen, exc, 0.0)", "failed(gen, exc, -1.0)")
    edited = templates + gen.BEGIN + block
    copy = tmp_path / "circuit_breaker.py"
    copy.write_text(edited, encoding="utf-8")
    regenerated = gen.generated(copy)
    assert regenerated != edited  # the check would report the block stale
    tree = ast.parse(regenerated)
    edited_faces = sorted(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name in ("call", "_wrap", "_link", "_alink")
        and "exc, -1.0)" in (ast.get_source_segment(regenerated, node) or "")
    )
    assert edited_faces == ["_alink", "_link", "_wrap", "call"]
