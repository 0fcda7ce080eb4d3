"""Token-shaped strings are masked wherever they come from: request ids, paths, query strings
and error messages, in logs, audit rows and responses."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from buttress import logs
from buttress.catalog import audit
from buttress.secrets import redact_tokens
from tests.server.conftest import Api

SECRET = "s3cr3tS3cr3tS3cr3tS3cr3tS3cr3tXY"
SHAPED = f"bt_AbCdEfGh_{SECRET}"


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logs.configure("plain", "debug", stream=buffer)
    yield buffer
    logging.getLogger().removeHandler(handler)


@pytest.mark.parametrize("prefix", ["", "x", "req-"])
def test_request_id_shaped_like_a_token_is_masked(
    api: Api, log_text: io.StringIO, prefix: str
) -> None:
    """A client's X-Request-ID holding a token is masked in the header, the audit row, the log."""
    response = api.client.post(
        "/api/v1/tokens",
        json={"name": "n"},
        headers={**api.auth(api.admin), "X-Request-ID": prefix + SHAPED},
    )
    assert response.status_code == 201
    assert SECRET not in response.headers["x-request-id"]
    assert response.headers["x-request-id"] == f"{prefix}bt_AbCdEfGh_***"
    with api.catalog.begin() as session:
        rows = audit.get_all(session=session)
    assert rows[0].request_id == f"{prefix}bt_AbCdEfGh_***"
    assert SECRET not in log_text.getvalue()


def test_token_in_path_and_query_is_masked_everywhere(api: Api, log_text: io.StringIO) -> None:
    """A token pasted into a path or a query string reaches no response, audit row or log."""
    deleted = api.client.delete(f"/api/v1/tokens/{SHAPED}", headers=api.auth(api.admin))
    assert deleted.status_code == 404
    queried = api.client.get(f"/api/v1/audit?actor={SHAPED}", headers=api.auth(api.admin))
    assert queried.status_code == 200
    anonymous = api.client.delete(f"/api/v1/tokens/{SHAPED}?x={SHAPED}")
    assert anonymous.status_code == 401
    with api.catalog.begin() as session:
        rows = audit.get_all(session=session)
    stored = repr([(r.target, r.detail, r.request_id, r.action) for r in rows])
    assert len(rows) == 2
    for text in (deleted.text, queried.text, anonymous.text, stored, log_text.getvalue()):
        assert SECRET not in text
    assert "bt_AbCdEfGh_***" in deleted.json()["message"]


def test_redact_tokens_masks_any_token_shape() -> None:
    """redact_tokens masks the secret however the token is embedded."""
    assert redact_tokens(f"a{SHAPED}b") == "abt_AbCdEfGh_***"
    assert redact_tokens(f"/x/{SHAPED}/y") == "/x/bt_AbCdEfGh_***/y"
    assert redact_tokens("bt_short_x") == "bt_short_x"
