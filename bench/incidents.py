"""Incidents: Alertmanager webhook deliveries per second into SQLite and PostgreSQL, with
deduplication, and the first page of ``GET /api/v1/incidents`` over 10,000 incidents.

    .venv/bin/python bench/incidents.py                      # both backends
    .venv/bin/python bench/incidents.py --deliveries 500 --backends sqlite

Deliveries go through the real app (TestClient, token auth, the request gate, history rows
and the incidents in one transaction), one at a time. The stream cycles over ``--groups``
alert groups, each delivery a firing group of 3 alerts, so most deliveries are repeats of a
group already seen (the dedup path) and the first of each group opens an incident. Printed:
deliveries/s sustained, p50 and p99 per delivery. Then 10,000 incidents are inserted and the
first page (50, newest first) is listed 200 times: p50 and p95.

Escalation timers (``--timers``, default 1,000): that many incidents, each with its escalation
timer due at a moment spread over ``--spread`` seconds, run by a real job runner whose steps
notify a local webhook receiver; printed: lateness of each timer (its run's start against its
due time, as the runner records it) p50/p99/max, and the notifications recorded. Then the
notifier dispatcher alone: sends/s to a local receiver, one channel and three at once.
Numbers only, no thresholds.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import secrets
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from buttress.catalog import Catalog, tokens
from buttress.catalog.engine import catalog_url
from buttress.config._incidents import IncidentsConfig
from buttress.incidents.escalation import Escalations
from buttress.incidents.notify import Dispatcher, Notification
from buttress.incidents.tables import Incident, IncidentEvent
from buttress.incidents.wake import HANDLER, timer_key
from buttress.jobs import JobRunner, set_timer
from buttress.jobs.tables import JobRunRow
from buttress.server.app import create_app

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def delivery(group: int) -> dict[str, Any]:
    key = f'{{}}:{{alertname="Bench{group}"}}'
    return {
        "version": "4",
        "groupKey": key,
        "status": "firing",
        "receiver": "buttress",
        "groupLabels": {"alertname": f"Bench{group}"},
        "commonLabels": {"alertname": f"Bench{group}", "severity": "page"},
        "commonAnnotations": {"summary": "bench"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": f"Bench{group}", "instance": f"i{n}"},
                "annotations": {},
                "startsAt": "2026-12-03T12:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{group:08x}{n:08x}",
            }
            for n in range(3)
        ],
    }


@contextmanager
def catalog_on(backend: str) -> Iterator[Catalog]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            cat = Catalog(catalog_url(None, Path(tmp)))
            cat.upgrade()
            try:
                yield cat
            finally:
                cat.dispose()
        return
    name = f"buttress_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    cat = Catalog(re.sub(r"/[^/]*$", f"/{name}", PG_ADMIN))
    try:
        cat.upgrade()
        yield cat
    finally:
        cat.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def floor(deliveries: int) -> float:
    """Deliveries/s of a bare FastAPI app whose route only validates the same payload model,
    through the same TestClient one at a time: what no receiver here can beat."""
    from fastapi import FastAPI

    from buttress.alerting.api import WebhookPayload

    app = FastAPI()

    @app.post("/hook")
    def hook(body: WebhookPayload) -> dict[str, int]:
        return {"alerts": len(body.alerts)}

    bodies = [delivery(n % 100) for n in range(deliveries)]
    with TestClient(app) as client:
        for body in bodies[:50]:
            client.post("/hook", json=body)
        started = time.perf_counter()
        for body in bodies:
            client.post("/hook", json=body)
        rate = deliveries / (time.perf_counter() - started)
    print(f"floor      bare FastAPI route, same payload model, same TestClient: {rate:,.0f}/s")
    return rate


def run(backend: str, deliveries: int, groups: int, floor_rate: float | None = None) -> None:
    with catalog_on(backend) as catalog:
        with catalog.begin() as session:
            token = tokens.create(session=session, name="bench", role="operator", created_by="b")[1]
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(catalog), client=("127.0.0.9", 50000)) as client:
            bodies = [delivery(n % groups) for n in range(deliveries)]
            for body in bodies[:20]:  # warm-up
                client.post("/api/v1/alerts/alertmanager", json=body, headers=headers)
            times: list[float] = []
            started = time.perf_counter()
            for body in bodies:
                t0 = time.perf_counter()
                answer = client.post("/api/v1/alerts/alertmanager", json=body, headers=headers)
                times.append(time.perf_counter() - t0)
                assert answer.status_code == 200, answer.text
            wall = time.perf_counter() - started
            with catalog.begin() as session:
                opened = session.query(Incident).count()
            print(
                f"{backend:10} webhook: {deliveries} deliveries over {groups} groups "
                f"({opened} incidents): {deliveries / wall:,.0f}/s, "
                f"p50 {statistics.median(times) * 1000:.2f} ms, "
                f"p99 {pct(times, 0.99) * 1000:.2f} ms"
                + (f" ({deliveries / wall / floor_rate:.2f}x the floor)" if floor_rate else "")
            )
            now = dt.datetime.now(dt.UTC)
            with catalog.begin() as session:
                session.add_all(
                    Incident(
                        year=2025,
                        seq=n + 1,
                        title=f"bench {n}",
                        severity=f"P{n % 4 + 1}",
                        status="resolved" if n % 3 else "triggered",
                        source="manual",
                        services=["shop"],
                        impact="",
                        roles={},
                        labels={},
                        triggered_at=now,
                        triggered_by="bench",
                    )
                    for n in range(10_000)
                )
            viewer = {"Authorization": f"Bearer {token}"}
            lists: list[float] = []
            for _ in range(200):
                t0 = time.perf_counter()
                answer = client.get("/api/v1/incidents", headers=viewer)
                lists.append(time.perf_counter() - t0)
                assert answer.status_code == 200
            filtered: list[float] = []
            for _ in range(100):
                t0 = time.perf_counter()
                client.get("/api/v1/incidents?status=triggered&severity=P2", headers=viewer)
                filtered.append(time.perf_counter() - t0)
            print(
                f"{backend:10} list of 10,000+: first page p50 "
                f"{statistics.median(lists) * 1000:.2f} ms, p95 {pct(lists, 0.95) * 1000:.2f} ms; "
                f"filtered (status+severity) p95 {pct(filtered, 0.95) * 1000:.2f} ms"
            )


class _Quiet(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def escalation_config(url: str, channels: int = 1) -> IncidentsConfig:
    names = [f"hook{n}" for n in range(channels)]
    return IncidentsConfig.model_validate(
        {
            "oncall": {"users": {"alice": {"email": "alice@example.com"}}},
            "notifiers": {
                name: {"type": "webhook", "url": f"{url}/{name}", "timeout": "5s"} for name in names
            },
            "escalation_policies": {
                "default": {"channels": names, "levels": [{"notify": {"users": ["alice"]}}]}
            },
            "default_escalation_policy": "default",
        }
    )


def timers(backend: str, count: int, spread: float) -> None:
    with catalog_on(backend) as catalog, receiver() as url:
        config = escalation_config(url)
        now = dt.datetime.now(dt.UTC)
        with catalog.begin() as session:
            rows = [
                Incident(
                    year=2026,
                    seq=n + 1,
                    title=f"timer {n}",
                    severity="P3",
                    status="triggered",
                    source="manual",
                    services=[],
                    impact="",
                    roles={},
                    labels={},
                    triggered_at=now,
                    triggered_by="bench",
                )
                for n in range(count)
            ]
            session.add_all(rows)
            session.flush()
            start = now + dt.timedelta(seconds=3)  # the runner is leading by then
            for n, row in enumerate(rows):
                due = start + dt.timedelta(seconds=spread * n / count)
                set_timer(session, timer_key(row.id), due, HANDLER, {"incident": row.id})
        runner = JobRunner(catalog, replica="bench")
        escalations = Escalations(catalog, config, Dispatcher(config.notifiers).send_sync)
        runner.handler(HANDLER, escalations.run)
        runner.start()
        deadline = time.monotonic() + spread + 120
        try:
            while time.monotonic() < deadline:
                with catalog.begin() as session:
                    done = session.scalar(
                        select(func.count())
                        .select_from(JobRunRow)
                        .where(JobRunRow.outcome != "running")
                    )
                if done >= count:
                    break
                time.sleep(0.5)
        finally:
            runner.stop()
        with catalog.begin() as session:
            late = [r.late for r in session.scalars(select(JobRunRow))]
            outcomes = Counter(session.scalars(select(JobRunRow.outcome)))
            sent = session.scalar(
                select(func.count())
                .select_from(IncidentEvent)
                .where(IncidentEvent.kind == "notification")
            )
        print(
            f"{backend:10} escalation timers: {count} over {spread:g} s, {len(late)} ran "
            f"({dict(outcomes)}), lateness p50 {statistics.median(late) * 1000:.0f} ms, "
            f"p99 {pct(late, 0.99) * 1000:.0f} ms, max {max(late) * 1000:.0f} ms; "
            f"{sent} notifications recorded"
        )


def sends(count: int) -> None:
    with receiver() as url:
        for channels in (1, 3):
            config = escalation_config(url, channels)
            dispatcher = Dispatcher(config.notifiers)
            note = Notification(
                kind="triggered",
                ref="INC-2026-0001",
                title="bench",
                severity="P3",
                status="triggered",
            )
            names = list(config.notifiers)

            async def burst(
                dispatcher: Dispatcher = dispatcher,
                note: Notification = note,
                names: list[str] = names,
            ) -> list[float]:
                took: list[float] = []
                for _ in range(count):
                    t0 = time.perf_counter()
                    deliveries = await dispatcher.send(note, names)
                    took.append(time.perf_counter() - t0)
                    assert all(d.ok for d in deliveries), deliveries
                return took

            started = time.perf_counter()
            took = asyncio.run(burst())
            wall = time.perf_counter() - started
            print(
                f"notifier   {channels} webhook channel(s): {count} sends, "
                f"{count * channels / wall:,.0f} deliveries/s, p50 "
                f"{statistics.median(took) * 1000:.2f} ms, p99 {pct(took, 0.99) * 1000:.2f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--timers", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=20.0)
    parser.add_argument("--sends", type=int, default=300)
    parser.add_argument(
        "--only",
        choices=["webhook", "timers", "sends"],
        nargs="+",
        default=["webhook", "timers", "sends"],
    )
    args = parser.parse_args()
    floor_rate = floor(args.deliveries) if "webhook" in args.only else None
    for backend in args.backends:
        if "webhook" in args.only:
            run(backend, args.deliveries, args.groups, floor_rate)
        if "timers" in args.only:
            timers(backend, args.timers, args.spread)
    if "sends" in args.only:
        sends(args.sends)


if __name__ == "__main__":
    main()
