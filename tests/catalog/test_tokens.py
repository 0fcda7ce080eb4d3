"""API tokens in the catalog, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from buttress.catalog import Catalog, tokens
from buttress.catalog.tables import ApiToken
from buttress.catalog.tokens import Role
from buttress.errors import ConflictError, NotFoundError, UsageError


def test_token_is_stored_only_as_hash(catalog: Catalog) -> None:
    """The catalog holds the SHA-256 of the token, never the token."""
    with catalog.begin() as session:
        row, text = tokens.create(session=session, name="ci", role="operator", created_by="test")
    with catalog.begin() as session:
        stored = session.scalars(select(ApiToken)).one()
    assert stored.token_hash == hashlib.sha256(text.encode()).hexdigest()
    assert text not in (stored.token_hash, stored.id, stored.name)
    assert text.startswith(f"bt_{row.id}_")


def test_authenticate_roundtrip(catalog: Catalog) -> None:
    """A created token authenticates as its name and role and records its last use."""
    with catalog.begin() as session:
        _, text = tokens.create(session=session, name="ci", role=Role.OPERATOR, created_by="test")
    with catalog.begin() as session:
        who = tokens.authenticate(session=session, token=text)
    assert who is not None
    assert (who.name, who.role) == ("ci", Role.OPERATOR)
    with catalog.begin() as session:
        assert session.scalars(select(ApiToken)).one().last_used_at is not None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t + "x",
        lambda t: "nope",
        lambda t: "",
    ],
)
def test_wrong_tokens_do_not_authenticate(catalog: Catalog, mangle: object) -> None:
    """Altered, malformed or empty tokens are refused."""
    assert callable(mangle)
    with catalog.begin() as session:
        _, text = tokens.create(session=session, name="ci", role="admin", created_by="test")
    with catalog.begin() as session:
        assert tokens.authenticate(session=session, token=mangle(text)) is None


def test_revoked_token_is_refused(catalog: Catalog) -> None:
    """After revocation a token no longer authenticates; revoking again is harmless."""
    with catalog.begin() as session:
        row, text = tokens.create(session=session, name="ci", role="operator", created_by="test")
    with catalog.begin() as session:
        tokens.revoke(session=session, token_id=row.id)
        tokens.revoke(session=session, token_id=row.id)
    with catalog.begin() as session:
        assert tokens.authenticate(session=session, token=text) is None
        assert tokens.get_all(session=session) == []
        assert len(tokens.get_all(session=session, include_revoked=True)) == 1


def test_last_active_admin_cannot_be_revoked(catalog: Catalog) -> None:
    """The last active admin token is refused revocation; with a second admin it may go."""
    with catalog.begin() as session:
        first, _ = tokens.create(session=session, name="a1", role="admin", created_by="test")
        tokens.create(session=session, name="op", role="operator", created_by="test")
    with (
        catalog.begin() as session,
        pytest.raises(ConflictError, match="last active admin token"),
    ):
        tokens.revoke(session=session, token_id=first.id)
    with catalog.begin() as session:
        second, _ = tokens.create(session=session, name="a2", role="admin", created_by="test")
    with catalog.begin() as session:
        assert tokens.revoke(session=session, token_id=first.id).revoked_at is not None
    with (
        catalog.begin() as session,
        pytest.raises(ConflictError, match=f"token '{second.id}' is the last active admin"),
    ):
        tokens.revoke(session=session, token_id=second.id)
    with catalog.begin() as session:
        assert [t.id for t in tokens.get_all(session=session) if t.role == "admin"] == [second.id]


def test_revoke_unknown_token(catalog: Catalog) -> None:
    """Revoking an unknown id is a NotFoundError."""
    with (
        catalog.begin() as session,
        pytest.raises(NotFoundError, match="token 'XXXXXXXX' not found"),
    ):
        tokens.revoke(session=session, token_id="XXXXXXXX")


@pytest.mark.parametrize(
    ("name", "role", "fragment"),
    [("", "admin", "invalid token name"), ("ok", "root", "invalid role 'root'")],
)
def test_bad_token_input(catalog: Catalog, name: str, role: str, fragment: str) -> None:
    """Bad names and unknown roles are usage errors."""
    with catalog.begin() as session, pytest.raises(UsageError, match=fragment):
        tokens.create(session=session, name=name, role=role, created_by="test")


def test_roles_are_ordered() -> None:
    """admin may do what operator may, which may do what viewer may; not the reverse."""
    assert Role.ADMIN.allows(Role.OPERATOR)
    assert Role.OPERATOR.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.OPERATOR)
