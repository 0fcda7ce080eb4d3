"""The starter configuration: what ``buttress serve`` sets up on a first start with no
``buttress.yaml``, and what ``buttress init`` writes (with commented examples).

The starter protects buttress's own data: a daily backup of the SQLite catalog to
``<data dir>/backups``, encrypted to an age key generated into the data directory, a weekly
restore test, and a disk-space check of the data directory. It is a plain config file, loaded
like any other (``buttress config show`` explains it), written once and never overwritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from buttress.catalog.engine import SQLITE_FILE
from buttress.config._loader import DEFAULT_FILE
from buttress.errors import UsageError

__all__ = [
    "KEY_FILE",
    "STARTER_TARGET",
    "Starter",
    "ensure_key",
    "starter_text",
    "write_config",
    "write_starter",
]

KEY_FILE = "backup-identity.txt"
STARTER_TARGET = "catalog"
DAILY = "0 3 * * *"
WEEKLY = "0 5 * * 0"


@dataclass(frozen=True)
class Starter:
    """A starter config just written: where it is, and the age key it uses."""

    config: Path
    key: Path
    key_created: bool

    def note(self, lead: str = "first start: ") -> str:
        """What serve and init say about it, once."""
        lines = [
            f"{lead}wrote a starter configuration to {self.config}: a daily backup of "
            "the catalog (restore-tested weekly) and a disk check of the data directory",
        ]
        if self.key_created:
            lines.append(
                f"  generated the backup key {self.key} (0600): copy it somewhere safe, "
                "away from this machine; without it no backup can be restored"
            )
        else:
            lines.append(f"  backups are encrypted to the existing key {self.key}")
        more = " (or run 'buttress init' for one with examples)" if lead else ""
        lines.append(f"  edit {self.config}{more} to back up your own data")
        return "\n".join(lines) + "\n"


def ensure_key(data_dir: Path) -> tuple[Path, str, bool]:
    """The age identity in ``data_dir`` (created 0600 when missing): its path, its public
    recipient, and whether it was created now."""
    from buttress.backup.keys import generate_identity

    path = (data_dir / KEY_FILE).absolute()
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("# public key: "):
                return path, line.removeprefix("# public key: ").strip(), False
        raise UsageError(f"{path}: holds no '# public key:' line; cannot reuse it as the key")
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path, generate_identity(path), True


def starter_text(data_dir: Path, recipient: str, key: Path, *, examples: bool = False) -> str:
    """The starter as YAML (absolute paths); ``examples`` (``buttress init``) adds
    ``data_dir`` and commented examples for PostgreSQL, Redis, S3 and a resilience policy."""
    root = data_dir.absolute()
    where = f"# the SQLite catalog, backups and keys live here:\ndata_dir: {root}\n"
    return f"""\
# buttress configuration: the starter, protecting buttress's own catalog.
# Reference: docs/configuration.md; check it with `buttress config check`.
{where if examples else ""}backup:
  # age public key(s): every backup is encrypted to all of them
  recipients: [{recipient}]
  # the private key, for restores and restore tests: keep a copy somewhere safe
  identity_files: [{key}]
  destinations:
    - name: local
      type: local
      path: {root / "backups"}
{_example(examples, S3_DESTINATION)}  targets:
    - name: {STARTER_TARGET}
      source: sqlite
      path: {root / SQLITE_FILE}
      # cron, five fields (minute hour day-of-month month day-of-week), UTC:
      schedule: "{DAILY}"  # daily at 03:00
      restore_test_schedule: "{WEEKLY}"  # Sundays at 05:00
      retention: {{keep_daily: 7, keep_weekly: 4}}
{_example(examples, POSTGRES_TARGET)}health:
  checks:
    - name: data-disk
      type: disk
      path: {root}
      min_free_percent: 10
{_example(examples, HEALTH_EXAMPLES)}{_example(examples, RESILIENCE_EXAMPLE)}"""


def _example(examples: bool, text: str) -> str:
    return text if examples else ""


S3_DESTINATION = """\
    # A copy off this machine (S3 or an S3-compatible service); keep secrets in ${VARS}:
    # - name: offsite
    #   type: s3
    #   bucket: my-backups
    #   endpoint_url: https://s3.example.com
    #   access_key_id: ${S3_ACCESS_KEY_ID}
    #   secret_access_key: ${S3_SECRET_ACCESS_KEY}
"""
POSTGRES_TARGET = """\
    # Your PostgreSQL database, nightly, with a restore test every Sunday:
    # - name: app-db
    #   source: postgresql
    #   dsn: postgresql://backup:${PGPASSWORD}@127.0.0.1:5432/app
    #   schedule: "30 2 * * *"
    #   restore_test_schedule: "0 6 * * 0"
    # Redis (an RDB snapshot):
    # - name: cache
    #   source: redis
    #   dsn: redis://127.0.0.1:6379
"""
HEALTH_EXAMPLES = """\
    # - name: app-db
    #   type: postgresql
    #   dsn: postgresql://monitor:${PGPASSWORD}@127.0.0.1:5432/app
    #   critical: true
    # - name: redis
    #   type: redis
    #   dsn: redis://127.0.0.1:6379
    #   slow: 50ms
"""
RESILIENCE_EXAMPLE = """\
# A resilience policy for calls to a dependency (buttress.resilience, docs/resilience.md):
# resilience:
#   policies:
#     payments-api:
#       timeout: {seconds: 2s}
#       retry: {attempts: 3, delay: 100ms}
#       circuit_breaker: {failure_rate: 50, minimum_calls: 20, wait: 30s}
"""


def write_config(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, never over an existing file, never half-written.

    Raises:
        UsageError: ``path`` exists or cannot be written.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.link(tmp, path)  # fails when path exists: never overwrites
    except FileExistsError:
        raise UsageError(f"{path}: already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def write_starter(data_dir: Path) -> Starter | None:
    """Write ``<data dir>/buttress.yaml`` with the starter, unless it exists (then ``None``)."""
    path = (data_dir / DEFAULT_FILE).absolute()
    if path.exists():
        return None
    key, recipient, created = ensure_key(data_dir)
    write_config(path, starter_text(data_dir, recipient, key))
    return Starter(path, key, created)
