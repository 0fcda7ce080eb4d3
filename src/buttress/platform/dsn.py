"""Connection strings read once for every domain: the MariaDB/MySQL DSN that backup's source
and the health check both connect with (one reader, so both agree on what a DSN means).

Errors name the DSN with its password masked (:func:`buttress.secrets.mask_url`)."""

from __future__ import annotations

from typing import TypedDict
from urllib.parse import unquote, urlsplit

from buttress.errors import ButtressError
from buttress.secrets import mask_url

__all__ = ["DsnError", "MariadbParams", "parse_mariadb_dsn"]


class DsnError(ButtressError, ValueError):
    """A connection string that cannot be read (the message masks its secrets)."""


class MariadbParams(TypedDict):
    """A MariaDB DSN as PyMySQL's connection keywords."""

    host: str
    port: int
    user: str
    password: str
    database: str


def parse_mariadb_dsn(dsn: str) -> MariadbParams:
    """``mariadb://user:password@host:port/database`` (or ``mysql://``) as connection keywords
    (host 127.0.0.1, port 3306 and user root by default; user, password and database
    percent-decoded).

    Raises:
        DsnError: not such a URL, or no database.
    """
    parts = urlsplit(dsn)
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        port = -1
    if parts.scheme not in ("mariadb", "mysql") or not parts.path.strip("/") or port == -1:
        raise DsnError(
            f"mariadb dsn {mask_url(dsn)!r}: expected mariadb://user:password@host:port/database"
        )
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "database": unquote(parts.path.strip("/")),
    }
