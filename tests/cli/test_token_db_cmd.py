"""buttress token create|list|revoke and buttress db upgrade|current, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from buttress.catalog import Catalog, audit, catalog_url
from buttress.catalog.engine import HEAD_REVISION
from tests.cli.conftest import Run
from tests.conftest import free_port


@pytest.fixture
def with_catalog(cli: Run, tmp_path: Path, catalog_dsn: str) -> Run:
    """The CLI pointed at a catalog on each backend through buttress.yaml."""
    (tmp_path / "buttress.yaml").write_text(f"catalog:\n  url: {catalog_dsn}\n")
    return cli


def test_db_upgrade_then_current(with_catalog: Run) -> None:
    """db upgrade migrates an empty catalog, a second run says it is current."""
    first = with_catalog("db", "upgrade")
    assert first.code == 0
    assert f"upgraded empty -> {HEAD_REVISION}" in first.out
    again = with_catalog("db", "upgrade")
    assert f"already at revision {HEAD_REVISION}" in again.out
    current = with_catalog("db", "current").out
    assert f"revision {HEAD_REVISION} (head {HEAD_REVISION})" in current


def test_token_lifecycle(with_catalog: Run, catalog_dsn: str) -> None:
    """create prints the token once; list hides the secret; revoke revokes; all audited."""
    assert with_catalog("db", "upgrade").code == 0
    created = with_catalog("token", "create", "ci", "--role", "operator")
    assert created.code == 0
    token = created.out.strip()
    match = re.fullmatch(r"bt_([A-Za-z0-9]{8})_\w+", token)
    assert match is not None
    token_id = match[1]
    assert "shown only this once" in created.err
    listed = with_catalog("token", "list")
    assert token_id in listed.out
    assert "operator" in listed.out
    assert token not in listed.out
    assert with_catalog("token", "revoke", token_id).code == 0
    assert token_id not in with_catalog("token", "list").out
    assert token_id in with_catalog("token", "list", "--all").out
    cat = Catalog(catalog_url(catalog_dsn, Path()))
    with cat.begin() as session:
        actions = [r.action for r in audit.get_all(session=session)]
    cat.dispose()
    assert actions == ["token.revoke", "token.create"]


def test_bad_role_and_unknown_id(with_catalog: Run) -> None:
    """A bad role exits 2; revoking an unknown id exits 1; both one clear line."""
    with_catalog("db", "upgrade")
    bad = with_catalog("token", "create", "ci", "--role", "root")
    assert bad.code == 2
    assert bad.err.startswith("catalog: ")  # which catalog, then the one-line error
    assert bad.err.splitlines()[1:] == [
        "error: invalid role 'root': use one of viewer, operator, admin"
    ]
    missing = with_catalog("token", "revoke", "ZZZZZZZZ")
    assert missing.code == 1
    assert missing.err.splitlines()[1:] == ["error: token 'ZZZZZZZZ' not found"]


def test_unreachable_postgres_exits_1_with_host_and_masked_password(
    cli: Run, tmp_path: Path
) -> None:
    """A catalog DSN that does not answer: exit 1, the host named, the password never shown."""
    port = free_port()
    (tmp_path / "buttress.yaml").write_text(
        f"catalog:\n  url: postgresql://app:hunter2@127.0.0.1:{port}/app\n  connect_timeout: 2s\n"
    )
    result = cli("db", "upgrade")
    assert result.code == 1
    assert f"127.0.0.1:{port}" in result.err
    assert "did not answer" in result.err
    assert "hunter2" not in result.err + result.out
    assert result.err.count("\n") == 1
    assert result.err.startswith("error: ")


def test_last_admin_token_cannot_be_revoked(with_catalog: Run) -> None:
    """Revoking the only active admin token exits 2 with the reason, and the token stays."""
    with_catalog("db", "upgrade")
    token = with_catalog("token", "create", "root", "--role", "admin").out.strip()
    token_id = token.split("_")[1]
    refused = with_catalog("token", "revoke", token_id)
    assert refused.code == 2
    assert refused.err.splitlines()[1:] == [
        f"error: token '{token_id}' is the last active admin token: "
        "create another admin token before revoking it"
    ]
    assert token_id in with_catalog("token", "list").out
