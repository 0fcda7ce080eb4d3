"""Hostile YAML (alias bombs, recursion, deep nesting, huge numbers, floods of errors): each
is a bounded, located config error, through the loader and through `buttress config check`."""

from __future__ import annotations

import itertools
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from buttress.config import PostgresqlTargetConfig, TcpCheckConfig, load_text
from buttress.config._yaml import MAX_ALIASES, MAX_DEPTH, MAX_VALUES
from buttress.errors import ConfigError
from tests.config.test_loader import issues


def laughs(levels: int) -> str:
    """The classic "billion laughs": each level is a list of nine aliases of the one before."""
    lines = ["a: &a [" + ", ".join(['"lol"'] * 9) + "]"]
    for prev, name in itertools.pairwise("abcdefghijklmnop"[:levels]):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "billion-laughs": (laughs(9), f"more than the limit of {MAX_VALUES:,} values"),
    "recursive-alias": ("a: &a [*a]\n", "recursive alias *a"),
    "recursive-merge": ("a: &a {<<: *a}\n", "recursive alias *a"),
    "deep-lists": ("x: " + "[" * 20_000 + "]" * 20_000 + "\n", f"limit of {MAX_DEPTH} levels"),
    "deep-mappings": (
        "x: " + "{a: " * 20_000 + "1" + "}" * 20_000 + "\n",
        f"limit of {MAX_DEPTH} levels",
    ),
    "deep-through-aliases": (
        "a: &a " + "[" * 60 + "]" * 60 + "\nb: " + "[" * 60 + "*a" + "]" * 60 + "\n",
        f"limit of {MAX_DEPTH} levels",
    ),
    "many-aliases": (
        "x: &x 1\nl: [" + ", ".join(["*x"] * (MAX_ALIASES + 1)) + "]\n",
        f"more than {MAX_ALIASES:,} aliases",
    ),
    "huge-integer": ("server: {port: " + "9" * 5000 + "}\n", "integer too large"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_one_located_error(name: str) -> None:
    """Each hostile shape ends in one config error with file:line:column naming the limit."""
    text, expected = HOSTILE[name]
    (message,) = issues(text)
    assert re.match(r"buttress\.yaml:\d+:\d+ ", message), message
    assert expected in message
    assert len(message) < 300


def test_billion_laughs_error_is_at_the_alias_that_crosses() -> None:
    """The size error points at the alias whose expansion crosses the limit."""
    (message,) = issues(laughs(9))
    # a to e hold 74,732 values, e alone 66,430: the first *e in f (line 6, column 8) crosses
    assert message.startswith("buttress.yaml:6:8 more than the limit")


def test_huge_integer_names_its_field() -> None:
    """An integer too long for Python's int conversion is an error at its field."""
    (message,) = issues("server:\n  port: " + "9" * 5000 + "\n")
    assert message.startswith("buttress.yaml:2:9 server.port: integer too large")


def test_aliases_share_their_value_and_keep_positions() -> None:
    """Aliases and merge keys load as before; an error inside an alias is reported at the
    anchor's line under the path it was used at."""
    text = (
        "health:\n"
        "  checks:\n"
        "    - &db {name: db, type: tcp, host: db, port: 5432, interval: 5s}\n"
        "    - {<<: *db, name: db2}\n"
        "    - {<<: *db, name: db3, port: 5433}\n"
    )
    checks = load_text(text, env={}).health.checks
    assert all(isinstance(c, TcpCheckConfig) for c in checks)
    assert [(c.name, c.port, c.interval) for c in checks if isinstance(c, TcpCheckConfig)] == [
        ("db", 5432, 5.0),
        ("db2", 5432, 5.0),
        ("db3", 5433, 5.0),
    ]
    bad = "resilience:\n  policies:\n    a: &p {retry: {attempts: zero}}\n    b: *p\n"
    assert issues(bad) == [
        "buttress.yaml:3:30 resilience.policies.a.retry.attempts: Input should be a valid "
        "integer, unable to parse string as an integer (got 'zero')",
        "buttress.yaml:3:30 resilience.policies.b.retry.attempts: Input should be a valid "
        "integer, unable to parse string as an integer (got 'zero')",
    ]


def test_a_real_config_with_anchors_is_within_the_limits() -> None:
    """Limits are far above what a configuration needs: 500 targets sharing settings load."""
    targets = "".join(
        f"    - {{<<: *t, name: t{i}, dsn: 'postgresql:///db{i}'}}\n" for i in range(1, 500)
    )
    text = (
        "backup:\n"
        "  destinations: [{name: local, path: /tmp/b}]\n"
        "  targets:\n"
        "    - &t {name: t0, source: postgresql, dsn: 'postgresql:///db0',"
        " schedule: '0 3 * * *', retention: {keep_daily: 7, keep_weekly: 4}}\n" + targets
    )
    config = load_text(text, env={})
    assert len(config.backup.targets) == 500
    assert config.backup.targets[-1].retention.keep_weekly == 4
    last = config.backup.targets[-1]
    assert isinstance(last, PostgresqlTargetConfig)
    assert last.dsn == "postgresql:///db499"


def test_errors_are_capped_when_shown() -> None:
    """Thousands of problems: the message shows the first 50 and counts the rest."""
    text = "server:\n" + "".join(f"  unknown{i}: 1\n" for i in range(5000))
    with pytest.raises(ConfigError) as info:
        load_text(text, filename="buttress.yaml", env={})
    assert len(info.value.issues) == 5000
    lines = str(info.value).splitlines()
    assert len(lines) == ConfigError.SHOWN + 1
    assert lines[-1] == f"... and {5000 - ConfigError.SHOWN:,} more"


def test_long_names_are_truncated() -> None:
    """An echoed key or name is cut with an ellipsis, however long it is."""
    (unknown,) = issues("server:\n  " + "k" * 1000 + ": 1\n")
    assert unknown.startswith("buttress.yaml:2:3 server.kkk")
    assert "\u2026" in unknown
    assert len(unknown) < 400  # the echoed name is cut; the list of valid keys is not
    name = "n" * 100_000
    (invalid,) = issues(f"backup:\n  destinations: [{{name: {name}, type: gcs}}]\n")
    assert "\u2026" not in invalid  # the name is not echoed
    (invalid,) = issues(f"backup:\n  destinations: [{{name: a, type: {name}}}]\n")
    assert "\u2026" in invalid
    assert len(invalid) < 300
    assert invalid.endswith("(one of: local, s3)")


def _limit_memory() -> None:
    limit = 2 << 30  # so that the unbounded loader fails fast instead of taking the machine
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def config_check(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "buttress", "config", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        preexec_fn=_limit_memory,  # the child is ours alone and runs no threads yet
    )


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_config_check_rejects_hostile_file(tmp_path: Path, name: str) -> None:
    """`buttress config check` on each hostile file: exit 2, one located line, no traceback."""
    text, expected = HOSTILE[name]
    result = config_check(tmp_path, text)
    assert result.returncode == 2, result.stderr[-500:]
    lines = result.stderr.splitlines()
    assert lines[0] == "error: invalid configuration (1 problem):"
    assert len(lines) == 2
    assert lines[1].startswith(f"  {tmp_path / 'hostile.yaml'}:")
    assert expected in lines[1]
    assert result.stdout == ""


@pytest.mark.timeout(600)
def test_config_check_output_is_bounded(tmp_path: Path) -> None:
    """`buttress config check` on a flood of long unknown keys prints a bounded report."""
    text = "server:\n" + "".join(f"  {'x' * 1000}{i}: 1\n" for i in range(5000))
    result = config_check(tmp_path, text)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "error: invalid configuration (5000 problems):"
    assert len(lines) == 2 + ConfigError.SHOWN
    assert lines[-1] == f"  ... and {5000 - ConfigError.SHOWN:,} more"
    assert max(len(line) for line in lines) < 400
