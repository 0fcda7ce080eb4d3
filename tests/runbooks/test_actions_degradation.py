"""degradation.set / degradation.clear through the catalog's overrides, audited as the actor."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from buttress.catalog import Catalog, catalog_url
from buttress.catalog.tables import AuditRecord
from buttress.degradation import overrides
from buttress.runbooks.engine import Engine
from buttress.runbooks.recorder import MemoryRecorder
from tests.runbooks.helpers import config, runbook_yaml

LEVELS = "health:\n  degradation:\n    levels: traffic_light\n"


def test_set_then_clear_an_override_audited_as_the_runbook_actor(tmp_path: Path) -> None:
    """The level is held (with the rendered reason), then cleared; both audited."""
    steps = """\
    - name: hold
      action:
        name: degradation.set
        with: {level: ORANGE, for: 10m, reason: "run {{ run.id }}"}
    - name: check
      command: {argv: [echo, "{{ steps.hold.level }}"]}
    - name: release
      action: {name: degradation.clear}
    """
    cfg = config(tmp_path, LEVELS + runbook_yaml(steps))
    catalog = Catalog(catalog_url(None, tmp_path))
    catalog.upgrade()
    held: list[str | None] = []
    recorder = MemoryRecorder()
    eng = Engine(cfg, catalog=catalog, recorder=recorder, actor="token:alice")
    original = recorder.step_started

    def spy(path: str, name: str, kind: str) -> None:
        if name == "check":  # between set and clear: the override is in force
            with catalog.begin() as session:
                found = overrides.active(session=session)
                held.append(None if found is None else f"{found.level}/{found.reason}")
        original(path, name, kind)

    recorder.step_started = spy  # type: ignore[method-assign]
    assert eng.run("rb", {}, run_id="r-9") == "succeeded"
    assert held == ["ORANGE/run r-9"]
    assert recorder.steps["1"].output == "ORANGE\n"
    with catalog.begin() as session:
        assert overrides.active(session=session) is None
        audits = session.scalars(select(AuditRecord).order_by(AuditRecord.id)).all()
        assert [(a.actor, a.action) for a in audits] == [
            ("token:alice", "level.override"),
            ("token:alice", "level.clear"),
        ]
    catalog.dispose()


def test_an_unknown_level_is_a_dry_run_problem(tmp_path: Path) -> None:
    """Planning degradation.set with a level that is not configured lists the levels."""
    steps = "- name: hold\n  action: {name: degradation.set, with: {level: PURPLE}}\n"
    cfg = config(tmp_path, LEVELS + runbook_yaml(steps))
    (planned,) = Engine(cfg, recorder=MemoryRecorder(), actor="t").plan("rb", {})
    assert planned.action == "degradation.set: hold degradation level PURPLE for 1800s"
    assert "unknown level 'PURPLE'" in planned.problems[-1]
    assert "no catalog" in planned.problems[0]
