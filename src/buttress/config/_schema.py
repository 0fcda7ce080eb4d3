"""The JSON Schema of ``buttress.yaml``: for editors, and the one source of the reference."""

from __future__ import annotations

from typing import Any

from buttress.config._root import ButtressConfig

__all__ = ["json_schema"]


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``buttress.yaml``, as `buttress config schema`
    prints it: every section, key, type, default and description; each kind of check, target
    and destination with what it needs (a ``oneOf`` by its ``type``/``source``)."""
    body = ButtressConfig.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "buttress.yaml",
        **body,
    }
