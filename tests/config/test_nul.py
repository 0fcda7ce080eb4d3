"""NUL bytes in configuration strings (host names, DSNs, paths, keys) are located errors,
whether they come from a YAML escape or from a ``${VAR}`` value; the value is never echoed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.config.test_loader import issues

# (YAML holding one {} where the string goes, line of the string, its field path)
PLACES = [
    ("server:\n  host: {}\n", 2, "server.host"),
    ("catalog:\n  url: {}\n", 2, "catalog.url"),
    ("data_dir: {}\n", 1, "data_dir"),
    (
        "backup:\n  destinations:\n    - {{name: d, path: {}}}\n",
        3,
        "backup.destinations[0].path",
    ),
    (
        "backup:\n  targets:\n    - {{name: t, source: postgresql, dsn: {}}}\n",
        3,
        "backup.targets[0].dsn",
    ),
    ("state:\n  url: {}\n", 2, "state.url"),
    (
        "health:\n  checks:\n    - {{name: c, type: tcp, port: 1, host: {}}}\n",
        3,
        "health.checks[0].host",
    ),
]


@pytest.mark.parametrize(("template", "line", "field"), PLACES)
@pytest.mark.parametrize("escape", ["\\0", "\\x00", "\\u0000"])
def test_nul_escape_is_a_located_error(template: str, line: int, field: str, escape: str) -> None:
    """A NUL written as a YAML escape is refused at its field, whatever the field."""
    (message,) = issues(template.format(f'"postgresql://u:pw@db{escape}evil/x"'))
    assert message.startswith(f"buttress.yaml:{line}:")
    assert f" {field}: contains a NUL byte" in message
    assert "pw" not in message


@pytest.mark.parametrize(("template", "line", "field"), PLACES)
def test_nul_from_the_environment_is_a_located_error(template: str, line: int, field: str) -> None:
    """A ``${VAR}`` whose value holds a NUL is refused at the field that uses it."""
    (message,) = issues(template.format("'${VALUE}'"), env={"VALUE": "db\0secret-part"})
    assert message.startswith(f"buttress.yaml:{line}:")
    assert f" {field}: contains a NUL byte" in message
    assert "secret-part" not in message


def test_nul_in_a_key_is_an_error() -> None:
    """A key holding a NUL (a policy name, say) is refused at the key."""
    (message,) = issues('resilience:\n  policies:\n    "db\\0x": {}\n')
    assert message.startswith("buttress.yaml:3:5 resilience.policies: a key contains a NUL byte")


def test_config_check_refuses_nul_host(tmp_path: Path) -> None:
    """`buttress config check` on a NUL in a host name: exit 2 naming file, line and field."""
    path = tmp_path / "b.yaml"
    path.write_text('server:\n  host: "127.0.0.1\\0evil"\n')
    result = subprocess.run(
        [sys.executable, "-m", "buttress", "config", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"{path}:2:9 server.host: contains a NUL byte" in result.stderr
