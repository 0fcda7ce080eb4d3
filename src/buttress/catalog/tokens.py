"""API tokens: created with a role, shown once, stored only as a SHA-256 hash.

A token reads ``bt_<id>_<secret>``: the 8-character id is public (it names the token in lists,
the audit log and ``token revoke``); the 32-character secret carries 190 bits of randomness,
so a plain SHA-256 is a sufficient hash (as for GitHub's tokens: no password stretching is
needed for random secrets).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from buttress.catalog.tables import ApiToken, utcnow
from buttress.errors import ConflictError, NotFoundError, UsageError

__all__ = [
    "Principal",
    "Role",
    "authenticate",
    "count_active",
    "create",
    "get_all",
    "revoke",
]

_ALPHABET = string.ascii_letters + string.digits
_SHAPE = re.compile(r"bt_([A-Za-z0-9]{8})_([A-Za-z0-9]{32})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.@:-]{0,99}")
# last_used_at is written at most this often per token, so reads do not all become writes
_TOUCH_INTERVAL = dt.timedelta(seconds=60)


class Role(enum.StrEnum):
    """What a token may do; each role may do everything the ones before it may."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may."""
        return self.rank >= needed.rank


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id, name and role."""

    token_id: str
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """How this principal is named in the audit log."""
        return f"token:{self.token_id}({self.name})"


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(
    *, session: Session, name: str, role: Role | str, created_by: str
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the token text, which is never retrievable again.

    Raises:
        UsageError: the name or role is not acceptable.
    """
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"invalid token name {name!r}: 1-100 letters, digits, spaces or _.@:- "
            "starting with a letter or digit"
        )
    try:
        role = Role(role)
    except ValueError:
        raise UsageError(f"invalid role {role!r}: use one of {', '.join(Role)}") from None
    token_id = _random(8)
    text = f"bt_{token_id}_{_random(32)}"
    row = ApiToken(
        id=token_id,
        name=name,
        role=role.value,
        token_hash=_hash(text),
        created_at=utcnow(),
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row, text


def get_all(*, session: Session, include_revoked: bool = False) -> list[ApiToken]:
    """Every token, oldest first."""
    query = select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(session.scalars(query))


def count_active(*, session: Session) -> int:
    """How many tokens are not revoked."""
    query = select(func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_(None))
    return int(session.scalar(query) or 0)


def revoke(*, session: Session, token_id: str) -> ApiToken:
    """Revoke a token by its id (the 8 characters after ``bt_``); revoking twice is harmless.

    Raises:
        NotFoundError: no token has that id.
        ConflictError: it is the last active admin token (nobody could manage tokens after).
    """
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFoundError("token", token_id)
    if row.revoked_at is None:
        if row.role == Role.ADMIN and not _other_admins(session, row.id):
            raise ConflictError(
                f"token {row.id!r} is the last active admin token: create another admin token "
                "before revoking it"
            )
        row.revoked_at = utcnow()
    return row


def _other_admins(session: Session, token_id: str) -> list[str]:
    # FOR UPDATE (PostgreSQL) locks the active admin rows, so two concurrent revokes of the last
    # two admins cannot both see the other one still active; SQLite serialises writers anyway.
    query = (
        select(ApiToken.id)
        .where(ApiToken.role == Role.ADMIN.value, ApiToken.revoked_at.is_(None))
        .with_for_update()
    )
    return [i for i in session.scalars(query) if i != token_id]


def authenticate(*, session: Session, token: str) -> Principal | None:
    """The principal a token text stands for, or ``None`` if it is malformed, unknown or revoked."""
    match = _SHAPE.fullmatch(token)
    if match is None:
        return None
    row = session.get(ApiToken, match[1])
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.token_hash, _hash(token)):
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > _TOUCH_INTERVAL:
        row.last_used_at = now
    return Principal(token_id=row.id, name=row.name, role=Role(row.role))
