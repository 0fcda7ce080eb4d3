"""Import cost: the library domains pull in none of the heavy stacks."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

HEAVY = [
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "uvicorn",
    "boto3",
    "botocore",
    "obstore",
    "zstandard",
    "pyrage",
    "redis",
    "prometheus_client",
    "psycopg",
    "httpx",
]


@pytest.mark.parametrize(
    "module",
    [
        "buttress",
        "buttress.resilience",
        "buttress.state",
        "buttress.backup",
        "buttress.health",
        "buttress.errors",
    ],
)
def test_library_import_is_light(module: str) -> None:
    """Importing a library domain in a fresh interpreter loads none of the heavy stacks."""
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not [m for m in HEAVY if m in loaded], (
        f"{module} imported {[m for m in HEAVY if m in loaded]}"
    )


@pytest.mark.parametrize(
    "module",
    ["buttress", "buttress.config", "buttress.errors", "buttress.secrets", "buttress.catalog"],
)
def test_public_surface_is_sorted(module: str) -> None:
    """Every public module declares a sorted __all__ whose names exist."""
    mod = importlib.import_module(module)
    names = list(mod.__all__)
    # isort-style order, as ruff's RUF022 keeps it: CONSTANTS, Classes, functions
    assert names == sorted(
        names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n)
    )
    for name in names:
        assert hasattr(mod, name), name
