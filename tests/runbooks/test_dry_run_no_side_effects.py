"""A dry run resolves everything and shows what would run, and changes nothing."""

from __future__ import annotations

from pathlib import Path

import psycopg

from tests.conftest import free_port
from tests.runbooks.conftest import Web
from tests.runbooks.helpers import config, engine, runbook_yaml


def test_a_command_that_would_create_a_file_creates_none(tmp_path: Path) -> None:
    """Planning a `touch` step shows the rendered argv; the file is not created."""
    target = tmp_path / "created"
    steps = "- name: make\n  command: {argv: [touch, '{{ params.where }}']}\n"
    extra = f"params:\n  where: {{type: str, default: '{target}'}}\n"
    eng, rec = engine(config(tmp_path, runbook_yaml(steps, extra=extra)))
    (planned,) = eng.plan("rb", {})
    assert planned.action == f"touch {target}"
    assert planned.detail["argv"] == ["touch", str(target)]
    assert planned.problems == []
    assert not target.exists()
    assert rec.order == []


def test_later_values_show_as_placeholders(tmp_path: Path) -> None:
    """A template reading an earlier step's value shows where the value will go."""
    steps = (
        "- name: a\n  command: {argv: [echo, hi]}\n"
        "- name: b\n  command: {argv: [echo, '{{ steps.a.stdout }}']}\n"
    )
    eng, _ = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.plan("rb", {})[1].action == "echo '<steps.a.stdout>'"


def test_an_http_step_connects_but_sends_no_request(tmp_path: Path, web: Web) -> None:
    """Planning a POST checks the port accepts a connection; the server sees no request."""
    steps = f"- name: call\n  http: {{method: POST, url: '{web.url}/promote', body: go}}\n"
    eng, _ = engine(config(tmp_path, runbook_yaml(steps)))
    (planned,) = eng.plan("rb", {})
    assert planned.action == f"POST {web.url}/promote"
    assert planned.problems == []
    assert web.requests == []


def test_an_unreachable_url_is_a_problem(tmp_path: Path) -> None:
    """A URL whose port refuses connections is listed as a problem."""
    steps = f"- name: call\n  http: {{url: 'http://127.0.0.1:{free_port()}/'}}\n"
    eng, _ = engine(config(tmp_path, runbook_yaml(steps)))
    (planned,) = eng.plan("rb", {})
    assert "does not accept connections" in planned.problems[0]


def test_a_sql_write_writes_no_row(tmp_path: Path, pg_database: str) -> None:
    """Planning an INSERT connects (and closes) only: the table stays empty."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (n int)")
    statement = "INSERT INTO t VALUES (1)"
    steps = f"- name: w\n  sql: {{dsn: '{pg_database}', statement: '{statement}', write: true}}\n"
    eng, _ = engine(config(tmp_path, runbook_yaml(steps)))
    (planned,) = eng.plan("rb", {})
    assert planned.problems == []
    assert planned.action.endswith(f"SQL (write) on {pg_database}: {statement}")
    with psycopg.connect(pg_database) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_checks_and_waits_are_described_not_probed(tmp_path: Path) -> None:
    """A check and a wait-until are planned from their probes; nothing runs."""
    marker = tmp_path / "ran"
    steps = f"""\
    - name: c
      check: {{probe: {{command: {{argv: [touch, {marker}]}}}}, tolerance: 0}}
    - name: w
      wait: {{until: {{probe: {{command: {{argv: [touch, {marker}]}}}}, tolerance: 0}}}}
    """
    eng, _ = engine(config(tmp_path, runbook_yaml(steps)))
    c, w = eng.plan("rb", {})
    assert c.action == f"check touch {marker} within 0"
    assert w.action.startswith(f"wait until check touch {marker} within 0 (every 1s")
    assert not marker.exists()
