"""MongoDB: no server can be installed on these machines, so what is tested here is what runs
without one (the commands, the secret kept out of argv, the missing-tools error, bad DSNs);
the round trip against a server runs when one answers on 127.0.0.1:27017 and is the only
skip allowed in the backup tests, with the reason printed."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from buttress.backup.destinations import LocalDestination
from buttress.backup.engine import restore_test, take_backup
from buttress.backup.errors import BackupError
from buttress.backup.pipeline import Settings
from buttress.backup.sources.mongodb import (
    MongoSource,
    _config_file,
    dump_command,
    restore_command,
)
from tests.backup.conftest import Keys

DSN = "mongodb://app:s3cr3t-pw@127.0.0.1:27017/shop?authSource=admin"


def test_dump_and_restore_commands() -> None:
    """One database, an archive on stdout; restore renames it; the URI is only in the file."""
    cfg = Path("/tmp/x.yaml")
    assert dump_command(cfg, "shop", oplog=False) == [
        "mongodump", "--config=/tmp/x.yaml", "--db=shop", "--archive", "--quiet",
    ]  # fmt: skip
    assert "--oplog" in dump_command(cfg, "shop", oplog=True)
    assert "--db=shop" not in dump_command(cfg, "shop", oplog=True)
    args = restore_command(cfg, "shop", "shop_copy", drop=True, oplog=True)
    assert args[:3] == ["mongorestore", "--config=/tmp/x.yaml", "--archive"]
    assert "--nsInclude=shop.*" in args
    renames = [a for a in args if a.startswith(("--nsFrom", "--nsTo"))]
    assert renames == ["--nsFrom=shop.*", "--nsTo=shop_copy.*"]
    assert "--drop" in args
    assert "--oplogReplay" in args
    some = restore_command(cfg, "shop", "x", drop=False, collections=["orders", "users"])
    assert [a for a in some if a.startswith("--nsInclude")] == [
        "--nsInclude=shop.orders",
        "--nsInclude=shop.users",
    ]
    assert "--drop" not in some


def test_the_password_goes_to_a_private_file_never_argv() -> None:
    with _config_file(DSN) as path:
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert path.read_text() == f'uri: "{DSN}"\n'
    assert not path.exists()
    assert "s3cr3t-pw" not in " ".join(dump_command(path, "shop", oplog=False))
    assert "s3cr3t-pw" not in MongoSource(DSN).describe()


def test_missing_tools_are_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings, repo: LocalDestination
) -> None:
    """Without the MongoDB Database Tools on PATH, the dump says what to install."""
    monkeypatch.setenv("PATH", str(tmp_path))
    source = MongoSource(DSN)
    with pytest.raises(BackupError, match="mongodump is not installed"), source.dump("archive"):
        pass


@pytest.mark.parametrize("dsn", ["mongodb://127.0.0.1:27017", "postgresql://h/db"])
def test_bad_mongodb_dsns_are_named(dsn: str) -> None:
    with pytest.raises(BackupError, match="expected mongodb://user:password@host:port/database"):
        MongoSource(dsn)


def test_an_unreachable_server_is_named(settings: Settings, repo: LocalDestination) -> None:
    source = MongoSource("mongodb://u:pw-77@127.0.0.1:1/shop", connect_timeout=1)
    with pytest.raises(BackupError, match=r"mongodb mongodb://u:\*\*\*@127\.0\.0\.1:1/shop"):
        take_backup(source, "docs", [repo], settings)


def _server_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 27017), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(
    not _server_answers(),
    reason="no MongoDB server answers on 127.0.0.1:27017 (none can be installed on this machine)",
)
def test_mongodb_round_trip_on_a_real_server(
    keys: Keys, settings: Settings, repo: LocalDestination
) -> None:  # pragma: no cover - runs only where a server exists
    import pymongo

    dsn = os.environ.get("BUTTRESS_TEST_MONGO_DSN", "mongodb://127.0.0.1:27017/buttress_test")
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(dsn)
    db = client.get_default_database()
    db.orders.insert_many([{"n": i} for i in range(100)])
    try:
        manifest = take_backup(MongoSource(dsn), "docs", [repo], settings).manifest
        assert manifest.metadata["row_counts"] == {"orders": 100}
        test = restore_test(manifest, MongoSource(dsn), repo, keys.identities)
        assert test.ok, test.problems
    finally:
        client.drop_database(db.name)
        client.close()
