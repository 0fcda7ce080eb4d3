"""``buttress jobs list|runs|cluster``: what the catalog holds, read without a control plane
running, as a table and as JSON."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from buttress.catalog import Catalog
from buttress.catalog.engine import SQLITE_FILE
from buttress.cli import app
from buttress.jobs import At, Every, Job, JobContext, JobRunner
from tests.conftest import wait_until


def _fail(ctx: JobContext) -> None:
    raise RuntimeError("the disk is full")


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    data.mkdir()
    catalog = Catalog(f"sqlite:///{data / SQLITE_FILE}")
    catalog.upgrade()
    runner = JobRunner(catalog, replica="r1", lease=1.0, renew=0.2)
    runner.handler("tick", lambda ctx: None)
    runner.handler("broken", _fail)
    runner.register(Job("tick", Every(0.2), "tick"))
    runner.register(Job("broken", At(dt.datetime.now(dt.UTC)), "broken", timeout=30))
    runner.start()
    try:
        wait_until(lambda: len(runner.runs("tick")) >= 2 and bool(runner.runs("broken")), "runs")
        yield data
    finally:
        runner.stop()
        catalog.dispose()


def _run(data: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--data-dir", str(data), "jobs", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_list_runs_and_cluster_as_json(data_dir: Path) -> None:
    jobs = {j["key"]: j for j in json.loads(_run(data_dir, "list", "--json"))}
    assert jobs["tick"]["schedule"] == "every 0.2s"
    assert "broken" not in jobs  # a one-shot that has run is gone
    runs = json.loads(_run(data_dir, "runs", "--job", "broken", "--json"))
    assert [r["outcome"] for r in runs] == ["failed"]
    assert "the disk is full" in runs[0]["error"]
    assert runs[0]["replica"] == "r1"
    assert len(json.loads(_run(data_dir, "runs", "--limit", "1", "--json"))) == 1
    cluster = json.loads(_run(data_dir, "cluster", "--json"))
    # the runner stopped when the fixture ends; while it runs it leads
    assert cluster["leader"]["holder"] == "r1"
    assert [(r["id"], r["alive"], r["leader"]) for r in cluster["replicas"]] == [("r1", True, True)]


def test_tables_for_people(data_dir: Path) -> None:
    listed = _run(data_dir, "list")
    assert "tick" in listed
    assert "every 0.2s" in listed
    assert "the disk is full" in _run(data_dir, "runs")
    assert "leader: r1 (term 1" in _run(data_dir, "cluster")
    assert "no runs of nothing yet" in _run(data_dir, "runs", "--job", "nothing")


def test_an_empty_catalog_says_what_fills_it(tmp_path: Path) -> None:
    data = tmp_path / "empty"
    data.mkdir()
    Catalog(f"sqlite:///{data / SQLITE_FILE}").upgrade()
    assert "no jobs yet" in _run(data, "list")
    assert "leader: none" in _run(data, "cluster")
