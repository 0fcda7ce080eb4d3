"""The component list and the package layout: what the CLI mounts, what each component
declares, and the import contracts of pyproject.toml."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from buttress.components import COMPONENTS, components
from buttress.config import ButtressConfig
from buttress.platform.component import Component

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("listed", COMPONENTS, ids=lambda listed: listed.module)
def test_the_list_names_the_commands_each_component_mounts(listed: object) -> None:
    """The commands a line of the list declares (for the lazy CLI) are those its component
    mounts, and the component is its package's."""
    from buttress.platform.component import Listed

    assert isinstance(listed, Listed)
    component = listed.load()
    assert isinstance(component, Component)
    assert [mount.name for mount in component.cli()] == list(listed.commands)
    assert listed.module == f"buttress.{listed.module.split('.')[1]}.component"


def test_each_section_is_an_attribute_of_the_configuration() -> None:
    """A component's ``section`` is a path of attributes of ButtressConfig (its YAML section);
    names are unique."""
    names = [c.name for c in components()]
    assert len(names) == len(set(names))
    config = ButtressConfig()
    for component in components():
        if component.section is None:
            continue
        head, *rest = component.section.split(".")
        assert head in ButtressConfig.model_fields, component
        model = type(getattr(config, head))
        for name in rest:
            assert name in model.model_fields, component


def test_a_command_imports_only_its_own_domain() -> None:
    """Importing the CLI and running `buttress level --help` loads the degradation domain and
    none of the others (resilience alone costs ~0.1 s of every command)."""
    code = (
        "import sys, json\n"
        "from buttress.cli import main\n"
        "main(['level', '--help'])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('buttress.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {m.split(".")[1] for m in json.loads(out.stdout.splitlines()[-1])}
    assert "degradation" in loaded
    assert not loaded & {"resilience", "backup", "health", "state", "server"}


def test_the_import_contracts_hold() -> None:
    """`lint-imports` keeps every contract of [tool.importlinter] (layers, independent
    domains, no domain importing the server or the CLI)."""
    linter = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    result = subprocess.run(
        [linter, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
