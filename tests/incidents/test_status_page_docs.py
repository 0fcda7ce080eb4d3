"""The examples of docs/incidents.md's "Status page" section are what buttress does: the
config loads, the CLI walk prints what the doc shows, and the JSON has the keys the route
answers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from buttress.catalog import Catalog
from buttress.cli import main
from buttress.config import load_text
from tests.incidents.status_support import status_app
from tests.incidents.test_docs import section


def test_the_config_example_loads() -> None:
    """The yaml example loads, with its components and the check they name."""
    (example,) = re.findall(r"```yaml\n(.*?)```", section("Status page"), re.DOTALL)
    page = load_text(example, env={}).incidents.status_page
    assert page.title == "Example Shop status"
    assert [c.name for c in page.components] == ["Checkout", "Search"]
    assert page.components[0].checks == ["shop-db"]


def test_the_cli_walk_prints_what_the_doc_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each `$ buttress incident ...` line prints the line under it."""
    (console,) = re.findall(r"```console\n(.*?)```", section("Status page"), re.DOTALL)
    lines = console.strip().splitlines()
    for n, line in enumerate(lines):
        if not line.startswith("$ "):
            continue
        args = [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', line[2:])][1:]
        capsys.readouterr()
        assert main(["--data-dir", str(tmp_path), *args]) == 0, line
        assert capsys.readouterr().out.strip() == lines[n + 1], line


def keys(value: object) -> object:
    """The shape of a JSON value: its keys, nested (a list: the shape of its first item)."""
    if isinstance(value, dict):
        return {k: keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys(value[0])] if value else []
    return None


def test_the_json_example_has_the_answers_keys(catalog: Catalog) -> None:
    """The documented /status.json has the keys (nested) the route answers for the same
    situation."""
    text = section("Status page")
    (config,) = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    (shown,) = re.findall(r"```json\n(.*?)```", text, re.DOTALL)
    documented = json.loads(shown)
    with status_app(
        catalog, config.replace("    title:", "    cache_seconds: 0\n    title:")
    ) as app:
        ref = app.declare("checkout errors", "P2", "shop")
        assert (
            app.update(ref, "identified", "A faulty release; rolling it back.").status_code == 201
        )
        answer = app.page()
    answer["components"] = answer["components"][:1]
    assert keys(answer) == keys(documented)
    assert answer["incidents"][0]["status"] == documented["incidents"][0]["status"]
