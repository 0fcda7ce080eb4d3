"""The configuration package imports no domain: its models check the file's shape, and what
needs a domain's code runs in the validation step, registered by the edges."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import buttress.config

CONFIG_DIR = Path(buttress.config.__file__).parent
# the only buttress modules the configuration may use: itself and dependency-free helpers
ALLOWED = (
    "buttress.config",
    "buttress.errors",
    "buttress.secrets",
    "buttress._levels",
    "buttress.metric_names",  # names only (the presets check theirs against it)
)


def _imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def test_no_config_module_imports_a_domain_even_lazily() -> None:
    """Every import statement of buttress.config, at the top or inside a function, names the
    config package itself or a dependency-free helper, never a domain package."""
    offending = [
        f"{path.name}:{line} imports {name}"
        for path in sorted(CONFIG_DIR.rglob("*.py"))
        for line, name in _imports(path)
        if name.startswith("buttress") and not name.startswith(ALLOWED)
    ]
    assert offending == []


def test_loading_every_section_imports_no_domain() -> None:
    """A file with every section filled, loaded with no domain check registered, leaves every
    domain package unimported (nothing reaches them through a helper either)."""
    code = (
        "import sys; from buttress.config import load_text\n"
        "load_text('''\n"
        "resilience: {policies: {db: {retry: {attempts: 2}}}}\n"
        "health:\n"
        "  checks: [{name: web, type: http, url: 'http://127.0.0.1:1/'}]\n"
        "  degradation: {levels: service}\n"
        "backup:\n"
        "  recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]\n"
        "  restore_servers: ['db:5432']\n"
        "  destinations: [{name: here, path: /tmp/b}]\n"
        "  targets: [{name: db, source: sqlite, path: /tmp/db.sqlite}]\n"
        "''')\n"
        "domains = ('resilience', 'state', 'health', 'degradation', 'backup', 'server', 'cli')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[:2][-1] in domains "
        "and m.startswith('buttress.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
