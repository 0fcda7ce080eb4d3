"""age keys: generated safely, read from strings or files, and every bad key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from buttress.backup.errors import BackupError
from buttress.backup.keys import fingerprint, generate_identity, load_identities, parse_recipients


def test_keygen_writes_a_private_file_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "key.txt"
    recipient = generate_identity(path)
    assert recipient.startswith("age1")
    assert path.stat().st_mode & 0o777 == 0o600
    assert f"# public key: {recipient}" in path.read_text()
    with pytest.raises(BackupError, match="refusing to overwrite"):
        generate_identity(path)
    assert len(load_identities([path])) == 1


def test_recipients_from_strings_and_files(tmp_path: Path) -> None:
    one = generate_identity(tmp_path / "a.txt")
    two = generate_identity(tmp_path / "b.txt")
    listing = tmp_path / "recipients.txt"
    listing.write_text(f"# the offsite key\n{two}\n\n")
    found = parse_recipients([one, str(listing)])
    assert [fingerprint(r) for r in found] == [fingerprint(r) for r in parse_recipients([one, two])]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([], "no age recipient given"),
        (["age1notakey"], "not a valid age X25519 public key"),
        (["/nonexistent/keys.txt"], "not an age1... key, nor a readable file"),
    ],
)
def test_bad_recipients_are_named(values: list[str], message: str) -> None:
    with pytest.raises(BackupError, match=message.replace(".", r"\.")):
        parse_recipients(values)


def test_bad_identity_files_are_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing here\n")
    with pytest.raises(BackupError, match="no age identity found"):
        load_identities([empty])
    broken = tmp_path / "broken.txt"
    broken.write_text("AGE-SECRET-KEY-1NOTVALID\n")
    with pytest.raises(BackupError, match="malformed AGE-SECRET-KEY"):
        load_identities([broken])
    with pytest.raises(BackupError, match=r"identity file .*missing\.txt"):
        load_identities([tmp_path / "missing.txt"])
