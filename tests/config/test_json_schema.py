"""The JSON Schema `buttress config schema` prints is checked by a real validator: an editor
using it accepts what buttress accepts and flags a check, target or destination that misses
what its kind needs, or carries a field of another kind."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from buttress.cli.config import json_schema
from buttress.config import ConfigError, load_text

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = jsonschema.Draft202012Validator(json_schema())


def errors(document: dict[str, Any]) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(document)]


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    """The schema itself passes the metaschema."""
    jsonschema.Draft202012Validator.check_schema(json_schema())


@pytest.mark.parametrize(
    "check",
    [
        {"name": "a", "type": "http"},
        {"name": "a", "type": "tcp", "host": "h"},
        {"name": "a", "type": "postgresql"},
        {"name": "a", "type": "s3"},
        {"name": "a", "type": "disk"},
        {"name": "a", "type": "custom"},
        {"name": "a", "type": "ping", "host": "h"},
        {"name": "a", "type": "tcp", "host": "h", "port": 1, "url": "http://x/"},
    ],
)
def test_a_check_missing_what_its_type_needs_is_rejected(check: dict[str, Any]) -> None:
    """`{type: http}` without `url` (and every kind's equivalent) fails the schema."""
    assert errors({"health": {"checks": [check]}})


@pytest.mark.parametrize(
    "check",
    [
        {"name": "a", "type": "http", "url": "http://127.0.0.1/"},
        {"name": "a", "type": "tcp", "host": "h", "port": 5432, "interval": "5s"},
        {"name": "a", "type": "disk", "path": "/", "min_free_percent": 5},
        {"name": "a", "type": "custom", "callable": "mod:fn"},
    ],
)
def test_a_complete_check_passes(check: dict[str, Any]) -> None:
    """What each kind needs, and nothing else, passes."""
    assert errors({"health": {"checks": [check]}}) == []


@pytest.mark.parametrize(
    ("section", "ok"),
    [
        ({"destinations": [{"name": "d", "path": "/b"}]}, True),  # type: local by default
        ({"destinations": [{"name": "d", "type": "s3", "bucket": "b"}]}, True),
        ({"destinations": [{"name": "d", "type": "s3"}]}, False),
        ({"destinations": [{"name": "d"}]}, False),
        ({"destinations": [{"name": "d", "path": "/b", "bucket": "b"}]}, False),
        ({"targets": [{"name": "t", "source": "sqlite", "path": "/a.db"}]}, True),
        ({"targets": [{"name": "t", "source": "sqlite", "path": "/a.db", "jobs": 2}]}, False),
        ({"targets": [{"name": "t", "source": "postgresql"}]}, False),
        ({"targets": [{"name": "t", "source": "postgresql", "dsn": "postgresql:///x"}]}, True),
    ],
)
def test_backup_kinds_in_the_schema(section: dict[str, Any], ok: bool) -> None:
    """Destinations by `type` (local when absent) and targets by `source` need their fields."""
    assert (errors({"backup": section}) == []) is ok


def _doc_blocks() -> list[tuple[str, str]]:
    blocks = []
    for path in sorted((ROOT / "docs").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", text, flags=re.S)):
            blocks.append((f"{path.name}#{i}", block))
    return blocks


def test_the_schema_accepts_every_documented_configuration_buttress_accepts() -> None:
    """Each YAML block of docs/ that buttress loads passes the schema too (the two agree)."""
    checked = 0
    for where, block in _doc_blocks():
        try:
            document = yaml.safe_load(block)
            load_text(block, env={"HOME": "/root"}, checks=())
        except (yaml.YAMLError, ConfigError):
            continue  # a fragment, or an example of an error
        if not isinstance(document, dict) or "${" in block:
            continue  # interpolated values are strings the schema cannot judge
        assert errors(document) == [], where
        checked += 1
    assert checked >= 5  # the docs hold complete examples (fragments are skipped)


@pytest.mark.parametrize(
    ("server", "ok"),
    [({"body_timeout": 0}, False), ({"body_timeout": "0.5s"}, True), ({"port": 70000}, False)],
)
def test_bounds_are_in_the_schema(server: dict[str, Any], ok: bool) -> None:
    """A duration that must be above zero, a port's range: the schema has the loader's bounds."""
    assert (errors({"server": server}) == []) is ok
