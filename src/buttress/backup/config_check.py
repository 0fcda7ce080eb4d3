"""The backup section's checks that need the backup domain's parsers (the validation step of
:mod:`buttress.config`): every recipient is parsed as a backup will parse it, every restore
server as a restore will, and under ``config check`` the key files are read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from buttress.backup.endpoints import parse_server
from buttress.backup.errors import BackupError

if TYPE_CHECKING:
    from buttress.config import BackupConfig

__all__ = ["check_backup"]

Found = list[tuple[tuple[str | int, ...], str]]


def check_backup(config: BackupConfig, *, check_files: bool) -> Found:
    """Problems of ``config`` (paths from the top of buttress.yaml), none echoing a key."""
    found: Found = []
    found.extend(_recipients(config.recipients, check_files=check_files))
    if check_files:
        found.extend(_identities(config))
        if config.passphrase_file is not None:
            try:
                config.passphrase_file.read_bytes()
            except OSError as exc:
                where = ("backup", "passphrase_file")
                found.append((where, f"{config.passphrase_file}: {exc.strerror}"))
    for server in config.restore_servers:
        try:
            parse_server(server)
        except ValueError as exc:  # names the entry and the form expected
            found.append((("backup", "restore_servers"), str(exc)))
    return found


def _recipients(values: list[str], *, check_files: bool) -> Found:
    try:
        from buttress.backup.keys import parse_recipient, parse_recipients
    except ImportError:  # pyrage missing: a backup run says which extra to install
        return []
    found: Found = []
    for i, value in enumerate(values):
        if value.startswith("AGE-SECRET-KEY-"):
            continue  # the model refuses a private key here
        try:
            if value.startswith("age1"):
                parse_recipient(value)  # the parser backups use
            elif check_files:
                parse_recipients([value])  # a file of keys, read as a backup reads it
        except BackupError as exc:
            found.append((("backup", "recipients", i), str(exc)))
        except ImportError:  # pyrage missing: a backup run says which extra to install
            break
    return found


def _identities(config: BackupConfig) -> Found:
    found: Found = []
    for i, path in enumerate(config.identity_files):
        where: tuple[str | int, ...] = ("backup", "identity_files", i)
        try:
            from buttress.backup.keys import load_identities

            load_identities([path])
        except BackupError as exc:
            found.append((where, str(exc)))
        except ImportError:  # pyrage missing: only say whether the file can be read
            try:
                path.read_bytes()
            except OSError as err:
                found.append((where, f"identity file {path}: {err.strerror}"))
    return found
