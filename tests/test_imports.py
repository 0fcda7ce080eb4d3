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
        "buttress.degradation",
        "buttress.flags",
        "buttress.components",
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


def test_a_config_without_named_policies_does_not_load_the_resilience_package() -> None:
    """Every CLI command loads the config: without `resilience.policies` there is nothing to
    build, so the resilience package (40 ms of imports) stays out of commands that need none."""
    code = (
        "import sys; from buttress.config import load_text; "
        "from buttress.config_checks import register_domain_checks; register_domain_checks(); "
        "load_text('backup: {targets: []}'); "
        "print('buttress.resilience' in sys.modules); "
        "load_text('resilience: {policies: {db: {retry: {attempts: 2}}}}'); "
        "print('buttress.resilience' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
