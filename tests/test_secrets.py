"""Secrets are masked wherever buttress displays text."""

from __future__ import annotations

from urllib.parse import quote

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from buttress.secrets import MASK, mask_dsn, mask_url, redact, redact_echo


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://app:s3cret@db:5432/app", "postgresql://app:***@db:5432/app"),
        ("postgresql://app@db/app", "postgresql://app@db/app"),
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("postgresql://u:p@[::1]:5432/x", "postgresql://u:***@[::1]:5432/x"),
        ("postgresql://u@h/db?password=hunter2", "postgresql://u@h/db?password=***"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_mask_url(url: str, expected: str) -> None:
    """Passwords in DSNs are replaced by ***, everything else is kept."""
    assert mask_url(url) == expected


def test_redact_removes_tokens_and_bearer_headers() -> None:
    """API tokens keep their public id but lose their secret; bearer values are masked."""
    token = "bt_AbCdEfGh_" + "x" * 32
    text = redact(f"got {token} and Authorization: Bearer abc.def and postgres://a:b@h/d")
    assert "x" * 32 not in text
    assert "bt_AbCdEfGh_***" in text
    assert "abc.def" not in text
    assert "a:***@h" in text


# -- libpq's grammar: keyword/value strings and URIs, checked against libpq itself -----------


PG = "host=127.0.0.1 port=5432 user=postgres"
# every character libpq takes in a password (no NUL: C strings), with the awkward ones often
PASSWORDS = st.text(
    alphabet=st.one_of(
        st.sampled_from(" \t'\\\"@:/%=?&#,;[]{}$`"),
        st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    ),
    min_size=1,
    max_size=24,
)
SPACING = st.sampled_from(["=", " = ", " =", "= ", "\t=\t"])


def _quoted(pw: str) -> str:
    return "'" + pw.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _escaped(pw: str) -> str:
    """The unquoted form: a backslash before each blank, quote and backslash."""
    return "".join("\\" + c if c in " \t\n\r\v\f'\\" else c for c in pw)


def _keyword_dsns(pw: str, eq: str) -> list[str]:
    return [
        f"{PG} password{eq}{_quoted(pw)} dbname=postgres",
        f"password{eq}{_quoted(pw)} {PG} dbname=postgres",
        f"{PG} dbname=postgres password{eq}{_escaped(pw)}",
    ]


def _uri_dsns(pw: str) -> list[str]:
    enc = quote(pw, safe="")
    return [
        f"postgresql://postgres:{enc}@127.0.0.1:5432/postgres",
        f"postgres://postgres:{enc}@127.0.0.1:5432,127.0.0.1:5432/postgres?sslmode=disable",
        f"postgresql://postgres@127.0.0.1:5432/postgres?application_name=x&password={enc}",
    ]


def _never_shown(pw: str, masked: str, baseline: str) -> None:
    if len(pw.strip()) >= 3 and pw not in baseline:
        assert pw not in masked


@settings(max_examples=300, deadline=None)
@given(pw=PASSWORDS, eq=SPACING)
def test_keyword_dsns_mask_what_libpq_reads_as_the_password(pw: str, eq: str) -> None:
    """For any password in any keyword/value form libpq accepts, libpq reads that password,
    and the masked text is the same whatever the password: nothing of it shows."""
    for make in (lambda p: _keyword_dsns(p, eq), _uri_dsns):
        for dsn, other in zip(make(pw), make("x"), strict=True):
            assert conninfo_to_dict(dsn)["password"] == pw, dsn
            masked = mask_dsn(dsn)
            assert masked == mask_dsn(other), dsn
            _never_shown(pw, masked, other)
            parsed = conninfo_to_dict(masked)  # still a connection string libpq reads
            assert parsed.get("password") in (MASK, None) or MASK in str(parsed["password"])
            assert {k: v for k, v in parsed.items() if k != "password"} == {
                k: v for k, v in conninfo_to_dict(dsn).items() if k != "password"
            }
            assert redact(f"could not connect with {dsn}: refused") == redact(
                f"could not connect with {other}: refused"
            )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pw=PASSWORDS, eq=SPACING)
def test_a_real_connection_uses_the_password_the_masking_hides(
    pg_server: str, pw: str, eq: str
) -> None:
    """A real psycopg connection (trust auth takes any password) sends exactly the password
    built into each DSN form: the masking and libpq agree on where it is."""
    forms = [_keyword_dsns(pw, eq)[0], _uri_dsns(pw)[0]]
    for dsn, other in zip(forms, [_keyword_dsns("x", eq)[0], _uri_dsns("x")[0]], strict=True):
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            assert conn.info.password == pw
        assert mask_dsn(dsn) == mask_dsn(other)


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (
            "host=db user=postgres password = secret dbname=app",
            "host=db user=postgres password = *** dbname=app",
        ),
        ("host=db password='two words' dbname=app", "host=db password=*** dbname=app"),
        (r"host=db password='it\'s \\ x' dbname=app", "host=db password=*** dbname=app"),
        ("host=db password='' dbname=app", "host=db password=*** dbname=app"),
        (
            "host=db password= dbname=app",
            "host=db password= ***",
        ),  # libpq: the value is "dbname=app"
        ("host=db sslpassword=k password=p", "host=db sslpassword=*** password=***"),
        ("host=db password='unterminated dbname=x", "host=db password=***"),
        ("host=db password=two words dbname=x", "host=db password=*** dbname=x"),
        ("dbname='host=db password=pw' user=u", "dbname='host=db password=***' user=u"),
        ("postgresql://u:p%40ss@h1:5432,h2:5433/db", "postgresql://u:***@h1:5432,h2:5433/db"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),  # a raw "@": urllib's reading
        ("postgresql://u:pa/ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:pa?ss@h/db", "postgresql://u:***@h/db"),  # libpq's reading
        (
            "postgresql://u@h/db?pass%77ord=x&sslmode=require",
            "postgresql://u@h/db?pass%77ord=***&sslmode=require",
        ),
        (
            "postgresql://h:5432/db?user=me@corp&password=x",
            "postgresql://h:5432/db?user=me@corp&password=***",
        ),
        ("mariadb://root:pw@127.0.0.1:3306/db", "mariadb://root:***@127.0.0.1:3306/db"),
        ("mysql://root:p%2Fw@127.0.0.1/db", "mysql://root:***@127.0.0.1/db"),
        ("rediss://default:pw@cache:6380/0", "rediss://default:***@cache:6380/0"),
        (
            "mongodb+srv://u:pw@c0.example.net/db?authSource=admin",
            "mongodb+srv://u:***@c0.example.net/db?authSource=admin",
        ),
        (
            "mongodb://u:pw@h1:27017,h2:27017/db?authMechanismProperties=AWS_SESSION_TOKEN:t",
            "mongodb://u:***@h1:27017,h2:27017/db?authMechanismProperties=***",
        ),
    ],
)
def test_every_dsn_form_is_masked(dsn: str, expected: str) -> None:
    """Each form libpq, PyMySQL, redis-py and PyMongo accept loses its secrets, nothing else."""
    assert mask_dsn(dsn) == expected


@settings(max_examples=200, deadline=None)
@given(pw=PASSWORDS, scheme=st.sampled_from(["mysql", "mariadb", "redis", "rediss", "mongodb"]))
def test_other_uris_mask_the_password_their_drivers_read(pw: str, scheme: str) -> None:
    """MariaDB, Redis and MongoDB URIs: the driver's parse finds the password, the masked
    text does not depend on it."""
    from buttress.backup.sources.mariadb import parse_dsn
    from buttress.backup.sources.redis import RedisSource

    def make(p: str) -> str:
        return f"{scheme}://app:{quote(p, safe='')}@127.0.0.1:1234/db"

    if scheme in ("mysql", "mariadb"):
        assert parse_dsn(make(pw))["password"] == pw
    elif scheme == "redis":
        assert RedisSource(make(pw)).password == pw
    masked = mask_dsn(make(pw))
    assert masked == mask_dsn(make("x")) == f"{scheme}://app:***@127.0.0.1:1234/db"
    raw = pw.replace("/", "").replace("?", "").replace("#", "")
    if raw:  # a password written without percent-encoding (a raw "@" among others)
        assert mask_dsn(make(pw).replace(quote(pw, safe=""), raw)) == masked


def test_libpq_errors_do_not_echo_pieces_of_a_password() -> None:
    """libpq quotes the word it could not read; when that word is part of a password, the
    message shows *** instead."""
    dsn = "host=db password=two words dbname=x"
    with pytest.raises(psycopg.ProgrammingError) as caught:
        conninfo_to_dict(dsn)
    assert "words" in str(caught.value)
    assert "words" not in redact_echo(str(caught.value), dsn)
    assert '"hots"' in redact_echo('invalid connection option "hots"', "hots=db password=pw")
