"""Structured logs: request ids, JSON lines, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from buttress import logs


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logs.configure("json", "info", stream=buffer)
    yield buffer
    logging.getLogger().removeHandler(handler)


def test_json_lines_carry_request_id_and_extras(stream: io.StringIO) -> None:
    """Each JSON line has ts, level, logger, msg, the request id and extra fields."""
    token = logs.request_id.set("rid-1")
    try:
        logging.getLogger("buttress.test").info("hello %s", "world", extra={"client": "127.0.0.1"})
    finally:
        logs.request_id.reset(token)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["msg"] == "hello world"
    assert line["request_id"] == "rid-1"
    assert line["client"] == "127.0.0.1"
    assert line["level"] == "info"
    assert line["logger"] == "buttress.test"


def test_secrets_are_redacted_from_messages_args_and_tracebacks(stream: io.StringIO) -> None:
    """Tokens and DSN passwords never reach the log, wherever they appear."""
    token = "bt_AbCdEfGh_" + "s" * 32
    log = logging.getLogger("buttress.test")
    log.warning("connecting to %s with %s", "postgresql://u:hunter2@db/x", token)
    try:
        raise RuntimeError(f"failed with {token}")
    except RuntimeError:
        log.exception("boom")
    text = stream.getvalue()
    assert "hunter2" not in text
    assert "s" * 32 not in text
    assert "bt_AbCdEfGh_***" in text
