"""The server's archive_command against the target's ``wal:`` settings: a spool the
configuration no longer drains (async to sync, another spool_dir), a synchronous push while
async is configured, a command that pushes elsewhere; found by ``wal status`` and the
control plane's WAL watch on a real server whose settings changed under it."""

from __future__ import annotations

from pathlib import Path

import pytest

from buttress.backup.wal.metrics import WalWatch
from buttress.backup.wal.setup import archive_drift
from buttress.config import PostgresqlTargetConfig, load_text
from tests.backup.pg_cluster import Cluster
from tests.backup.wal_setup import wal_setup


def _target(wal: str) -> PostgresqlTargetConfig:
    config = load_text(
        "backup:\n  targets:\n"
        "    - {name: pg, source: postgresql, kind: physical, dsn: 'postgresql://h/p',"
        f" wal: {wal}}}\n"
    )
    [target] = config.backup.targets
    assert isinstance(target, PostgresqlTargetConfig)
    return target


PUSH = "/usr/bin/buttress --config /etc/b.yaml wal push pg %p"


@pytest.mark.parametrize(
    ("wal", "command", "said"),
    [
        ("{}", PUSH, None),
        ("{mode: async, spool_dir: /s}", PUSH + " --spool /s --spool-max-mb 64", None),
        ("{}", PUSH + " --spool /s", "spools into /s but target pg's wal.mode is sync"),
        ("{mode: async, spool_dir: /s}", PUSH, "wal.mode is async but the server's"),
        (
            "{mode: async, spool_dir: /new}",
            PUSH + " --spool /old",
            "spools into /old but the pusher drains wal.spool_dir /new",
        ),
        ("{}", "/usr/bin/buttress wal push other %p", "does not run `wal push pg`"),
        ("{}", "cp %p /mnt/archive/%f", "does not run `wal push pg`"),
    ],
)
def test_archive_drift(wal: str, command: str, said: str | None) -> None:
    """Each disagreement is named with the fix; agreeing settings say nothing."""
    found = archive_drift(_target(wal), command)
    if said is None:
        assert found is None
    else:
        assert found is not None
        assert said in found
        assert "buttress backup postgres-setup pg --apply" in found


def test_a_server_left_spooling_after_a_switch_to_sync_is_named(
    pg_database: str, pg_clusters: list[Cluster], tmp_path: Path
) -> None:
    """A real server whose archive_command still spools while the target is sync: `wal
    status` warns (text and JSON) and the watch logs it; once set back, both are quiet."""
    setup = wal_setup(pg_database, pg_clusters)
    config = load_text(setup.config.read_text())
    watch = WalWatch(config.backup)
    assert watch.check_servers(config.backup) == {"pg": None}
    quiet = setup.cli("wal", "status", "pg")
    assert quiet.returncode == 0, quiet.stderr
    assert "warning" not in quiet.stdout
    original = setup.cluster.value("SHOW archive_command")
    spooling = f"{original} --spool {tmp_path}".replace("%", "%%")  # psycopg's placeholders
    setup.cluster.sql(f"ALTER SYSTEM SET archive_command = '{spooling}'")
    setup.cluster.sql("SELECT pg_reload_conf()")
    shown = setup.cli("wal", "status", "pg")
    assert shown.returncode == 0, shown.stderr
    assert f"pg: warning: the server's archive_command spools into {tmp_path}" in shown.stdout
    assert "wal.mode is sync" in watch.check_servers(config.backup)["pg"]  # type: ignore[operator]
    as_json = setup.cli("wal", "status", "pg", "--json")
    assert "no pusher uploads" in as_json.stdout
    setup.cluster.sql("ALTER SYSTEM RESET archive_command")
    setup.cluster.sql("SELECT pg_reload_conf()")
    assert watch.check_servers(config.backup) == {"pg": None}  # postgresql.conf's again
    assert "warning" not in setup.cli("wal", "status", "pg").stdout
