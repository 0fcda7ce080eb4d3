"""Without psutil, a degradation trigger that needs it is a configuration error that names the
extra, not a trigger that silently never holds (psutil is hidden in a child interpreter)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# a meta-path finder that makes `import psutil` fail as if it were not installed
HIDE_PSUTIL = """
import sys

class HidePsutil:
    def find_spec(self, name, path=None, target=None):
        if name == "psutil" or name.startswith("psutil."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, HidePsutil())
"""

BUILD = """
from buttress.config import load_text
from buttress.errors import MissingDependencyError
from buttress.degradation.embed import controller_from_config

config = load_text('''
health:
  degradation:
    levels: traffic_light
    cpu: {cpu}
    level:
      YELLOW: {{when: {{{when}}}}}
''')
try:
    controller = controller_from_config(config, None, None)
except MissingDependencyError as exc:
    print("error:", exc, "exit", exc.exit_code)
else:
    print("started with", sorted(controller._metrics))
"""


def _build(cpu: str, when: str) -> str:
    code = HIDE_PSUTIL + textwrap.dedent(BUILD).format(cpu=cpu, when=when)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("cpu", "when", "named"),
    [
        ("process", "memory_usage: 90", "the memory_usage trigger"),
        ("machine", "cpu_usage: 70", "the cpu_usage trigger"),
        ("machine", "cpu_usage: 70, memory_usage: 90", "the cpu_usage trigger and the memory"),
    ],
)
def test_a_trigger_that_needs_psutil_is_refused_naming_the_extra(
    cpu: str, when: str, named: str
) -> None:
    """memory_usage, or cpu_usage read from the machine, without psutil: exit-2 error naming
    the trigger, psutil and the extra that installs it."""
    out = _build(cpu, when)
    assert out.startswith(f"error: health.degradation: {named}"), out
    assert "'psutil'" in out
    assert "pip install 'buttress[server]'" in out
    assert out.endswith("exit 2")


def test_triggers_that_do_not_need_psutil_still_start_without_it() -> None:
    """cpu_usage of this process needs no psutil: the controller starts, with no memory_usage
    metric (nothing triggers on it)."""
    out = _build("process", "cpu_usage: 70, error_rate: 5")
    assert out == "started with ['cpu_usage', 'error_rate', 'response_time_p95']"
