"""sql steps on the real PostgreSQL and MariaDB: read-only unless `write: true`, expectations."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pymysql

from buttress.platform.dsn import parse_mariadb_dsn
from tests.runbooks.helpers import config, engine, runbook_yaml


def test_a_value_read_from_postgresql_feeds_a_later_step(tmp_path: Path, pg_database: str) -> None:
    """`expect: {value: ...}` holds, and the value is read by the next step's template."""
    steps = f"""\
    - name: ask
      sql: {{dsn: "{pg_database}", statement: "SELECT 40 + 2", expect: {{value: 42}}}}
    - name: say
      command: {{argv: [echo, "{{{{ steps.ask.value }}}} {{{{ steps.ask.rows }}}}"]}}
    """
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "succeeded"
    assert rec.steps["1"].output == "42 1\n"


def test_a_write_without_write_true_is_refused_by_the_server(
    tmp_path: Path, pg_database: str
) -> None:
    """An INSERT in a read-only step fails (the transaction is read-only); with write: true
    it commits."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (n int)")
    steps = f"""\
    - name: sneaky
      on_failure: continue
      sql: {{dsn: "{pg_database}", statement: "INSERT INTO t VALUES (1)"}}
    - name: meant
      sql: {{dsn: "{pg_database}", statement: "INSERT INTO t VALUES (2)", write: true,
            expect: {{rows: 1}}}}
    """  # noqa: S608  # the test's own DSN in YAML, not a query
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "succeeded"
    assert "read-only transaction" in (rec.steps["0"].error or "")
    with psycopg.connect(pg_database) as conn:
        assert conn.execute("SELECT n FROM t").fetchall() == [(2,)]


def test_a_wrong_row_count_fails(tmp_path: Path, pg_database: str) -> None:
    """`expect: {rows: 2}` on a one-row result fails, saying both counts."""
    sql = f"{{dsn: '{pg_database}', statement: 'SELECT 1', expect: {{rows: 2}}}}"
    steps = f"- name: ask\n  sql: {sql}\n"
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "failed"
    assert rec.steps["0"].error == "1 row(s), expected 2"


def test_a_statement_past_the_timeout_is_cancelled(tmp_path: Path, pg_database: str) -> None:
    """pg_sleep(30) in a step with a 1s timeout is cancelled by the server: timed_out."""
    sql = f"{{dsn: '{pg_database}', statement: 'SELECT pg_sleep(30)'}}"
    steps = f"- name: slow\n  timeout: 1s\n  sql: {sql}\n"
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "failed"
    assert rec.steps["0"].status == "timed_out"
    assert "statement timeout" in (rec.steps["0"].error or "")


def test_mariadb_reads_and_refuses_writes_unless_asked(
    tmp_path: Path, mariadb_database: str
) -> None:
    """On MariaDB too: a read-only step cannot write, a write step commits."""
    conn = pymysql.connect(**parse_mariadb_dsn(mariadb_database), autocommit=True)
    conn.cursor().execute("CREATE TABLE t (n int)")
    steps = f"""\
    - name: count
      sql: {{dsn: "{mariadb_database}", statement: "SELECT COUNT(*) FROM t",
            expect: {{value: 0}}}}
    - name: sneaky
      on_failure: continue
      sql: {{dsn: "{mariadb_database}", statement: "INSERT INTO t VALUES (1)"}}
    - name: meant
      sql: {{dsn: "{mariadb_database}", statement: "INSERT INTO t VALUES (2)", write: true}}
    """  # noqa: S608  # the test's own DSN in YAML, not a query
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "succeeded"
    assert rec.steps["1"].status == "failed"
    cur = conn.cursor()
    cur.execute("SELECT n FROM t")
    assert cur.fetchall() == ((2,),)
    conn.close()


def test_a_dsn_password_is_masked_in_errors(tmp_path: Path) -> None:
    """A DSN that does not connect is reported with its password masked."""
    dsn = "postgresql://app:pa55word-x@127.0.0.1:1/app"
    steps = f"- name: ask\n  sql: {{dsn: '{dsn}', statement: 'SELECT 1'}}\n"
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "failed"
    assert "pa55word-x" not in (rec.steps["0"].error or "")
    (planned,) = eng.plan("rb", {})
    assert "pa55word-x" not in planned.action + " ".join(planned.problems)
    assert planned.problems
    assert "does not connect" in planned.problems[0]


def test_a_mariadb_statement_past_the_timeout_is_stopped(
    tmp_path: Path, mariadb_database: str
) -> None:
    """SLEEP(30) in a MariaDB step with a 1s timeout is stopped by the server: timed_out."""
    sql = f"{{dsn: '{mariadb_database}', statement: 'SELECT SLEEP(30)'}}"
    steps = f"- name: slow\n  timeout: 1s\n  sql: {sql}\n"
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "failed"
    assert rec.steps["0"].status == "timed_out", rec.steps["0"].error
