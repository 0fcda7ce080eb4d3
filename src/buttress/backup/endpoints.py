"""Which servers a DSN connects to, and which database it names: parsed the way the client
that will use it parses it (libpq's own parser for PostgreSQL, buttress's ``parse_dsn`` for
MariaDB, the URI rules of MongoDB), so that a restore through the API can be checked against
the servers it may reach before anything connects.

Nothing here connects, resolves a name or reads a file. Messages never repeat a DSN (it may
hold a password): they name the field and the host and port.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from buttress.errors import UsageError

__all__ = ["Endpoint", "Parsed", "parse_dsn_endpoints", "parse_server"]

PG_DEFAULT_PORT = 5432
MARIADB_DEFAULT_PORT = 3306
MONGODB_DEFAULT_PORT = 27017


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One server a client connects to.

    ``host`` is a lower-cased name, an IP address in its compressed form, a unix-socket path
    (kept as written) or ``""`` for libpq's default unix socket. ``port`` is ``None`` where it
    does not apply (a MongoDB unix socket, a ``mongodb+srv`` name whose SRV record decides).
    """

    host: str
    port: int | None

    def __str__(self) -> str:
        host = self.host or "the default unix socket"
        if ":" in self.host and not self.host.startswith("/"):
            host = f"[{self.host}]"
        if self.port is None:
            return host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Parsed:
    """A DSN as the restore checks see it: the servers, the database, the options given."""

    endpoints: tuple[Endpoint, ...]
    database: str | None
    options: Mapping[str, str]


def _host(text: str) -> str:
    if text.startswith(("/", "@")):  # a unix socket directory, or an abstract socket
        return text
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return ipaddress.ip_address(bare).compressed
    except ValueError:
        return bare.lower()


def _port(text: str, field: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"{field}: port {text[:20]!r} is not a number from 1 to 65535")
    return int(text)


def parse_server(text: str) -> Endpoint:
    """``host:port``, ``[v6]:port`` or ``/socket/dir:port`` (a PostgreSQL socket directory).

    Raises:
        ValueError: not in one of those forms (the message says which is expected).
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host or "\0" in text or any(c.isspace() for c in text):
        raise ValueError(f"{text[:80]!r} is not host:port")
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        raise ValueError(f"{text[:80]!r}: write an IPv6 address as [address]:port")
    if not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text[:80]!r}: the port is not a number from 1 to 65535")
    return Endpoint(_host(host), int(port))


def _pg(dsn: str, field: str, env: Mapping[str, str]) -> Parsed:
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    except Exception:  # noqa: BLE001  # psycopg's ProgrammingError; its text may echo a password
        raise UsageError(
            f"{field}: not a libpq connection string (postgresql://host:port/db or "
            "'host=... port=... dbname=...')"
        ) from None
    # libpq takes each keyword that is not given from the environment, then its default
    hosts = params.get("host", env.get("PGHOST"))
    addrs = params.get("hostaddr", env.get("PGHOSTADDR"))
    host_list = hosts.split(",") if hosts is not None else []
    addr_list = addrs.split(",") if addrs is not None else []
    count = max(len(host_list), len(addr_list), 1)
    if (host_list and len(host_list) != count) or (addr_list and len(addr_list) != count):
        raise UsageError(f"{field}: host and hostaddr list different numbers of servers")
    ports_text = params.get("port", env.get("PGPORT", ""))
    ports = ports_text.split(",") if ports_text else [""]
    if len(ports) not in (1, count):
        raise UsageError(f"{field}: {len(ports)} ports for {count} hosts")
    found = []
    for i in range(count):
        addr = addr_list[i] if addr_list else ""
        name = host_list[i] if host_list else ""
        port = ports[i] if len(ports) == count else ports[0]
        # libpq connects to hostaddr when it is given (host is then only for TLS and auth)
        found.append(Endpoint(_host(addr or name), _port(port, field) if port else PG_DEFAULT_PORT))
    options = {k: v for k, v in params.items() if k not in ("host", "hostaddr", "port", "dbname")}
    return Parsed(tuple(found), params.get("dbname"), options)


def _url_hosts(dsn: str, field: str) -> tuple[str, list[str], str, str]:
    scheme, sep, rest = dsn.partition("://")
    if not sep:
        raise UsageError(f"{field}: expected a {scheme or 'scheme'}://host:port/database URL")
    netloc, _, tail = rest.partition("/")
    if "?" in netloc:
        netloc, _, query = netloc.partition("?")
        tail = "?" + query
    path, _, query = tail.partition("?")
    hosts = netloc.rpartition("@")[2]
    return scheme.lower(), hosts.split(","), unquote(path), query


def _url_endpoint(text: str, field: str, default_port: int) -> Endpoint:
    text = unquote(text)
    if text.startswith("/"):
        return Endpoint(text, None)  # a unix socket file: no port
    if text.startswith("["):
        host, _, port = text[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = text.partition(":")
    if not host:
        raise UsageError(f"{field}: no host in the URL")
    return Endpoint(_host(host), _port(port, field) if port else default_port)


def _mariadb(dsn: str, field: str) -> Parsed:
    from buttress.backup.errors import BackupError
    from buttress.backup.sources.mariadb import parse_dsn

    try:
        params = parse_dsn(dsn)
    except (BackupError, ValueError):  # ValueError: urlsplit's port that is not a number
        raise UsageError(f"{field}: expected mariadb://user:password@host:port/database") from None
    if "," in (urlsplit(dsn).netloc or ""):
        raise UsageError(f"{field}: a mariadb DSN names one server")
    options = dict(parse_qsl(urlsplit(dsn).query))
    return Parsed(
        (Endpoint(_host(params["host"]), int(params["port"])),), params["database"], options
    )


def _mongodb(dsn: str, field: str) -> Parsed:
    scheme, hosts, path, query = _url_hosts(dsn, field)
    if scheme not in ("mongodb", "mongodb+srv"):
        raise UsageError(f"{field}: expected mongodb://user:password@host:port/database")
    if scheme == "mongodb+srv":
        if len(hosts) != 1 or ":" in hosts[0] or not hosts[0]:
            raise UsageError(f"{field}: mongodb+srv:// names one host, without a port")
        found: tuple[Endpoint, ...] = (Endpoint(_host(unquote(hosts[0])), None),)
    else:
        found = tuple(_url_endpoint(h, field, MONGODB_DEFAULT_PORT) for h in hosts)
    database = path.strip("/").split("/")[0] or None
    return Parsed(found, database, dict(parse_qsl(query)))


def parse_dsn_endpoints(
    source: str, dsn: str, *, field: str = "to", env: Mapping[str, str] | None = None
) -> Parsed:
    """The servers ``dsn`` (of a ``source`` target) connects to, the database it names, and its
    other options; ``env`` stands for the environment (PGHOST, PGPORT...) libpq would read.

    Raises:
        UsageError: ``dsn`` is not a DSN of that kind (the message names ``field``).
    """
    if "\0" in dsn:
        raise UsageError(f"{field}: contains a NUL byte")
    if source == "postgresql":
        return _pg(dsn, field, env or {})
    if source == "mariadb":
        return _mariadb(dsn, field)
    if source == "mongodb":
        return _mongodb(dsn, field)
    raise UsageError(f"{field}: a {source} target is not restored into a DSN")
