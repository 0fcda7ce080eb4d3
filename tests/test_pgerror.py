"""libpq's error text, from the real server, on one line: hints kept, repeats left out."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from buttress._pgerror import one_line, refusal
from tests.conftest import free_port


def test_several_hosts_give_the_first_failure_and_its_hint() -> None:
    port = free_port()
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(f"host=127.0.0.1,127.0.0.1 port={port},{port} dbname=x", connect_timeout=2)
    assert "Multiple connection attempts failed" in str(info.value)  # what libpq adds
    assert one_line(str(info.value)) == (
        f'connection to server at "127.0.0.1", port {port} failed: Connection refused '
        "(Is the server running on that host and accepting TCP/IP connections?)"
    )
    assert refusal(str(info.value)) is None  # nothing answered


def test_a_server_error_keeps_its_hint_not_the_statement(pg_server: str) -> None:
    with psycopg.connect(pg_server) as conn, pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT no_such_function(1)")
    assert "LINE 1:" in str(info.value)
    message = one_line(str(info.value))
    assert message.startswith("function no_such_function(integer) does not exist (hint: ")
    assert "LINE 1" not in message
    assert "\n" not in message


def test_a_refusal_is_what_the_server_said(pg_server: str) -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(make_conninfo(pg_server, dbname="no_such_db_for_pgerror"))
    assert refusal(str(info.value)) == 'database "no_such_db_for_pgerror" does not exist'
