"""`buttress backup ...` end to end: a configured target run, listed, shown, verified with a
restore test, restored; failures recorded in the catalog; a killed run shown incomplete."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from buttress.cli import main
from tests.backup.conftest import add_s3_destination
from tests.backup.conftest import config_file as _config
from tests.backup.conftest import recipient as _recipient
from tests.backup.conftest import run_json as _json
from tests.conftest import S3Server


def test_run_list_show_verify_and_restore(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(project, _recipient(project))
    run = _json(capsys, ["backup", "run", "site", "--json"])
    assert run["status"] == "succeeded"
    assert run["destinations"] == ["local"]
    listed = _json(capsys, ["backup", "list", "--json"])
    assert [r["id"] for r in listed] == [run["id"]]
    shown = _json(capsys, ["backup", "show", run["id"], "--json"])
    assert shown["metadata"]["file_count"] == 1
    checked = _json(capsys, ["backup", "verify", run["id"], "--restore-test", "--json"])
    assert checked["problems"] == []
    assert checked["restore_test"]["ok"]
    assert main(["backup", "restore", run["id"], "--to", "out"]) == 0
    assert (project / "out" / "index.html").read_text() == (
        project / "site" / "index.html"
    ).read_text()
    capsys.readouterr()
    assert main(["backup", "restore", run["id"], "--to", "out"]) == 1
    assert "not empty" in capsys.readouterr().err
    assert main(["backup", "restore", run["id"], "--to", "out2", "--jobs", "2"]) == 2
    assert "jobs (--jobs) applies to postgresql targets" in capsys.readouterr().err
    assert not (project / "out2").exists()
    assert main(["backup", "restore", run["id"], "--to", "out2", "--jobs", "0"]) == 2
    assert "Invalid value for '--jobs'" in capsys.readouterr().err
    after = _json(capsys, ["backup", "list", "--json"])
    assert after[0]["verify_status"] == "ok"
    assert after[0]["restore_test_status"] == "ok"


def test_a_damaged_object_fails_verify_naming_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(project, _recipient(project))
    run = _json(capsys, ["backup", "run", "site", "--json"])
    obj = next((project / "repo" / "site" / run["id"]).glob("tar.*"))
    data = bytearray(obj.read_bytes())
    data[-1] ^= 0x80
    obj.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["backup", "verify", run["id"]]) == 1
    err = capsys.readouterr().err
    assert obj.name in err
    assert "SHA-256 mismatch" in err
    listed = _json(capsys, ["backup", "list", "--json"])
    assert listed[0]["verify_status"] == "failed"


def test_a_failed_run_is_recorded_with_its_reason_and_no_password(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(project, _recipient(project))
    capsys.readouterr()
    assert main(["backup", "run", "db"]) == 1
    err = capsys.readouterr().err
    assert "pw-9" not in err
    assert "127.0.0.1:1" in err
    listed = _json(capsys, ["backup", "list", "--json"])
    assert listed[0]["status"] == "failed"
    assert "pw-9" not in listed[0]["error"]
    assert listed[0]["error"]
    assert not (project / "repo").exists() or not any((project / "repo").rglob("manifest.json"))


def test_bad_input_is_named(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipient = _recipient(project)
    _config(project, recipient)
    assert main(["backup", "run", "nope"]) == 2
    assert "unknown backup target 'nope'; configured: site, db" in capsys.readouterr().err
    assert main(["backup", "show", "20990101T000000Z-000000"]) == 1
    assert "not found" in capsys.readouterr().err
    (project / "buttress.yaml").write_text("backup:\n  targets:\n    - {name: t, source: sqlite}\n")
    assert main(["backup", "list"]) == 2
    assert "buttress.yaml:3:7 backup.targets[0]: a sqlite target needs `path`" in (
        capsys.readouterr().err
    )
    (project / "buttress.yaml").write_text(
        "backup:\n  targets:\n    - {name: u, source: directory, path: x, destinations: [nas]}\n"
    )
    assert main(["backup", "list"]) == 2
    assert "unknown destination 'nas' (declared: none)" in capsys.readouterr().err


def test_a_run_killed_midway_is_incomplete(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(project, _recipient(project))
    big = project / "site" / "big.bin"
    with open(big, "wb") as f:
        for _ in range(400):
            f.write(os.urandom(1 << 20))  # 400 MiB that does not compress: seconds of work
    proc = subprocess.Popen(
        [sys.executable, "-m", "buttress", "-c", config, "backup", "run", "site"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not list((project / "repo").rglob("tar.*")):
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    listed = _json(capsys, ["backup", "list", "--json"])
    assert listed[0]["status"] == "incomplete"
    assert not any((project / "repo").rglob("manifest.json"))
    assert main(["backup", "verify", listed[0]["id"]]) != 0


def test_a_target_backed_up_to_disk_and_s3(
    project: Path, capsys: pytest.CaptureFixture[str], s3_server: S3Server
) -> None:
    """A YAML s3 destination beside a local one: run, verify with a restore test, restore from
    S3 alone when the local copy is gone; the secret key is never shown."""
    bucket = s3_server.new_bucket()
    _config(project, _recipient(project))
    add_s3_destination(
        project,
        bucket,
        s3_server.endpoint,
        ", prefix: prod, secret_access_key: 'sk-do-not-print-9', storage_class: STANDARD_IA",
    )
    run = _json(capsys, ["backup", "run", "site", "--json"])
    assert run["destinations"] == ["local", "cloud"]
    checked = _json(capsys, ["backup", "verify", run["id"], "--restore-test", "--json"])
    assert checked["destinations"] == ["local", "cloud"]
    assert checked["restore_test"]["ok"]
    shutil.rmtree(project / "repo")
    assert main(["backup", "restore", run["id"], "--to", "from-s3"]) == 0
    assert (project / "from-s3" / "index.html").is_file()
    capsys.readouterr()
    assert main(["config", "show"]) == 0
    shown = capsys.readouterr().out
    assert bucket in shown
    assert "sk-do-not-print-9" not in shown


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ("{name: a, type: s3}", "an s3 destination needs `bucket`"),
        ("{name: a}", "a local destination needs `path`"),
        (
            "{name: a, path: x, bucket: b}",
            "`bucket` does not apply to a local destination (only s3)",
        ),
        ("{name: a, type: s3, bucket: b, part_size_mb: 1}", "greater than or equal to 5"),
        ("{name: a, type: gcs, bucket: b}", "unknown destination type 'gcs' (one of: local, s3)"),
    ],
)
def test_bad_destinations_are_named(
    project: Path, capsys: pytest.CaptureFixture[str], destination: str, message: str
) -> None:
    (project / "buttress.yaml").write_text(f"backup:\n  destinations:\n    - {destination}\n")
    assert main(["backup", "list"]) == 2
    err = capsys.readouterr().err
    assert "buttress.yaml:3:" in err
    assert message in err


def test_restore_goes_to_a_new_place_by_default(
    project: Path, capsys: pytest.CaptureFixture[str], pg_database: str, pg_server: str
) -> None:
    """No --to: a directory backup lands in ./restored/TARGET/ID, a PostgreSQL backup in a new
    database on its server; the source is never touched."""
    import psycopg

    _config(project, _recipient(project))
    text = (
        (project / "buttress.yaml")
        .read_text()
        .replace(
            "dsn: 'postgresql://nobody:pw-9@127.0.0.1:1/x'", f"dsn: '{pg_database}', globals: false"
        )
    )
    (project / "buttress.yaml").write_text(text)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)")
    site = _json(capsys, ["backup", "run", "site", "--json"])["id"]
    db = _json(capsys, ["backup", "run", "db", "--json"])["id"]
    capsys.readouterr()
    assert main(["backup", "restore", site]) == 0
    assert (project / "restored" / "site" / site / "index.html").is_file()
    assert main(["backup", "restore", db]) == 0
    out = capsys.readouterr().out
    name = f"_restore_{db.lower().replace('-', '_')}"
    assert name in out
    with psycopg.connect(pg_server, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [f"%{name}"]
        ).fetchall()
    restored = [n for (n,) in rows]
    assert len(restored) == 1
    try:
        dsn = pg_server.rsplit("/", 1)[0] + "/" + restored[0]
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
        # the parallel streamed restore, from the command line
        parallel = f"buttress_cli_parallel_{db[-6:]}"
        assert main(["backup", "restore", db, "--database", parallel, "--jobs", "2"]) == 0
        with psycopg.connect(pg_server.rsplit("/", 1)[0] + "/" + parallel) as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{restored[0]}" WITH (FORCE)')
            conn.execute(f'DROP DATABASE IF EXISTS "buttress_cli_parallel_{db[-6:]}" WITH (FORCE)')


def _stuck(project: Path, run_id: str, lease_ends_in: float | None) -> None:
    """A `running` row of `site` from a process on another host; with ``lease_ends_in``, a
    claim whose lease ends that many seconds from now."""
    import datetime as dt

    from buttress.backup.tables import BackupRun
    from buttress.catalog import Catalog, catalog_url, claims
    from buttress.catalog.tables import Claim, utcnow

    cat = Catalog(catalog_url(None, project / ".buttress"))
    with cat.begin() as session:
        session.add(
            BackupRun(  # the other columns take their defaults
                id=run_id, target="site", status="running", started_at=utcnow(), host="db-2",
                pid=1,
            )
        )  # fmt: skip
        if lease_ends_in is not None:
            now = claims.catalog_now(session)
            session.add(
                Claim(
                    key="backup:site", holder=run_id, host="db-2", machine="db-2|x|y", pid=1,
                    pid_started=1.0, claimed_at=now, heartbeat_at=now,
                    expires_at=now + dt.timedelta(seconds=lease_ends_in),
                )
            )  # fmt: skip
    cat.dispose()


def test_abandon_a_run_that_will_never_finish(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`backup abandon` marks an incomplete run abandoned (audited, with who and why), refuses
    a live one (exit 1) unless --force, and a run that already ended (exit 2)."""
    from buttress.catalog import Catalog, audit, catalog_url
    from buttress.platform.cli import State

    _config(project, _recipient(project))
    done = _json(capsys, ["backup", "run", "site", "--json"])["id"]
    _stuck(project, "20261201T000000Z-gone01", None)
    capsys.readouterr()
    assert main(["backup", "abandon", "20261201T000000Z-gone01", "-m", "pod evicted"]) == 0
    assert capsys.readouterr().out == (
        "abandoned backup 20261201T000000Z-gone01 of site (it was incomplete)\n"
    )
    assert main(["backup", "abandon", done]) == 2
    assert f"backup {done} is succeeded: only a running or incomplete run" in (
        capsys.readouterr().err
    )
    assert main(["backup", "abandon", "nope"]) == 1
    _stuck(project, "20261201T000000Z-live02", 60)
    assert main(["backup", "run", "site"]) == 1
    assert "already being backed up by run 20261201T000000Z-live02 (on db-2" in (
        capsys.readouterr().err
    )
    assert main(["backup", "abandon", "20261201T000000Z-live02"]) == 1
    assert "is alive (its claim is live" in capsys.readouterr().err
    view = _json(capsys, ["backup", "abandon", "20261201T000000Z-live02", "--force", "--json"])
    assert view["status"] == "abandoned"
    assert view["detail"]["abandoned"]["forced"] is True
    assert _json(capsys, ["backup", "run", "site", "--json"])["status"] == "succeeded"
    cat = Catalog(catalog_url(None, project / ".buttress"))
    with cat.begin() as session:
        records = audit.get_all(session=session, action="backup.abandon")
        got = [(r.target, r.outcome, r.actor, r.detail["reason"]) for r in reversed(records)]
    cat.dispose()
    actor = State.actor()
    assert got == [
        ("backup_id=20261201T000000Z-gone01", "success", actor, "pod evicted"),
        ("backup_id=20261201T000000Z-live02", "denied", actor, ""),
        ("backup_id=20261201T000000Z-live02", "success", actor, ""),
    ]
