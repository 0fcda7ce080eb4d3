"""resolve_params: strings from a command line or JSON values from an API, checked by type."""

from __future__ import annotations

from pathlib import Path

import pytest

from buttress.config import ButtressConfig
from buttress.runbooks.errors import ParamError
from buttress.runbooks.params import resolve_params
from tests.runbooks.helpers import config, issues

TEXT = """\
runbooks:
  definitions:
    - name: rb
      params:
        replicas: {type: int, default: 2}
        ratio: {type: float, default: 0.5}
        force: {type: bool, default: false}
        hold: {type: duration, default: 5m}
        mode: {type: choice, choices: [fast, safe], default: safe}
        host: {type: str, description: "The host."}
      steps:
        - {name: s, wait: {seconds: 1}}
"""


@pytest.fixture
def cfg(tmp_path: Path) -> ButtressConfig:
    return config(tmp_path, TEXT)


def test_strings_are_converted_and_defaults_filled(cfg: ButtressConfig) -> None:
    """CLI strings become typed values; parameters not given take their defaults."""
    got = resolve_params(
        cfg.runbooks.get("rb"), {"replicas": "3", "force": "yes", "hold": "90s", "host": "db"}
    )
    assert got == {"replicas": 3, "ratio": 0.5, "force": True, "hold": 90.0, "mode": "safe",
                   "host": "db"}  # fmt: skip


def test_json_values_pass_and_resolving_twice_is_the_same(cfg: ButtressConfig) -> None:
    """Typed values (an API's JSON) are accepted, so resolved values resolve to themselves."""
    runbook = cfg.runbooks.get("rb")
    once = resolve_params(runbook, {"replicas": 4, "ratio": 1, "host": "db", "mode": "fast"})
    assert resolve_params(runbook, once) == once


def test_an_unknown_parameter_is_named(cfg: ButtressConfig) -> None:
    """A parameter the runbook does not declare is refused, naming it and the known ones."""
    with pytest.raises(ParamError, match=r"parameter 'replica': .*no such parameter.*replicas"):
        resolve_params(cfg.runbooks.get("rb"), {"replica": "3", "host": "db"})


def test_a_wrong_type_is_named(cfg: ButtressConfig) -> None:
    """`replicas=three` is refused as not an integer, naming the parameter."""
    with pytest.raises(ParamError, match=r"parameter 'replicas': expected an integer, got 'three'"):
        resolve_params(cfg.runbooks.get("rb"), {"replicas": "three", "host": "db"})


def test_a_bool_is_not_an_integer(cfg: ButtressConfig) -> None:
    """JSON `true` for an int parameter is refused rather than read as 1."""
    with pytest.raises(ParamError, match="replicas"):
        resolve_params(cfg.runbooks.get("rb"), {"replicas": True, "host": "db"})


def test_a_missing_required_parameter_is_named(cfg: ButtressConfig) -> None:
    """A parameter with no default must be given."""
    with pytest.raises(ParamError, match=r"parameter 'host': required"):
        resolve_params(cfg.runbooks.get("rb"), {})


def test_a_value_outside_the_choices_is_refused(cfg: ButtressConfig) -> None:
    """A choice parameter takes only its choices, listed in the error."""
    with pytest.raises(ParamError, match=r"'mode': 'quick' is not one of: fast, safe"):
        resolve_params(cfg.runbooks.get("rb"), {"mode": "quick", "host": "db"})


def test_a_default_of_the_wrong_type_is_a_config_error(tmp_path: Path) -> None:
    """A parameter's default is checked against its type when the file is loaded."""
    found = issues(
        tmp_path,
        "runbooks:\n  definitions:\n    - name: rb\n      params:\n"
        "        n: {type: int, default: many}\n      steps:\n"
        "        - {name: s, wait: {seconds: 1}}\n",
    )
    assert ":5:" in found[0]
    assert "expected an integer" in found[0]
