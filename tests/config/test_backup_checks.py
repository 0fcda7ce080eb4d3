"""`config check` catches in the backup section what would otherwise fail (or do nothing) later:
duplicate destinations, fields the target's source ignores, malformed recipients, key files
that are not there. Each error names the file, the line and the field."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import pytest

from buttress.backup.keys import generate_identity
from buttress.config import load_text
from buttress.errors import ConfigError

DEST = "  destinations:\n    - {name: local, path: /tmp/buttress-x}\n"


def issues(text: str, *, check_files: bool = False) -> list[str]:
    # without check_files unless asked: the same calls work on the code before config check did
    read = functools.partial(load_text, check_files=True) if check_files else load_text
    with pytest.raises(ConfigError) as info:
        read(text, filename="buttress.yaml", env={})
    return [str(i) for i in info.value.issues]


def check(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "buttress.yaml"
    path.write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "buttress", "config", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )


def test_duplicate_destination_names_are_an_error_at_the_second() -> None:
    (message,) = issues(
        "backup:\n  destinations:\n    - {name: local, path: /a}\n    - name: local\n"
        "      path: /b\n"
    )
    assert message == (
        "buttress.yaml:4:13 backup.destinations[1].name: destination 'local' is declared "
        "twice (names must be unique)"
    )


@pytest.mark.parametrize(
    ("target", "field", "owners"),
    [
        ("{source: directory, path: /srv, jobs: 2}", "jobs", "postgresql"),
        ("{source: sqlite, path: /a.db, restore_jobs: 2}", "restore_jobs", "postgresql"),
        ("{source: mariadb, dsn: 'mariadb://h/x', path: /x}", "path", "sqlite, directory"),
        ("{source: postgresql, dsn: 'postgresql:///x', path: /x}", "path", "sqlite, directory"),
        ("{source: redis, dsn: 'redis://h', include: ['*']}", "include", "directory"),
        ("{source: postgresql, dsn: 'postgresql:///x', oplog: true}", "oplog", "mongodb"),
        ("{source: directory, path: /srv, tmp_dir: /t}", "tmp_dir", "postgresql, redis"),
        ("{source: sqlite, path: /a.db, dsn: 'postgresql:///x'}", "dsn", "postgresql"),
    ],
)
def test_a_field_the_source_ignores_is_an_error_at_that_field(
    target: str, field: str, owners: str
) -> None:
    item = f"    - {target.replace('{', '{name: t, ', 1)}"
    (message,) = issues(f"backup:\n{DEST}  targets:\n{item}\n")
    source = target.split("source: ")[1].split(",")[0]
    column = item.index(f" {field}: ") + len(field) + 4  # the value, 1-based
    assert message.startswith(f"buttress.yaml:5:{column} ")
    assert f"backup.targets[0].{field}: `{field}` does not apply to a {source} target" in message
    assert f"(only {owners}" in message


def test_the_fields_of_its_source_are_accepted() -> None:
    config = load_text(
        f"backup:\n{DEST}  targets:\n"
        "    - {name: pg, source: postgresql, dsn: 'postgresql:///x', jobs: 2, restore_jobs: 3,"
        " tmp_dir: /t, globals: false}\n"
        "    - {name: m, source: mariadb, dsn: 'mariadb://h/x', consistent_counts: false,"
        " lock_timeout: 3s}\n"
        "    - {name: d, source: directory, path: /srv, include: ['*.txt'], exclude: ['tmp']}\n",
        env={},
    )
    assert [t.name for t in config.backup.targets] == ["pg", "m", "d"]


def test_a_malformed_recipient_is_an_error_with_its_line() -> None:
    (message,) = issues("backup:\n  recipients:\n    - age1notakey\n")
    assert message == (
        "buttress.yaml:3:7 backup.recipients[0]: recipient age1notakey...: not a valid age "
        "X25519 public key"
    )


def test_a_private_key_pasted_as_a_recipient_is_refused_and_not_echoed() -> None:
    secret = "AGE-SECRET-KEY-1QFZ9ZN7KTVNYPGR6V8YZAVD8MJ8TWH6QK9QK4ZQZYZQZPGHZ5NQSZ3ZUL"
    (message,) = issues(f"backup:\n  recipients: ['{secret}']\n")
    assert message.startswith("buttress.yaml:2:16 backup.recipients[0]: this is a private key")
    assert secret[:20] not in message


def test_missing_key_files_fail_config_check_but_not_loading(tmp_path: Path) -> None:
    """A backup run does not need the identity: only `config check` reads key files."""
    text = (
        "backup:\n"
        f"  recipients: ['{tmp_path / 'no-recipients.txt'}']\n"
        f"  identity_files: ['{tmp_path / 'no-key.txt'}']\n"
        f"  passphrase_file: '{tmp_path / 'no-phrase.txt'}'\n"
    )
    load_text(text, env={})  # every other command loads it; the file is read when needed
    messages = issues(text, check_files=True)
    assert messages[0].startswith("buttress.yaml:2:16 backup.recipients[0]: recipient ")
    assert "not an age1... key, nor a readable file (No such file or directory)" in messages[0]
    assert messages[1] == (
        f"buttress.yaml:3:20 backup.identity_files[0]: identity file {tmp_path / 'no-key.txt'}: "
        "No such file or directory"
    )
    assert messages[2].startswith("buttress.yaml:4:20 backup.passphrase_file: ")
    result = check(tmp_path, text)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "backup.identity_files[0]: identity file" in result.stderr


def test_existing_key_files_pass_config_check(tmp_path: Path) -> None:
    recipient = generate_identity(tmp_path / "key.txt")
    (tmp_path / "recipients.txt").write_text(f"{recipient}\n")
    text = (
        f"backup:\n  recipients: [{recipient}, '{tmp_path / 'recipients.txt'}']\n"
        f"  identity_files: ['{tmp_path / 'key.txt'}']\n{DEST}"
    )
    result = check(tmp_path, text)
    assert result.returncode == 0, result.stderr
    broken = tmp_path / "broken.txt"
    broken.write_text("AGE-SECRET-KEY-1NOTVALID\n")
    result = check(tmp_path, text.replace("key.txt", "broken.txt"))
    assert result.returncode == 2
    assert "backup.identity_files[0]: identity file" in result.stderr
    assert "a malformed AGE-SECRET-KEY line" in result.stderr
