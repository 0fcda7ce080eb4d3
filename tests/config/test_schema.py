"""The JSON Schema of buttress.yaml and the generated configuration reference."""

from __future__ import annotations

from pathlib import Path

from buttress.cli.config import json_schema
from buttress.docgen import config_reference

ROOT = Path(__file__).resolve().parents[2]


def test_schema_has_every_section_and_forbids_extras() -> None:
    """Every domain has a section and unknown keys are forbidden at the top level."""
    schema = json_schema()
    props = schema["properties"]
    assert isinstance(props, dict)
    for section in (
        "catalog",
        "server",
        "state",
        "resilience",
        "health",
        "backup",
        "alerting",
        "incidents",
        "drills",
    ):
        assert section in props
    assert schema["additionalProperties"] is False


def test_configuration_reference_is_current() -> None:
    """docs/configuration.md matches the schema (regenerate with scripts/gen_docs.py)."""
    current = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert current == config_reference(), (
        "docs/configuration.md is stale: run python scripts/gen_docs.py"
    )
