"""A run waiting at a confirm step in one process is approved from another with ``runbook
confirm``; the answer is audited with the CLI's actor."""

from __future__ import annotations

from pathlib import Path

from buttress.catalog import audit
from tests.conftest import wait_until
from tests.runbooks.cli_support import site


def test_runbook_confirm_approves_the_waiting_step(tmp_path: Path) -> None:
    """The waiting run goes on and exits 0; the step records who approved it."""
    here = site(tmp_path)
    running = here.start("run", "ask")
    catalog = here.catalog()
    try:
        runs = here.service(catalog)
        wait_until(lambda: bool(runs.runs()) and runs.get(1).waiting is not None, "run 1 waits", 60)
        approved = here.run("confirm", "1", "--step", "gate")
        assert approved.returncode == 0, approved.stderr
        out, err = running.communicate(timeout=60)
        assert running.returncode == 0, out + err
        gate = runs.get(1).steps[0]
        assert gate.approved
        assert (gate.confirmed_by or "").startswith("cli:")
        with catalog.begin() as session:
            records = audit.get_all(session=session, action="runbook.confirm")
        assert [r.outcome for r in records] == ["success"]
        nothing = here.run("confirm", "1")
        assert nothing.returncode == 2
        assert "no confirm step waiting" in nothing.stderr
    finally:
        if running.poll() is None:
            running.kill()
            running.communicate()
        catalog.dispose()
