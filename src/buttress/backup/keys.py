"""age keys: generate an identity, read recipients and identities, fingerprint recipients.

The backup host needs only public recipients (``age1...``); the identity (private key) is
needed to restore, verify by restoring, or run a restore test.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from buttress.backup.errors import BackupError

__all__ = [
    "fingerprint",
    "generate_identity",
    "load_identities",
    "open_passphrase_key",
    "parse_recipient",
    "parse_recipients",
    "passphrase_key",
]


def generate_identity(path: Path) -> str:
    """Write a new X25519 identity to ``path`` (mode 0600, refusing to overwrite) in age's
    key-file format; returns its public recipient."""
    from pyrage import x25519

    identity = x25519.Identity.generate()
    recipient = str(identity.to_public())
    if path.exists():
        raise BackupError(f"{path}: already exists; refusing to overwrite a key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"# public key: {recipient}\n{identity}\n")
    return recipient


def parse_recipient(text: str) -> Any:
    """One age X25519 recipient from its ``age1...`` text; ``config check`` uses it too.

    Raises:
        BackupError: not a valid key (the message shows only its first characters).
    """
    from pyrage import x25519

    try:
        return x25519.Recipient.from_str(text)
    except Exception:  # noqa: BLE001  # pyrage raises its own types; say which key
        raise BackupError(f"recipient {text[:12]}...: not a valid age X25519 public key") from None


def parse_recipients(values: list[str]) -> list[Any]:
    """age X25519 recipients from ``age1...`` strings (or files holding them, one per line)."""
    found: list[Any] = []
    for value in values:
        lines = [value]
        if not value.startswith("age1"):
            path = Path(value)
            try:
                lines = path.read_text().splitlines()
            except OSError as exc:
                raise BackupError(
                    f"recipient {value!r}: not an age1... key, nor a readable file ({exc.strerror})"
                ) from None
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            found.append(parse_recipient(line))
    if not found:
        raise BackupError(
            "no age recipient given: a backup is always encrypted to at least one key"
        )
    return found


def load_identities(paths: list[Path]) -> list[Any]:
    """age identities from key files (``AGE-SECRET-KEY-1...`` lines; comments skipped)."""
    from pyrage import x25519

    found: list[Any] = []
    for path in paths:
        try:
            text = path.read_text()
        except OSError as exc:
            raise BackupError(f"identity file {path}: {exc.strerror}") from None
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("AGE-SECRET-KEY-"):
                try:
                    found.append(x25519.Identity.from_str(line))
                except Exception:  # noqa: BLE001
                    raise BackupError(
                        f"identity file {path}: a malformed AGE-SECRET-KEY line"
                    ) from None
    if not found:
        raise BackupError(f"no age identity found in {', '.join(map(str, paths)) or 'no file'}")
    return found


def fingerprint(recipient: Any) -> str:
    """A short, stable name of a public key for the manifest: ``sha256:<16 hex>``."""
    return "sha256:" + hashlib.sha256(str(recipient).encode()).hexdigest()[:16]


def passphrase_key(passphrase: str) -> tuple[Any, str]:
    """A new X25519 identity for one backup, and that identity sealed with ``passphrase``
    (an age file with an scrypt stanza, base64 for the manifest). Returns (its recipient, the
    sealed identity). Streams encrypt to the recipient; whoever knows the passphrase opens the
    sealed identity (``age -d -i key.age`` does it too, asking for the passphrase)."""
    import base64

    from pyrage import passphrase as scrypt
    from pyrage import x25519

    identity = x25519.Identity.generate()
    text = f"# buttress backup key, sealed with the backup passphrase\n{identity}\n"
    sealed = scrypt.encrypt(text.encode(), passphrase)
    return identity.to_public(), base64.b64encode(sealed).decode()


def open_passphrase_key(sealed: str, passphrase: str, where: str) -> Any:
    """The identity :func:`passphrase_key` sealed, opened with ``passphrase``.

    Raises:
        BackupError: the passphrase is wrong (the message never shows it), or the key is damaged.
    """
    import base64
    import binascii

    import pyrage
    from pyrage import passphrase as scrypt
    from pyrage import x25519

    try:
        text = scrypt.decrypt(base64.b64decode(sealed), passphrase).decode()
    except pyrage.DecryptError:
        raise BackupError(f"{where}: the passphrase does not open this backup's key") from None
    except (binascii.Error, ValueError):
        raise BackupError(f"{where}: the sealed passphrase key is damaged") from None
    for line in text.splitlines():
        if line.startswith("AGE-SECRET-KEY-"):
            return x25519.Identity.from_str(line.strip())
    raise BackupError(f"{where}: the sealed passphrase key holds no identity")
