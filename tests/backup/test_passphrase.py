"""Passphrase encryption: a backup opened with nothing but the passphrase (verify, restore
test, restore), a wrong passphrase named without showing it, a passphrase next to recipients,
and the stock `age` opening the sealed key when the passphrase is typed at its prompt."""

from __future__ import annotations

import base64
import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from buttress.backup.destinations import LocalDestination
from buttress.backup.engine import load_manifest, restore_test, take_backup
from buttress.backup.errors import BackupError
from buttress.backup.keys import fingerprint, open_passphrase_key
from buttress.backup.pipeline import Settings
from buttress.backup.sources.directory import DirectorySource
from buttress.cli import main
from tests.backup.conftest import Keys, run_json

PHRASE = "correct horse battery staple 42"


def _project(project: Path, extra: str) -> None:
    (project / "site").mkdir()
    (project / "site" / "a.txt").write_text("hello\n" * 1000)
    (project / "buttress.yaml").write_text(
        "backup:\n" + extra + "  destinations: [{name: local, path: repo}]\n"
        "  targets: [{name: site, source: directory, path: site}]\n"
    )


def test_a_passphrase_alone_backs_up_and_restores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BACKUP_PASSPHRASE", PHRASE)
    _project(tmp_path, "  passphrase: ${BACKUP_PASSPHRASE}\n")
    run = run_json(capsys, ["backup", "run", "site", "--json"])
    manifest = (tmp_path / "repo" / "site" / run["id"] / "manifest.json").read_text()
    assert PHRASE not in manifest
    assert json.loads(manifest)["encryption"]["passphrase_identity"]
    checked = run_json(capsys, ["backup", "verify", run["id"], "--restore-test", "--json"])
    assert checked["restore_test"]["ok"], checked
    assert main(["backup", "restore", run["id"], "--to", "out"]) == 0
    assert (tmp_path / "out" / "a.txt").read_text() == "hello\n" * 1000
    capsys.readouterr()
    monkeypatch.setenv("BACKUP_PASSPHRASE", "not the one")
    assert main(["backup", "restore", run["id"], "--to", "out2"]) == 1
    err = capsys.readouterr().err
    assert "the passphrase does not open this backup's key" in err
    assert "not the one" not in err
    assert not (tmp_path / "out2").exists() or not any((tmp_path / "out2").iterdir())
    assert main(["config", "show"]) == 0
    assert "not the one" not in capsys.readouterr().out


def test_passphrase_file_and_recipients_together(
    keys: Keys, settings: Settings, repo: LocalDestination, tmp_path: Path
) -> None:
    """Either the identity file or the passphrase opens the same backup."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "f").write_text("x")
    both = Settings(keys.recipients, threads=0, passphrase=PHRASE)
    assert PHRASE not in repr(both)
    manifest = take_backup(DirectorySource(tmp_path / "site"), "site", [repo], both).manifest
    # the per-backup passphrase key is not listed among the recipients
    assert manifest.encryption["recipients"] == [fingerprint(keys.recipients[0])]
    by_key = restore_test(manifest, DirectorySource(tmp_path / "site"), repo, keys.identities)
    assert by_key.ok
    opened = open_passphrase_key(manifest.encryption["passphrase_identity"], PHRASE, "t")
    by_phrase = restore_test(manifest, DirectorySource(tmp_path / "site"), repo, [opened])
    assert by_phrase.ok
    with pytest.raises(BackupError, match="does not open"):
        open_passphrase_key(manifest.encryption["passphrase_identity"], "wrong", "t")


def test_bad_passphrase_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _project(tmp_path, "  passphrase: a\n  passphrase_file: b\n")
    assert main(["backup", "list"]) == 2
    assert "set passphrase or passphrase_file, not both" in capsys.readouterr().err
    (tmp_path / "buttress.yaml").write_text(
        "backup:\n  passphrase_file: missing.txt\n  destinations: [{name: l, path: r}]\n"
        "  targets: [{name: site, source: directory, path: site}]\n"
    )
    assert main(["backup", "run", "site"]) == 2
    assert (
        "backup.passphrase_file missing.txt: No such file or directory" in capsys.readouterr().err
    )


def test_stock_age_opens_the_sealed_key_with_the_passphrase(
    settings: Settings, repo: LocalDestination, tmp_path: Path
) -> None:
    """key.age from the manifest; `age -d` asks for the passphrase on the terminal; then the
    stream opens with the identity it holds: `cat tar.* | age -d -i id.txt | zstd -d | tar -x`."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "f.txt").write_text("stock tools\n")
    only_phrase = Settings([], threads=0, passphrase=PHRASE)
    manifest = take_backup(DirectorySource(tmp_path / "site"), "site", [repo], only_phrase).manifest
    sealed = load_manifest(repo, "site", manifest.backup_id).encryption["passphrase_identity"]
    (tmp_path / "key.age").write_bytes(base64.b64decode(sealed))
    pid, fd = pty.fork()
    if pid == 0:  # the child: age, with the pty as its terminal
        args = ["age", "-d", "-o", str(tmp_path / "id.txt"), str(tmp_path / "key.age")]
        os.execvp("age", args)  # noqa: S606  # a fixed argv, no shell
    screen = b""
    while b"passphrase" not in screen.lower():
        screen += os.read(fd, 1024)
    os.write(fd, PHRASE.encode() + b"\n")
    try:
        while os.read(fd, 1024):
            pass
    except OSError:
        pass
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    out = tmp_path / "out"
    out.mkdir()
    folder = repo.root / "site" / manifest.backup_id
    script = f"cat {folder}/tar.* | age -d -i {tmp_path}/id.txt | zstd -d -q | tar -x -C {out}"
    subprocess.run(["bash", "-o", "pipefail", "-c", script], check=True)
    assert (out / "f.txt").read_text() == "stock tools\n"
