"""The shared S3 error translation and the one MariaDB DSN reader (backup and health use both):
what they say, and that no secret gets into it."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError

from buttress.platform.dsn import DsnError, parse_mariadb_dsn
from buttress.platform.s3 import S3Endpoint, error_code, explain, timed_out

SECRET = "wJalrXUtnFEMI-secret-key"
ENDPOINT = S3Endpoint("http://user:pw-in-url@s3.local:9000", None, "AKIA", SECRET)


def _error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "HeadObject")


def test_a_missing_bucket_and_refused_credentials_are_said_so() -> None:
    assert explain(_error("NoSuchBucket"), "b") == "bucket 'b' does not exist"
    assert explain(_error("404"), "b", of_bucket=True) == "bucket 'b' does not exist"
    assert "does not exist" not in explain(_error("404"), "b")  # an object's 404: not the bucket
    for code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        assert explain(_error(code), "b") == (
            f"bucket 'b': access refused ({code}): check the credentials and the policy"
        )
    assert error_code(ValueError("no response")) == ""


def test_no_secret_reaches_the_explanation() -> None:
    leaky = _error("InternalError", f"signing with {SECRET} at http://user:pw-in-url@s3.local")
    text = explain(leaky, "b", ENDPOINT)
    assert SECRET not in text
    assert "pw-in-url" not in text
    assert "InternalError" in text
    assert "pw-in-url" not in repr(ENDPOINT)
    assert SECRET not in repr(ENDPOINT)
    assert ENDPOINT.where("b", "p") == "s3://b/p at http://user:***@s3.local:9000"


def test_timeouts_are_recognised() -> None:
    assert timed_out(ConnectTimeoutError(endpoint_url="http://s3.local"))
    assert not timed_out(_error("SlowDown"))


def test_a_mariadb_dsn_with_its_defaults_and_escapes() -> None:
    assert parse_mariadb_dsn("mysql://h/app") == {
        "host": "h",
        "port": 3306,
        "user": "root",
        "password": "",
        "database": "app",
    }
    p = parse_mariadb_dsn("mariadb://a%40b:p%2Fw%3A@db:3307/my%20db")
    assert (p["user"], p["password"], p["port"], p["database"]) == ("a@b", "p/w:", 3307, "my db")


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://app:hunter2@db/app",
        "mariadb://app:hunter2@db:3306/",
        "mariadb://app:hunter2@db:port/app",
    ],
)
def test_a_bad_mariadb_dsn_is_named_without_its_password(dsn: str) -> None:
    with pytest.raises(DsnError, match=r"expected mariadb://user:password@host:port/database") as e:
        parse_mariadb_dsn(dsn)
    assert "hunter2" not in str(e.value)
    assert isinstance(e.value, ValueError)
