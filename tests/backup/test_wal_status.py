"""A physical target's WAL status from the catalog, on each catalog backend: window, gaps,
lag and timeline switches; the same through ``GET /api/v1/backups/targets/{t}/wal`` (roles,
bad targets), ``/metrics`` and the WalGapFound / WalArchiveStalled events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from buttress import events
from buttress.backup.events import WalArchiveStalled, WalGapFound
from buttress.backup.tables import BackupRun
from buttress.backup.wal.metrics import WalWatch
from buttress.backup.wal.names import segment_name
from buttress.backup.wal.status import status_of
from buttress.catalog import Catalog, tokens
from buttress.config import PostgresqlTargetConfig, load
from buttress.events import DomainEvent
from buttress.server.app import create_app
from tests.backup.conftest import config_file, recipient
from tests.backup.wal_rows import PG_TARGET, T0, add_backup, add_history, add_segments, minutes


@pytest.fixture
def target(project: Path) -> PostgresqlTargetConfig:
    config_file(project, recipient(project), PG_TARGET)
    found = load(project / "buttress.yaml").backup.targets
    pg = next(t for t in found if t.name == "pg")
    assert isinstance(pg, PostgresqlTargetConfig)
    return pg


def test_window_lag_and_counts(catalog: Catalog, target: PostgresqlTargetConfig) -> None:
    """Two good base backups with whole WAL: the window runs from the older one's stop time to
    the newest segment's ready_at; lag is now minus that; no gap."""
    add_segments(catalog, 1, list(range(2, 11)))
    add_backup(catalog, "b1", 2, 3, 3)
    add_backup(catalog, "b2", 7, 7, 7)
    add_backup(catalog, "b0", 1, 1, 1, status="pruned")  # not kept: ignored
    s = status_of(target, catalog, now=minutes(12))
    assert s.state == "ok"
    assert s.segments == 9
    assert s.newest is not None
    assert s.newest.name == segment_name(1, 10)
    assert s.lag_seconds == 120.0
    assert s.last_archived_at == minutes(10.1)
    assert s.window.oldest == minutes(3)
    assert s.window.newest == minutes(10)
    assert s.window.seconds == 7 * 60
    assert [b.id for b in s.backups] == ["b1", "b2"]
    assert s.gaps == []
    assert s.missing == 0
    assert s.pending is None  # sync mode


def test_gaps_after_the_oldest_backup_split_the_window(
    catalog: Catalog, target: PostgresqlTargetConfig
) -> None:
    """Segments 5-6 missing: named as the gap after b1, counted, and the window has two
    spans (b1 to segment 4, b2 on); b2 itself has no gap."""
    add_segments(catalog, 1, [2, 3, 4, 7, 8, 9])
    add_backup(catalog, "b1", 2, 3, 3)
    add_backup(catalog, "b2", 7, 8, 8)
    s = status_of(target, catalog, now=minutes(9))
    assert s.state == "gaps"
    assert [(g.first, g.last, g.count) for g in s.gaps] == [
        (segment_name(1, 5), segment_name(1, 6), 2)
    ]
    assert s.missing == 2
    assert [(sp.start, sp.end) for sp in s.window.spans] == [
        (minutes(3), minutes(4)),
        (minutes(8), minutes(9)),
    ]
    assert s.backups[1].first_gap is None


def test_timeline_switch_is_followed_with_its_history(
    catalog: Catalog, target: PostgresqlTargetConfig
) -> None:
    """After a promotion onto timeline 2 at segment 5, the window reaches timeline 2's newest
    segment, once the history file is read; unread, timeline 2 is not followed (said)."""
    add_segments(catalog, 1, [2, 3, 4, 5])
    add_segments(catalog, 2, [5, 6, 7])
    add_history(catalog, 2)
    add_backup(catalog, "b1", 2, 3, 3)
    read: list[tuple[str, str]] = []

    def history(name: str, sha256: str) -> str:
        read.append((name, sha256))
        return "1\t0/5000060\tno recovery target specified\n"

    s = status_of(target, catalog, histories=history, now=minutes(8))
    assert read == [("00000002.history", "ab" * 32)]
    assert s.window.newest == minutes(7)
    assert s.backups[0].timelines == [1, 2]
    assert s.history_files == 1
    assert s.problems == []
    unread = status_of(target, catalog, now=minutes(8))
    assert unread.window.newest == minutes(5)
    assert unread.problems == ["00000002.history not read: timeline 2 not followed"]


def test_nothing_archived_and_no_whole_backup(
    catalog: Catalog, target: PostgresqlTargetConfig
) -> None:
    """Empty archive: state empty, no lag; a backup whose start_wal is missing: no_backup."""
    s = status_of(target, catalog, now=minutes(1))
    assert s.state == "empty"
    assert s.lag_seconds is None
    assert s.window.oldest is None
    add_segments(catalog, 1, [3, 4])
    add_backup(catalog, "b1", 2, 3, 3)
    s = status_of(target, catalog, now=minutes(5))
    assert s.state == "no_backup"
    assert s.backups[0].whole is False


def test_a_run_with_bad_physical_facts_is_reported(
    catalog: Catalog, target: PostgresqlTargetConfig
) -> None:
    """A run whose detail.physical lacks a field is named in problems, not a crash."""
    add_segments(catalog, 1, [2, 3])
    with catalog.begin() as session:
        session.add(
            BackupRun(
                id="bad",
                target="pg",
                status="succeeded",
                started_at=T0,
                detail={"physical": {"timeline": 1}},
            )
        )
    s = status_of(target, catalog, now=minutes(4))
    assert s.problems == ["backup bad: detail.physical has no stop_time"]


def test_async_pending_counts_the_spool(catalog: Catalog, project: Path) -> None:
    """Async mode with the spool on this host: pending is the number of files waiting in
    <spool_dir>/<target>/out (temporary dot-files are not counted)."""
    spool = project / "spool"
    (spool / "pg" / "out").mkdir(parents=True)
    config_file(
        project,
        recipient(project),
        PG_TARGET.replace(
            "wal: {archive_timeout: 60}", f"wal: {{mode: async, spool_dir: {spool}}}"
        ),
    )
    pg = next(t for t in load(project / "buttress.yaml").backup.targets if t.name == "pg")
    assert isinstance(pg, PostgresqlTargetConfig)
    assert status_of(pg, catalog).pending == 0
    for name in (segment_name(1, 5), segment_name(1, 6), ".tmp-" + segment_name(1, 7)):
        (spool / "pg" / "out" / name).write_bytes(b"x")
    s = status_of(pg, catalog)
    assert s.pending == 2
    assert s.mode == "async"


def test_watch_emits_a_gap_once_and_a_stall_once_per_stall(
    catalog: Catalog, target: PostgresqlTargetConfig, project: Path
) -> None:
    """WalGapFound once per gap; WalArchiveStalled when the lag passes the threshold (300 s
    here: 3 x archive_timeout 60 s is less), once until archiving resumes."""
    config = load(project / "buttress.yaml").backup
    watch = WalWatch(config)
    assert watch.thresholds == {"pg": 300.0}
    add_segments(catalog, 1, [2, 3, 6])
    add_backup(catalog, "b1", 2, 3, 3)
    heard: list[DomainEvent] = []
    with events.subscribe(DomainEvent, heard.append):
        watch.observe([status_of(target, catalog, now=minutes(7))])
        watch.observe([status_of(target, catalog, now=minutes(12))])  # lag 360 s
        watch.observe([status_of(target, catalog, now=minutes(13))])
    assert heard == [
        WalGapFound("pg", segment_name(1, 4), segment_name(1, 5), 2),
        WalArchiveStalled("pg", 360.0, 300.0, segment_name(1, 6)),
    ]
    add_segments(catalog, 1, [13])
    heard.clear()
    with events.subscribe(DomainEvent, heard.append):
        watch.observe([status_of(target, catalog, now=minutes(13.5))])  # archiving again
        watch.observe([status_of(target, catalog, now=minutes(20))])
    assert heard == [
        WalGapFound("pg", segment_name(1, 7), segment_name(1, 12), 6),  # a new gap
        WalArchiveStalled("pg", 420.0, 300.0, segment_name(1, 13)),
    ]


@pytest.fixture
def client(
    project: Path, catalog: Catalog, target: PostgresqlTargetConfig
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    config = load(project / "buttress.yaml")
    made = {}
    with catalog.begin() as session:
        for role in ("viewer",):
            made[role] = tokens.create(session=session, name=role, role=role, created_by="t")[1]
    with TestClient(create_app(catalog, config), client=("127.0.0.9", 5)) as c:
        yield c, made


def test_api_answers_the_status(
    client: tuple[TestClient, dict[str, str]], catalog: Catalog
) -> None:
    """A viewer reads a physical target's WAL; no token is 401; an unknown target 404; a
    target that archives no WAL 422; the target list says which archive WAL."""
    c, made = client
    add_segments(catalog, 1, [2, 3, 4, 7])
    add_backup(catalog, "b1", 2, 3, 3)
    h = {"Authorization": f"Bearer {made['viewer']}"}
    res = c.get("/api/v1/backups/targets/pg/wal", headers=h)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["target"] == "pg"
    assert body["window"]["oldest"].startswith("2026-12-01T12:03:00")
    assert body["gaps"] == [{"first": segment_name(1, 5), "last": segment_name(1, 6), "count": 2}]
    assert body["newest"]["name"] == segment_name(1, 7)
    assert c.get("/api/v1/backups/targets/pg/wal").status_code == 401
    assert c.get("/api/v1/backups/targets/nope/wal", headers=h).status_code == 404
    site = c.get("/api/v1/backups/targets/site/wal", headers=h)
    assert site.status_code == 422  # UsageError, as every route answers it
    assert "does not archive WAL" in site.json()["message"]
    listed = {
        t["name"]: t["archives_wal"] for t in c.get("/api/v1/backups/targets", headers=h).json()
    }
    assert listed == {"site": False, "db": False, "pg": True}


def test_metrics_show_lag_gaps_and_window(
    client: tuple[TestClient, dict[str, str]], catalog: Catalog
) -> None:
    """/metrics has the WAL and PITR gauges of the physical target, from the catalog."""
    c, _ = client
    add_segments(catalog, 1, [2, 3, 4, 7])
    add_backup(catalog, "b1", 2, 3, 3)
    samples = {
        (m.name, m.labels.get("target")): m.value
        for family in text_string_to_metric_families(c.get("/metrics").text)
        for m in family.samples
        if m.name.startswith(("buttress_wal_", "buttress_pitr_"))
    }
    assert samples.pop(("buttress_wal_archive_lag_seconds", "pg")) > 0
    assert samples == {
        ("buttress_wal_gaps", "pg"): 2.0,
        ("buttress_pitr_oldest_timestamp_seconds", "pg"): minutes(3).timestamp(),
        ("buttress_pitr_newest_timestamp_seconds", "pg"): minutes(4).timestamp(),
        ("buttress_pitr_window_seconds", "pg"): 60.0,
        ("buttress_wal_last_archived_timestamp_seconds", "pg"): minutes(7.1).timestamp(),
    }  # no lag_segments: sync mode has no spool; no series for targets without WAL
