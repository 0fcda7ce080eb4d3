"""check steps: a probe's value judged by a Chaos Toolkit tolerance (exact, range, regex,
jsonpath), and wait steps polling a check until it holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from buttress.runbooks._probes import within
from tests.runbooks.conftest import Web
from tests.runbooks.helpers import config, engine, issues, runbook_yaml


def run_check(tmp_path: Path, probe: str, tolerance: str) -> tuple[str, str | None]:
    steps = f"- name: c\n  check:\n    probe: {probe}\n    tolerance: {tolerance}\n"
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    return eng.run("rb", {}, run_id="r"), rec.steps["0"].error


@pytest.mark.parametrize(
    ("probe", "tolerance", "status"),
    [
        ("{command: {argv: ['true']}}", "0", "succeeded"),  # a number: the exit code
        ("{command: {argv: ['false']}}", "0", "failed"),
        ("{command: {argv: ['true']}}", "true", "succeeded"),  # a bool: exit code 0
        ("{command: {argv: [echo, ready]}}", "ready", "succeeded"),  # text: stdout
        ("{command: {argv: [echo, '12.5']}}", "[10, 20]", "succeeded"),  # a range
        ("{command: {argv: [echo, '25']}}", "[10, 20]", "failed"),
        (
            "{command: {argv: [echo, 'lag=12 bytes']}}",
            "{type: regex, pattern: 'lag=\\d+'}",
            "succeeded",
        ),
        (
            '{command: {argv: [echo, \'{"role": "replica"}\']}}',
            "{type: jsonpath, path: '$.role', expect: replica}",
            "succeeded",
        ),
    ],
)
def test_command_probes(tmp_path: Path, probe: str, tolerance: str, status: str) -> None:
    """Each tolerance form judges the value it is about."""
    assert run_check(tmp_path, probe, tolerance)[0] == status


def test_http_probe_status_range_and_json_path(tmp_path: Path, web: Web) -> None:
    """An http probe: a range judges the status, a jsonpath the JSON body."""
    assert run_check(tmp_path, f"{{http: {{url: '{web.url}/'}}}}", "[200, 299]")[0] == "succeeded"
    status, error = run_check(
        tmp_path, f"{{http: {{url: '{web.url}/'}}}}",
        "{type: jsonpath, path: '$.role', expect: replica}",
    )  # fmt: skip
    assert status == "failed"
    assert "not within tolerance" in (error or "")


def test_sql_probe_value(tmp_path: Path, pg_database: str) -> None:
    """A sql probe's first value is judged: replication lag within [0, 1000]."""
    probe = f"{{sql: {{dsn: '{pg_database}', statement: 'SELECT 3'}}}}"
    assert run_check(tmp_path, probe, "[0, 1000]")[0] == "succeeded"


def test_wait_until_polls_a_check_until_it_holds(tmp_path: Path) -> None:
    """A wait step probes every `every` until the third probe sees the file the shell made."""
    counter = tmp_path / "n"
    steps = f"""\
    - name: w
      wait:
        every: 10ms
        deadline: 20s
        until:
          probe: {{command: {{shell: true, script: "echo x >> {counter}; wc -l < {counter}"}}}}
          tolerance: [3, 100]
    """
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "succeeded"
    assert rec.steps["0"].values["tries"] == 3


def test_wait_until_stops_at_its_deadline(tmp_path: Path) -> None:
    """A condition that never holds fails the wait as timed_out at its deadline."""
    steps = """\
    - name: w
      wait:
        every: 50ms
        deadline: 0.3s
        until: {probe: {command: {argv: ['false']}}, tolerance: 0}
    """
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "failed"
    assert rec.steps["0"].status == "timed_out"
    assert "not met within 0.3s" in (rec.steps["0"].error or "")


def test_a_malformed_tolerance_is_a_config_error(tmp_path: Path) -> None:
    """A range with three numbers is refused at load, at its line."""
    found = issues(
        tmp_path,
        runbook_yaml(
            "- name: c\n  check:\n    probe: {command: {argv: ['true']}}\n"
            "    tolerance: [1, 2, 3]\n"
        ),
    )
    assert ":8:" in found[0]
    assert "[low, high]" in found[0]


@pytest.mark.parametrize(
    ("path", "expect", "holds"),
    [
        ("$.members[0].state", "streaming", True),
        ("$['members'][*].state", "streaming", True),
        ("$.members[-1].lag", 0, True),
        ("$.members.*", None, True),
        ("$.nothing", None, False),
        ("$.members[*].state", "catchup", False),
    ],
)
def test_json_paths(path: str, expect: object, holds: bool) -> None:
    """The JSONPath subset: keys, quoted keys, indexes (negative too) and wildcards."""
    document = {"members": [{"state": "streaming", "lag": 0}, {"state": "streaming", "lag": 0}]}
    tolerance: dict[str, object] = {"type": "jsonpath", "path": path}
    if expect is not None:
        tolerance["expect"] = expect
    assert within(document, tolerance) is holds


def test_a_filter_path_is_refused_at_load(tmp_path: Path) -> None:
    """A JSONPath filter (not in the subset) is a config error naming the path."""
    found = issues(
        tmp_path,
        runbook_yaml(
            "- name: c\n  check:\n    probe: {command: {argv: ['true']}}\n"
            "    tolerance: {type: jsonpath, path: '$.a[?(@.b)]'}\n"
        ),
    )
    assert "invalid JSON path" in found[0]
