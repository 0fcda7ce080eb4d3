"""``buttress init`` and the starter configuration ``buttress serve`` writes on a first start."""

from __future__ import annotations

import re
from pathlib import Path

from buttress.cli._starter import write_starter
from buttress.config import load_text
from tests.cli.conftest import Run


def _uncommented(text: str) -> str:
    """The file with its commented YAML examples turned on (prose comments stay comments)."""
    out = []
    for line in text.splitlines():
        found = re.match(r"^(\s*)# (- |[a-z_]+:|  )(.*)$", line)
        out.append(f"{found[1]}{found[2]}{found[3]}" if found else line)
    return "\n".join(out) + "\n"


def test_init_writes_a_config_that_checks(cli: Run, tmp_path: Path) -> None:
    """init writes the starter with commented examples; config check passes on it, and on it
    with every example turned on."""
    result = cli("init", "conf/buttress.yaml")
    assert result.code == 0, result.err
    path = tmp_path / "conf" / "buttress.yaml"
    key = tmp_path / "data" / "backup-identity.txt"
    assert f"generated the backup key {key} (0600)" in result.out
    assert key.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    for example in ("source: postgresql", "source: redis", "type: s3", "resilience:"):
        assert f"# {example}" in text or f"#   {example}" in text or example in text
    checked = cli("--config", str(path), "config", "check")
    assert checked.code == 0, checked.err
    assert f"{path}: ok" in checked.out
    full = load_text(
        _uncommented(text),
        env={"S3_ACCESS_KEY_ID": "a", "S3_SECRET_ACCESS_KEY": "b", "PGPASSWORD": "c"},
    )
    assert [t.name for t in full.backup.targets] == ["catalog", "app-db", "cache"]
    assert [d.type for d in full.backup.destinations] == ["local", "s3"]
    assert list(full.resilience.policies) == ["payments-api"]


def test_init_refuses_to_overwrite(cli: Run, tmp_path: Path) -> None:
    """An existing file is left as it is: exit 2, one line naming it, no key generated."""
    path = tmp_path / "buttress.yaml"
    path.write_text("# mine\n")
    result = cli("init", str(path))
    assert result.code == 2
    assert result.err == f"error: {path}: already exists; refusing to overwrite it\n"
    assert path.read_text() == "# mine\n"
    assert not (tmp_path / "data" / "backup-identity.txt").exists()


def test_init_reuses_the_data_dir_key(cli: Run, tmp_path: Path) -> None:
    """A key already in the data directory is reused, never replaced."""
    assert cli("init", "a.yaml").code == 0
    key = tmp_path / "data" / "backup-identity.txt"
    before = key.read_text()
    again = cli("init", "b.yaml")
    assert again.code == 0
    assert f"encrypted to the existing key {key}" in again.out
    assert key.read_text() == before
    recipient = before.splitlines()[0].removeprefix("# public key: ")
    assert recipient in (tmp_path / "b.yaml").read_text()


def test_the_starter_in_the_data_dir_is_the_config(cli: Run, tmp_path: Path) -> None:
    """The starter serve writes is loaded like any config: config show explains it; it is
    written once and never over an existing one."""
    starter = write_starter(tmp_path / "data")
    assert starter is not None
    assert write_starter(tmp_path / "data") is None
    shown = cli("config", "show")
    assert shown.code == 0, shown.err
    assert "name: catalog" in shown.out
    assert f"path: {tmp_path / 'data' / 'catalog.db'}" in shown.out
    assert "name: data-disk" in shown.out
