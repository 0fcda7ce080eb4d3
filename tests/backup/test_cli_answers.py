"""`buttress backup show / verify --restore-test / list` in text mode say everything they know:
the recorded metadata, what a restore test compared and how each comparison came out, and that
a list stopped at its limit."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from buttress.cli import main
from tests.backup.conftest import config_file as _config
from tests.backup.conftest import recipient as _recipient
from tests.backup.conftest import run_json as _json
from tests.backup.test_restore_safety import PG_DATA


def _text(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 0) -> str:
    capsys.readouterr()
    assert main(argv) == code
    return capsys.readouterr().out


@pytest.fixture
def shop(pg_database: str, project: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A backup of a populated PostgreSQL database (target `shop`, with a sequence); its id."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(PG_DATA)
        conn.execute("CREATE SEQUENCE invoice_no START 41; SELECT nextval('invoice_no')")
    _config(
        project,
        _recipient(project),
        f"    - {{name: shop, source: postgresql, dsn: '{pg_database}', globals: false}}\n",
    )
    run = _json(capsys, ["backup", "run", "shop", "--json"])
    assert run["status"] == "succeeded", run
    return str(run["id"])


def test_show_prints_the_recorded_metadata_in_text(
    shop: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`backup show ID` lists the row counts, sequences and schema fingerprint it recorded."""
    shown = _json(capsys, ["backup", "show", shop, "--json"])
    out = _text(capsys, ["backup", "show", shop])
    assert "row_counts           2 recorded" in out
    assert "  public.customers               3000" in out
    assert "  public.orders                  6000" in out
    assert "  public.invoice_no              41" in out
    assert f"schema_fingerprint   {shown['metadata']['schema_fingerprint']}" in out


def test_verify_restore_test_prints_each_comparison(
    shop: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`verify --restore-test` names each fact it compared and its result."""
    out = _text(capsys, ["backup", "verify", shop, "--restore-test"])
    assert "restore test compared row_counts (2 recorded): same" in out
    assert "restore test compared schema_fingerprint: same" in out
    assert "restore test compared sequences (1 recorded): same" in out
    checked = _json(capsys, ["backup", "verify", shop, "--restore-test", "--json"])
    assert {"what": "row_counts", "entries": 2, "differences": 0} in checked["restore_test"][
        "compared"
    ]


def test_list_says_when_it_stopped_at_its_limit(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`backup list --limit 2` with three runs says "2 of 3" on stderr; with room, nothing."""
    _config(project, _recipient(project))
    for _ in range(3):
        assert main(["backup", "run", "site"]) == 0
    capsys.readouterr()
    assert main(["backup", "list", "--limit", "2"]) == 0
    assert "2 of 3 runs shown, newest first; --limit N for more" in capsys.readouterr().err
    assert len(_json(capsys, ["backup", "list", "--limit", "2", "--json"])) == 2
    assert main(["backup", "list", "--limit", "3"]) == 0
    assert "runs shown" not in capsys.readouterr().err
