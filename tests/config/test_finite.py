"""Every number in the configuration is finite: nan and inf are located errors, wherever they
come from (YAML floats, numbers beyond float range, duration strings, ``${VAR}`` values)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from buttress.config import load_text, parse_duration
from tests.config.test_loader import issues

NON_FINITE = [".nan", ".NaN", ".inf", "-.inf", "+.inf", "1.0e+400", "-1.0e+400"]

# (YAML with one {} for the number, line of the number, its field path)
PLACES = [
    ("server: {{shutdown_timeout: {}}}\n", 1, "server.shutdown_timeout"),  # duration
    ("catalog:\n  connect_timeout: {}\n", 2, "catalog.connect_timeout"),  # duration
    (
        "resilience:\n  defaults:\n    retry: {{budget_ratio: {}}}\n",
        3,
        "resilience.defaults.retry.budget_ratio",
    ),  # ratio
    (
        "resilience:\n  defaults:\n    rate_limit: {{rate: {}}}\n",
        3,
        "resilience.defaults.rate_limit.rate",
    ),  # float with gt=0
    (
        "health:\n  checks:\n    - {{name: db, type: tcp, host: h, port: 1, weight: {}}}\n",
        3,
        "health.checks[0].weight",
    ),  # float with ge=0
    (
        "health:\n  degradation:\n    limits: {{max_items: {}}}\n",
        3,
        "health.degradation.limits.max_items",
    ),  # untyped value
]


@pytest.mark.parametrize("number", NON_FINITE)
@pytest.mark.parametrize(("template", "line", "field"), PLACES)
def test_non_finite_number_is_a_located_error(
    template: str, line: int, field: str, number: str
) -> None:
    """nan, ±inf and floats too large for a double are refused in every kind of number field."""
    found = issues(template.format(number))
    assert len(found) == 1, found
    assert found[0].startswith(f"buttress.yaml:{line}:")
    assert f" {field}: must be a finite number" in found[0]


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e400"])
def test_non_finite_number_from_the_environment_is_refused(value: str) -> None:
    """A ``${VAR}`` that reads as nan or inf is refused like a literal one, without echoing it."""
    found = issues(
        "resilience:\n  defaults:\n    circuit_breaker: {wait_multiplier: '${M}'}\n"
        "health:\n  checks:\n    - {name: db, type: tcp, host: h, port: 1, weight: '${M}'}\n",
        env={"M": value},
    )
    assert [f.split(" ", 2)[:2] for f in found] == [
        ["buttress.yaml:3:40", "resilience.defaults.circuit_breaker.wait_multiplier:"],
        ["buttress.yaml:6:55", "health.checks[0].weight:"],
    ]
    assert all("finite number" in f and value not in f for f in found)


@pytest.mark.parametrize(
    "duration", ["9" * 400 + "s", "9" * 310 + "w", "9" * 4000, "'" + "1" * 320 + "ms'"]
)
def test_durations_past_float_range_are_refused(duration: str) -> None:
    """A duration whose seconds overflow a float is an error at its field, not a crash."""
    (message,) = issues(f"server:\n  shutdown_timeout: {duration}\n")
    assert message.startswith("buttress.yaml:2:21 server.shutdown_timeout:")
    assert "finite" in message
    assert len(message) < 300


def test_parse_duration_refuses_non_finite_values() -> None:
    """parse_duration, shared with the API and the CLI, refuses nan and inf itself."""
    for value in (float("nan"), float("inf"), 10**400, "9" * 400 + "s"):
        with pytest.raises(ValueError, match="finite"):
            parse_duration(value)
    assert parse_duration("1h30m") == 5400.0


def test_finite_numbers_still_load() -> None:
    """Ordinary floats and large finite ones are unaffected."""
    config = load_text(
        "server: {shutdown_timeout: 1.5e+3}\n"
        "health:\n  checks:\n    - {name: db, type: tcp, host: h, port: 1, weight: 0.25}\n",
        env={},
    )
    assert config.server.shutdown_timeout == 1500.0
    assert config.health.checks[0].weight == 0.25


def test_config_check_refuses_nan_duration(tmp_path: Path) -> None:
    """`buttress config check` on a .nan duration: exit 2 naming file, line and field."""
    path = tmp_path / "b.yaml"
    path.write_text("server:\n  shutdown_timeout: .nan\n")
    result = subprocess.run(
        [sys.executable, "-m", "buttress", "config", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"{path}:2:21 server.shutdown_timeout: must be a finite number" in result.stderr


def test_a_duration_from_the_environment_is_not_quoted_in_its_error() -> None:
    """A ``${VAR}`` duration that does not parse is reported without its value."""
    (message,) = issues("server: {shutdown_timeout: '${T}'}\n", env={"T": "inf"})
    assert message.startswith("buttress.yaml:1:28 server.shutdown_timeout: invalid duration")
    assert "inf" not in message.removeprefix("buttress.yaml:1:28 server.shutdown_timeout:")
