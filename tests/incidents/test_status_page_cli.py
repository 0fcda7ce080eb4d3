"""``buttress incident update REF --status S "text"`` posts a public update on the catalog
directly; a bad status exits 2 with the reason."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from buttress.catalog import Catalog, catalog_url
from buttress.cli import app, main
from buttress.incidents.status import public_incidents


def _run(data: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--data-dir", str(data), "incident", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_update_posts_a_public_update(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The update is stored as a public update the status page reads; its actor is cli:."""
    ref = _run(tmp_path, "declare", "checkout errors", "--severity", "P2").strip()
    assert _run(tmp_path, "update", ref, "--status", "identified", "A bad release.").strip() == (
        f"{ref} updated (identified)"
    )
    capsys.readouterr()
    assert (
        main(["--data-dir", str(tmp_path), "incident", "update", ref, "--status", "no", "x"]) == 2
    )
    wrong = capsys.readouterr().err
    assert "status must be one of investigating, identified, monitoring, resolved" in wrong
    assert "Traceback" not in wrong
    catalog = Catalog(catalog_url(None, tmp_path))
    try:
        with catalog.begin() as session:
            (incident,) = public_incidents(
                session=session, now=dt.datetime.now(dt.UTC), history_days=30
            )
    finally:
        catalog.dispose()
    assert [(u.status, u.text) for u in incident.updates] == [("identified", "A bad release.")]
    (event,) = [
        e
        for e in json.loads(_run(tmp_path, "show", ref, "--json"))["timeline"]
        if e["kind"] == "public_update"
    ]
    assert event["actor"].startswith("cli:")
    assert event["detail"] == {"status": "identified", "text": "A bad release."}
