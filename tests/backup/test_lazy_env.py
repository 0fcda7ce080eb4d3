"""A destination's unset ``${VAR}`` fails only the commands that use that destination: a
restore or a verify reading from another one goes on and names the variable as unused; a run
writing to it, or a copy into it, fails with file:line; other sections' unset variables are still
errors when the file is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from buttress.cli import main
from buttress.config import load_text
from buttress.errors import ConfigError
from tests.backup.conftest import add_s3_destination
from tests.backup.conftest import config_file as _config
from tests.backup.conftest import recipient as _recipient
from tests.backup.conftest import run_json as _json
from tests.conftest import S3Server


def test_restore_from_local_goes_on_when_the_s3_destinations_variable_is_unset(
    project: Path,
    s3_server: S3Server,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With ${S3_SECRET} unset, restore and verify read from local and warn that `cloud` is not
    used (naming the variable and its line); run and copy into cloud exit 2 naming it."""
    _config(project, _recipient(project))
    extra = ", secret_access_key: '${S3_SECRET}'"
    add_s3_destination(project, s3_server.new_bucket(), s3_server.endpoint, extra)
    monkeypatch.setenv("S3_SECRET", "sk-do-not-print-7")
    run = _json(capsys, ["backup", "run", "site", "--json"])
    assert run["destinations"] == ["local", "cloud"]
    monkeypatch.delenv("S3_SECRET")

    capsys.readouterr()
    assert main(["backup", "restore", run["id"], "--to", "out"]) == 0
    err = capsys.readouterr().err
    assert (project / "out" / "index.html").is_file()
    assert "destination cloud not used by this command: " in err
    assert "buttress.yaml:" in err
    unset = "backup.destinations[1].secret_access_key: environment variable S3_SECRET is not set"
    assert unset in err
    checked = _json(capsys, ["backup", "verify", run["id"], "--json"])
    assert checked["destinations"] == ["local"]
    assert checked["problems"] == []

    for argv in (["backup", "run", "site"], ["backup", "copy", run["id"], "cloud"]):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "environment variable S3_SECRET is not set" in err, argv
        assert "sk-do-not-print-7" not in err
    capsys.readouterr()
    assert main(["config", "check"]) == 0
    err = capsys.readouterr().err
    assert f"warning: buttress.yaml:6:139 {unset}" in err
    assert "(commands that use destination cloud fail)" in err


def test_an_unset_variable_outside_the_destinations_is_still_an_error() -> None:
    """Only destinations defer their unset variables: elsewhere loading fails, naming it."""
    text = "backup:\n  targets:\n    - {name: db, source: postgresql, dsn: '${SHOP_DSN}'}\n"
    with pytest.raises(ConfigError, match="environment variable SHOP_DSN is not set"):
        load_text(text, env={})
    deferred = "backup:\n  destinations:\n    - {name: cloud, type: s3, bucket: '${BUCKET}'}\n"
    config = load_text(deferred, env={})
    assert [d.name for d in config.backup.destinations] == ["cloud"]
