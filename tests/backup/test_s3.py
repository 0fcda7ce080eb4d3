"""Backups into S3-compatible storage (moto's standalone server over HTTP): multipart objects
beside a local copy, damage named by verify, S3 errors mid-upload, a missing bucket, leftovers
of a killed run, and the secret key never shown."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from buttress.backup.destinations import LocalDestination
from buttress.backup.engine import load_manifest, take_backup, verify
from buttress.backup.errors import BackupError, CorruptBackupError
from buttress.backup.pipeline import Settings, read_artifact
from buttress.backup.s3 import S3Destination, S3Settings
from buttress.backup.service import Backups
from buttress.catalog import Catalog, catalog_url
from buttress.cli import main
from buttress.config import S3DestinationConfig, load
from tests.backup.conftest import Keys, recipient
from tests.backup.s3_proxy import FaultyProxy
from tests.backup.test_pipeline import BytesSource
from tests.conftest import PG_ADMIN_DSN, S3Server, wait_until

# 9 MiB that compress to about 6 MiB: two objects of 4 MiB, the first one multipart-sized
PAYLOAD = os.urandom(6 << 20) + bytes(3 << 20)


@pytest.fixture
def big_settings(keys: Keys) -> Settings:
    return Settings(keys.recipients, threads=0, object_size=6 << 20)


def _s3(server: S3Server, bucket: str, endpoint: str | None = None, **kw: object) -> S3Destination:
    settings = S3Settings(
        bucket=bucket,
        prefix="team/prod",
        endpoint_url=endpoint or server.endpoint,
        access_key_id="testing",
        secret_access_key="testing-secret",
        part_size=5 << 20,
        concurrency=2,
        max_attempts=2,
        **kw,  # type: ignore[arg-type]
    )
    return S3Destination("s3", settings)


def _restore(manifest: object, dest: object, identities: list[object]) -> bytes:
    out = io.BytesIO()
    read_artifact(manifest, "blob", dest, identities, out)  # type: ignore[arg-type]
    return out.getvalue()


def test_a_backup_in_s3_and_on_disk_restores_from_either(
    s3_server: S3Server, keys: Keys, big_settings: Settings, repo: LocalDestination
) -> None:
    """Objects are uploaded in parts under the prefix; both copies verify and restore."""
    bucket = s3_server.new_bucket()
    s3 = _s3(s3_server, bucket, storage_class="STANDARD_IA")
    result = take_backup(BytesSource(PAYLOAD), "app", [repo, s3], big_settings)
    manifest = result.manifest
    assert result.destinations_ok == ["local", "s3"]
    listed = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    keys_in_bucket = sorted(o["Key"] for o in listed)
    assert keys_in_bucket[-1] == f"team/prod/app/{manifest.backup_id}/manifest.json"
    assert all(k.startswith(f"team/prod/app/{manifest.backup_id}/") for k in keys_in_bucket)
    first = manifest.artifact("blob").objects[0]
    head = s3_server.client().head_object(Bucket=bucket, Key=f"team/prod/{first.key}")
    assert head["ContentLength"] == first.size == 6 << 20
    assert head["ETag"].endswith('-2"')  # a multipart upload of two parts
    assert head.get("StorageClass") == "STANDARD_IA"
    assert load_manifest(s3, "app", manifest.backup_id) == manifest
    assert verify(manifest, s3) == []
    assert _restore(manifest, s3, keys.identities) == PAYLOAD
    assert _restore(manifest, repo, keys.identities) == PAYLOAD


def test_a_flipped_bit_in_s3_is_named(
    s3_server: S3Server, keys: Keys, big_settings: Settings
) -> None:
    """verify and restore name the altered object in the bucket."""
    bucket = s3_server.new_bucket()
    s3 = _s3(s3_server, bucket)
    manifest = take_backup(BytesSource(PAYLOAD), "app", [s3], big_settings).manifest
    victim = manifest.artifact("blob").objects[-1].key
    client = s3_server.client()
    data = bytearray(client.get_object(Bucket=bucket, Key=f"team/prod/{victim}")["Body"].read())
    data[5] ^= 0x10
    client.put_object(Bucket=bucket, Key=f"team/prod/{victim}", Body=bytes(data))
    problems = verify(manifest, s3)
    assert problems == [f"{victim} in {s3.describe()}: SHA-256 mismatch"]
    with pytest.raises(CorruptBackupError, match=victim.replace(".", r"\.")):
        _restore(manifest, s3, keys.identities)


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[FaultyProxy]:
    p = FaultyProxy(s3_server.port)
    yield p
    p.close()


def test_s3_errors_mid_upload_fail_the_run_and_leave_nothing(
    s3_server: S3Server, keys: Keys, big_settings: Settings, proxy: FaultyProxy
) -> None:
    """500s after a few writes (and boto's retries): the run fails naming the destination and
    the error, no manifest, no object, no unfinished multipart upload."""
    bucket = s3_server.new_bucket()
    s3 = _s3(s3_server, bucket, endpoint=proxy.endpoint)
    proxy.writes_before_failure = 3  # create upload, part 1, part 2 pass; completing fails
    with pytest.raises(BackupError) as caught:
        take_backup(BytesSource(PAYLOAD), "app", [s3], big_settings, backup_id="b1")
    message = str(caught.value)
    assert "InternalError" in message
    assert "s3 (s3://" in message
    assert proxy.failed >= 2  # boto retried before giving up
    client = s3_server.client()
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_one_failing_s3_destination_is_tolerated_when_required_allows(
    s3_server: S3Server, keys: Keys, repo: LocalDestination, proxy: FaultyProxy
) -> None:
    """required=1: the local copy is enough; the S3 failure is recorded, not hidden."""
    s3 = _s3(s3_server, s3_server.new_bucket(), endpoint=proxy.endpoint)
    proxy.writes_before_failure = 1
    lenient = Settings(keys.recipients, threads=0, object_size=6 << 20, required=1)
    result = take_backup(BytesSource(PAYLOAD), "app", [repo, s3], lenient)
    assert result.destinations_ok == ["local"]
    assert "InternalError" in result.destinations_failed["s3"]
    assert _restore(result.manifest, repo, keys.identities) == PAYLOAD


def test_a_missing_bucket_is_named(s3_server: S3Server, big_settings: Settings) -> None:
    """A bucket that does not exist is said so, with the bucket's name."""
    s3 = _s3(s3_server, "no-such-bucket-here")
    with pytest.raises(BackupError, match="bucket 'no-such-bucket-here' does not exist"):
        take_backup(BytesSource(b"x" * 1000), "app", [s3], big_settings)


def test_an_unreachable_endpoint_is_named(big_settings: Settings) -> None:
    """Nothing listening: a clear error, after the configured attempts."""
    s3 = S3Destination(
        "s3",
        S3Settings(
            bucket="b",
            endpoint_url="http://user:hunter2@127.0.0.1:1",
            secret_access_key="very-secret-key",
            access_key_id="id",
            max_attempts=1,
            connect_timeout=1,
        ),
    )
    with pytest.raises(BackupError) as caught:
        take_backup(BytesSource(b"x" * 1000), "app", [s3], big_settings)
    text = str(caught.value)
    assert "127.0.0.1:1" in text
    assert "hunter2" not in text
    assert "very-secret-key" not in text + repr(s3.settings)


def test_unfinished_uploads_of_a_killed_run_are_aborted(s3_server: S3Server) -> None:
    """What a killed run leaves (an open multipart upload) is found and aborted."""
    bucket = s3_server.new_bucket()
    client = s3_server.client()
    for key in ("team/prod/app/dead/blob.000000", "team/prod/app/live/blob.000000", "other/y"):
        client.create_multipart_upload(Bucket=bucket, Key=key)
    s3 = _s3(s3_server, bucket)
    assert s3.abort_unfinished(lambda key: key.split("/")[1] == "live") == ["app/dead/blob.000000"]
    left = client.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert sorted(u["Key"] for u in left) == ["other/y", "team/prod/app/live/blob.000000"]


def _dump_sessions(database: str, state: str = "idle in transaction") -> int:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = %s",
            [database, state],
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_hung_s3_endpoint_fails_the_run_in_time_and_releases_the_snapshot(
    project: Path, pg_database: str, s3_server: S3Server
) -> None:
    """An endpoint that takes the upload and never answers: while it hangs the dump's snapshot
    is held (`idle in transaction`); the run fails within the YAML's timeouts and deadline
    (not boto's default minutes), saying it gave up, and then no session of the dump is left
    `idle in transaction`."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g")
    database = urlsplit(pg_database).path.strip("/")
    bucket = s3_server.new_bucket()
    hung = FaultyProxy(s3_server.port, writes_before_failure=0, hang=True)
    (project / "buttress.yaml").write_text(
        "backup:\n"
        f"  recipients: [{recipient(project)}]\n"
        "  destinations:\n"
        f"    - {{name: cloud, type: s3, bucket: {bucket}, endpoint_url: '{hung.endpoint}',"
        " access_key_id: testing, secret_access_key: testing-secret,"
        " connect_timeout: 1s, read_timeout: 2s, object_deadline: 10s, max_attempts: 10}\n"
        "  targets:\n"
        f"    - {{name: db, source: postgresql, globals: false, dsn: '{pg_database}'}}\n"
    )
    config = load(project / "buttress.yaml")
    s3_config = config.backup.destinations[0]
    assert isinstance(s3_config, S3DestinationConfig)
    assert (s3_config.connect_timeout, s3_config.read_timeout) == (1.0, 2.0)
    assert s3_config.object_deadline == 10.0
    catalog = Catalog(catalog_url(None, project / "data"), connect_timeout=5)
    catalog.upgrade()
    backups = Backups(config.backup, catalog)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            backups.run("db")
        except BaseException as exc:  # examined below
            outcome.append(exc)

    thread = threading.Thread(target=run)
    started = time.monotonic()
    thread.start()
    try:
        wait_until(lambda: hung.failed >= 1, "the upload to reach the hung endpoint", 60)
        assert _dump_sessions(database) >= 1  # the snapshot, held while the upload hangs
        thread.join(timeout=120)
        elapsed = time.monotonic() - started
    finally:
        hung.close()
        thread.join()
    (error,) = outcome
    assert isinstance(error, BackupError), error
    message = str(error)
    assert "gave up after" in message, message
    assert "object_deadline 10 s" in message
    assert "cloud (s3://" in message
    assert elapsed < 60  # generous: the limits allow about 10 s; boto's defaults took minutes
    wait_until(lambda: _dump_sessions(database) == 0, "the snapshot to be released", 30)
    (failed,) = backups.runs("db")
    assert failed.status == "failed"
    assert "gave up after" in failed.error
    catalog.dispose()


@pytest.mark.parametrize("value", [".inf", ".nan", "0", "-1s"])
def test_s3_timeouts_must_be_finite_and_positive(
    project: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`config check` refuses an S3 timeout or deadline that is not a finite positive number,
    naming the field."""
    for field in ("connect_timeout", "read_timeout", "object_deadline"):
        (project / "buttress.yaml").write_text(
            "backup:\n  destinations:\n"
            f"    - {{name: cloud, type: s3, bucket: b, {field}: {value}}}\n"
        )
        capsys.readouterr()
        assert main(["config", "check"]) == 2
        assert field in capsys.readouterr().err
    (project / "buttress.yaml").write_text(
        "backup:\n  destinations:\n    - {name: cloud, type: s3, bucket: b, connect_timeout: 500ms,"
        " read_timeout: 10, object_deadline: 1m}\n"
    )
    assert main(["config", "check"]) == 0


def test_a_delete_the_store_refuses_in_part_names_the_key(
    s3_server: S3Server, proxy: FaultyProxy
) -> None:
    """DeleteObjects answered with AccessDenied for some keys: a BackupError naming the first
    refused key and how many more; the refused objects are still there, the rest are gone."""
    s3 = _s3(s3_server, s3_server.new_bucket(), endpoint=proxy.endpoint)
    keys = [f"app/1/obj.{i}" for i in range(5)] + ["app/1/locked.a", "app/1/locked.b"]
    for key in keys:
        s3.put(key, b"x")
    proxy.refuse_deletes = "locked"
    with pytest.raises(BackupError) as caught:
        s3.delete_many(keys)
    message = str(caught.value)
    assert "cannot delete app/1/locked.a: AccessDenied Access Denied (and 1 more)" in message
    assert s3.keys("app/") == ["app/1/locked.a", "app/1/locked.b"]
