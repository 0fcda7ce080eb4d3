"""Two ``buttress runbook run`` processes of an exclusive runbook: the second is refused
naming the first run; the first waits at its confirm step until ``runbook confirm``."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import wait_until
from tests.runbooks.cli_support import site


def test_a_second_process_is_refused_naming_the_first_run(tmp_path: Path) -> None:
    """While run 1 waits for its confirmation, a second run exits 2 naming run 1; refusing
    run 1's step from a third process ends it (exit 1)."""
    here = site(tmp_path)
    first = here.start("run", "solo")
    catalog = here.catalog()
    try:
        runs = here.service(catalog)
        wait_until(lambda: bool(runs.runs()) and runs.get(1).waiting is not None, "run 1 waits", 60)
        second = here.run("run", "solo")
        assert second.returncode == 2, second.stdout + second.stderr
        assert "run 1 of it is still running" in second.stderr
        refused = here.run("confirm", "1", "--refuse", "--comment", "not now")
        assert refused.returncode == 0, refused.stderr
        assert "run 1 step 0: refused" in refused.stdout
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
        catalog.dispose()
    assert first.returncode == 1, out + err
    assert "buttress runbook confirm 1 --step 0" in out  # the waiting run said how to answer
    assert "refused by cli:" in out
    assert [r.id for r in here.service(here.catalog()).runs("solo")] == [1]
