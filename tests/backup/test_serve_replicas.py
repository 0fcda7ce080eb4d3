"""Three ``buttress serve`` replicas on one PostgreSQL catalog with a backup due every 2 s:
each due time is backed up once, by the leader; ``/api/v1/cluster`` shows the replicas and
who leads, ``/metrics`` says ``buttress_leader`` 1 on it only; after ``kill -9`` of the
leader another takes over and the backups go on."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx

from tests.backup.conftest import config_file, recipient
from tests.conftest import Served, start_server, wait_until


def _cluster(server: Served, token: str) -> dict[str, object]:
    answer = httpx.get(
        f"{server.url}api/v1/cluster", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    data: dict[str, object] = answer.json()
    return data


def _backup_runs(server: Served, token: str) -> list[dict[str, object]]:
    answer = httpx.get(
        f"{server.url}api/v1/jobs/runs",
        params={"job": "backup:site", "limit": 1000},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    runs: list[dict[str, object]] = answer.json()
    return runs


def test_replicas_back_up_once_per_due_time_and_fail_over(project: Path, pg_database: str) -> None:
    config = config_file(project, recipient(project))
    text = (
        (project / "buttress.yaml")
        .read_text()
        .replace(
            "source: directory, path: site}",
            "source: directory, path: site, schedule_seconds: true, schedule: '* * * * * */2'}",
        )
    )
    text = text.replace("backup:\n", "backup:\n  manifest_key_file: manifest.key\n", 1)
    (project / "buttress.yaml").write_text(f"catalog: {{url: '{pg_database}'}}\n" + text)
    servers = [
        start_server(project / f"data{i}", env={"BUTTRESS_CONFIG": config}) for i in range(3)
    ]
    try:
        token = next(s.admin_token for s in servers if s.admin_token)
        assert token is not None
        wait_until(
            lambda: (
                len([r for r in _backup_runs(servers[0], token) if r["outcome"] == "succeeded"])
                >= 3
            ),
            "three scheduled backups",
            timeout=40,
        )
        cluster = _cluster(servers[1], token)
        replicas = cluster["replicas"]
        assert isinstance(replicas, list)
        assert len([r for r in replicas if r["alive"]]) == 3
        leader = cluster["leader"]
        lead = next(s for s in servers if _cluster(s, token)["leading"])
        assert _cluster(lead, token)["replica"] == leader
        leaders = [
            s
            for s in servers
            if "buttress_leader{" in httpx.get(f"{s.url}metrics").text
            and f'buttress_leader{{replica="{_cluster(s, token)["replica"]}"}} 1.0'
            in httpx.get(f"{s.url}metrics").text
        ]
        assert leaders == [lead]
        ready = {s is lead: httpx.get(f"{s.url}readyz").json()["checks"] for s in servers}
        assert ready[True]["scheduler"] == {"ok": True, "leading": True, "reason": "leader"}
        assert ready[False]["scheduler"]["reason"] == f"{leader} leads"

        lead.process.kill()
        lead.process.wait(10)
        lead.stop()  # closes its output pipe
        killed = time.monotonic()
        rest = [s for s in servers if s is not lead]
        wait_until(
            lambda: _cluster(rest[0], token)["leader"] not in (None, leader),
            "a new leader",
            timeout=15,
        )
        print(f"serve failover after kill -9: {time.monotonic() - killed:.2f}s")
        before = len(_backup_runs(rest[0], token))
        wait_until(lambda: len(_backup_runs(rest[0], token)) >= before + 2, "backups after it")
        runs = _backup_runs(rest[0], token)
        ran = [r for r in runs if r["outcome"] in ("running", "succeeded")]
        doubled = [d for d, n in Counter(r["due_at"] for r in ran).items() if n > 1]
        assert not doubled, f"due times backed up twice: {doubled}"
        assert all(r["outcome"] != "failed" for r in runs), runs
        assert {r["replica"] for r in runs} - {leader}, "the new leader ran none"
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.stop()
