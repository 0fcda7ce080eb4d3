"""Manifest authentication: is this ``manifest.json`` the one buttress wrote for this backup?

Two proofs, either enough: the SHA-256 of the manifest's bytes equals the catalog's record of
the run (``manifest_sha256``, written at backup time), and an HMAC-SHA256 of the manifest made
with the repository's **manifest key** (32 random bytes, hex, in a file kept with the age
identity). The key, not the age recipients, because the backup host holds only public
recipients, and anything sealed to a public key can be forged by whoever has it.

The MAC lives in the manifest (its ``authentication`` field) and covers the canonical JSON
without that field; the file must also be exactly that canonical JSON, so a change to any byte
of it is detected, even one JSON would read the same (whitespace, escapes, key order).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

from buttress.backup.errors import CorruptBackupError
from buttress.backup.format import Manifest, object_key
from buttress.errors import UsageError

__all__ = [
    "ManifestAuthError",
    "Trust",
    "Verdict",
    "authenticate",
    "check_consistency",
    "ensure_manifest_key",
    "key_fingerprint",
    "read_manifest_key",
    "seal",
]

KEY_BYTES = 32
ALGORITHM = "HMAC-SHA256"
_HEX = frozenset("0123456789abcdef")


class ManifestAuthError(CorruptBackupError):
    """A manifest is not authentic (altered, replaced, made with another key) or cannot be
    authenticated (no catalog record and no manifest key)."""


def key_fingerprint(key: bytes) -> str:
    """What names a manifest key in manifests and errors (never the key itself)."""
    return hashlib.sha256(b"buttress-manifest-key" + key).hexdigest()[:16]


def _mac(manifest: Manifest, key: bytes) -> str:
    return hmac.new(key, manifest.signed_bytes(), hashlib.sha256).hexdigest()


def seal(manifest: Manifest, key: bytes) -> Manifest:
    """``manifest`` with its ``authentication`` field made with ``key``."""
    auth = {"algorithm": ALGORITHM, "key": key_fingerprint(key)}
    return replace(manifest, authentication={**auth, "mac": _mac(manifest, key)})


def read_manifest_key(path: Path) -> bytes:
    """The manifest key in ``path`` (64 hex digits).

    Raises:
        UsageError: the file cannot be read or does not hold a manifest key.
    """
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not a text file"
        raise UsageError(f"manifest key {path}: {why}") from None
    if len(text) != 2 * KEY_BYTES or not set(text) <= _HEX:
        raise UsageError(
            f"manifest key {path}: not a manifest key (expected {2 * KEY_BYTES} hex digits)"
        )
    return bytes.fromhex(text)


def ensure_manifest_key(path: Path) -> bytes:
    """The manifest key in ``path``, created (mode 0600, its folder 0700) when missing."""
    if path.exists():
        return read_manifest_key(path)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(partial, path)  # never replaces a key another process just made
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(OSError):
                partial.unlink()
    except OSError as exc:
        raise UsageError(f"manifest key {path}: cannot create it: {exc.strerror}") from None
    return read_manifest_key(path)


@dataclass(frozen=True)
class Trust:
    """What a manifest is checked against: the backup asked for, and the proofs at hand."""

    backup_id: str
    target: str
    catalog_sha256: str | None = None  # None: the catalog has no record of the run
    key: bytes | None = field(default=None, repr=False)
    trust_unauthenticated: bool = False  # accept a manifest nothing can authenticate


@dataclass(frozen=True)
class Verdict:
    """An authentic manifest, how it was authenticated, and what the user should know."""

    manifest: Manifest
    authenticated_by: tuple[str, ...]  # "catalog", "key"; empty: trusted on request
    warnings: tuple[str, ...] = ()


def authenticate(data: bytes, where: str, trust: Trust) -> Verdict:
    """Parse and authenticate the manifest bytes ``data`` read at ``where``.

    Raises:
        ManifestAuthError: altered, replaced, another backup's, made with another key, or
            nothing to authenticate it with (unless ``trust.trust_unauthenticated``).
        CorruptBackupError: not a manifest at all.
    """
    manifest = Manifest.from_json(data, where)
    problems = check_consistency(manifest, trust.backup_id, trust.target)
    try:
        by, warnings = _proofs(manifest, data, where, trust)
    except ManifestAuthError as exc:
        if problems:  # say what was changed too, when it shows
            raise ManifestAuthError(f"{exc}; " + "; ".join(problems)) from None
        raise
    if problems:
        raise ManifestAuthError(f"{where}: " + "; ".join(problems))
    return Verdict(manifest, tuple(by), tuple(warnings))


def _proofs(
    manifest: Manifest, data: bytes, where: str, trust: Trust
) -> tuple[list[str], list[str]]:
    """What authenticates ``manifest`` (read as ``data``), and the warnings; raises when
    nothing may."""
    by: list[str] = []
    warnings: list[str] = []
    if trust.catalog_sha256:
        if hashlib.sha256(data).hexdigest() != trust.catalog_sha256:
            raise ManifestAuthError(
                f"{where}: manifest does not match the catalog's record of backup "
                f"{trust.backup_id} (SHA-256 differs: altered or replaced)"
            )
        by.append("catalog")
    if data != manifest.to_json():
        raise ManifestAuthError(f"{where}: manifest altered (not the bytes buttress wrote)")
    if manifest.authentication:
        by += _check_mac(manifest, where, trust, warnings, by_catalog=bool(by))
        if trust.key is None and by:
            warnings.append(f"{where}: manifest key not available, its MAC was not checked")
    elif trust.key is not None and not by:
        raise ManifestAuthError(
            f"{where}: cannot authenticate manifest of backup {trust.backup_id}: it carries no "
            "MAC (written before manifest authentication, or stripped) and the catalog has no "
            "record of it"
        )
    elif by:
        warnings.append(f"{where}: manifest carries no MAC; authenticated by the catalog only")
    if not by:
        if not trust.trust_unauthenticated:
            raise ManifestAuthError(
                f"{where}: cannot authenticate manifest of backup {trust.backup_id} (no catalog "
                "record, no manifest key): pass --manifest-key FILE, or --trust-unauthenticated "
                "to use it anyway"
            )
        warnings.append(f"{where}: manifest NOT authenticated (trusted on request)")
    return by, warnings


def _check_mac(
    manifest: Manifest, where: str, trust: Trust, warnings: list[str], *, by_catalog: bool
) -> list[str]:
    auth = manifest.authentication
    if not isinstance(auth, dict) or set(auth) != {"algorithm", "key", "mac"}:
        raise ManifestAuthError(f"{where}: manifest authentication field is malformed")
    if auth["algorithm"] != ALGORITHM:
        raise ManifestAuthError(
            f"{where}: manifest authenticated with {auth['algorithm']!r}; this buttress knows "
            f"{ALGORITHM}"
        )
    if trust.key is None:
        return []
    mine = key_fingerprint(trust.key)
    if auth["key"] != mine and by_catalog:
        # the catalog vouches for these bytes: the key was replaced since (lost, rotated)
        warnings.append(
            f"{where}: manifest made with manifest key {auth['key']!s:.16}, not the key given "
            f"({mine}): its MAC was not checked; keep that key to verify without the catalog"
        )
        return []
    if auth["key"] != mine:
        raise ManifestAuthError(
            f"{where}: manifest names manifest key {auth['key']!s:.16}, the key given is {mine} "
            "(wrong manifest key?, or the manifest was altered)"
        )
    if not hmac.compare_digest(str(auth["mac"]), _mac(manifest, trust.key)):
        raise ManifestAuthError(f"{where}: manifest MAC mismatch (the manifest was altered)")
    return ["key"]


def check_consistency(manifest: Manifest, backup_id: str, target: str) -> list[str]:
    """What is wrong with ``manifest`` as the manifest of ``target``'s backup ``backup_id``:
    another backup's, or an object list or sizes that do not add up (empty: nothing)."""
    problems = []
    if manifest.backup_id != backup_id:
        problems.append(
            f"manifest is of backup {manifest.backup_id!r}, not {backup_id!r} (replaced)"
        )
    if manifest.target != target:
        problems.append(f"manifest is of target {manifest.target!r}, not {target!r} (replaced)")
    names = [a.name for a in manifest.artifacts]
    if not names or len(set(names)) != len(names):
        problems.append(f"artifact list altered ({', '.join(map(str, names)) or 'none'})")
    for artifact in manifest.artifacts:
        objects = artifact.objects
        expected = [object_key(target, backup_id, artifact.name, i) for i in range(len(objects))]
        if not objects or [o.key for o in objects] != expected:
            problems.append(f"object list altered (artifact {artifact.name}: keys out of order)")
            continue
        sizes = [o.size for o in objects]
        if sum(sizes) != artifact.stored_size:
            problems.append(
                f"object list altered (artifact {artifact.name}: its objects hold {sum(sizes)} "
                f"bytes, the manifest says {artifact.stored_size} are stored)"
            )
        elif any(s != sizes[0] for s in sizes[:-1]) or sizes[-1] > sizes[0] or min(sizes) < 0:
            problems.append(f"object list altered (artifact {artifact.name}: uneven objects)")
        if artifact.raw_size < 0:
            problems.append(f"artifact {artifact.name}: raw_size {artifact.raw_size} < 0")
        bad = [o.key for o in objects if len(o.sha256) != 64 or not set(o.sha256) <= _HEX]
        if len(artifact.sha256) != 64 or not set(artifact.sha256) <= _HEX or bad:
            problems.append(f"artifact {artifact.name}: malformed SHA-256")
    return problems
