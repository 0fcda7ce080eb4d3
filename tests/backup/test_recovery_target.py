"""Recovery targets (pure): one target from the options, its PostgreSQL settings, the base
backup a restore starts from (the window shown when none fits), and how the server's log says
recovery ended."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from buttress.backup.wal.recovery import (
    BaseBackup,
    RecoveryTarget,
    choose_base,
    fetch_command,
    read_outcome,
    write_recovery,
)
from buttress.errors import UsageError

UTC = dt.UTC


def _base(n: int, hour: int) -> BaseBackup:
    return BaseBackup(
        f"20261207T{hour:02d}0000Z-00000{n}",
        start_lsn=n << 24,
        stop_lsn=(n << 24) + 0x100,
        stop_time=dt.datetime(2026, 12, 7, hour, 0, 30, tzinfo=UTC),
        timeline=1,
    )


BASES = [_base(2, 10), _base(5, 12), _base(9, 14)]


def test_exactly_one_target_is_asked_for() -> None:
    """None, or two at once, are refused, naming the options."""
    with pytest.raises(UsageError, match="exactly one of --target-time"):
        RecoveryTarget.choose()
    with pytest.raises(UsageError, match=r"given: lsn, immediate"):
        RecoveryTarget.choose(lsn="0/3000000", immediate=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"time": "yesterday"}, "is not a time like"),
        ({"time": "2026-12-02 14:35:00"}, "has no time zone"),
        ({"lsn": "3000000"}, "is not a WAL location"),
        ({"xid": "12a"}, "a transaction id is a number"),
        ({"name": ""}, "restore point is empty"),
        ({"immediate": True, "action": "stop"}, "one of promote, pause, shutdown"),
    ],
)
def test_bad_targets_are_refused(options: dict[str, object], message: str) -> None:
    """Each malformed target is refused with what is wrong with it."""
    with pytest.raises(UsageError, match=message):
        RecoveryTarget.choose(**options)  # type: ignore[arg-type]


def test_settings_for_postgresql() -> None:
    """A time target is written in UTC with its zone; inclusive, action and the latest
    timeline go with it; immediate has no inclusive setting."""
    time = RecoveryTarget.choose(time="2026-12-02 15:35:00+01", action="pause")
    assert time.settings() == {
        "recovery_target_time": "2026-12-02 15:35:00+01:00",
        "recovery_target_inclusive": "on",
        "recovery_target_action": "pause",
        "recovery_target_timeline": "latest",
    }
    assert time.describe() == "time 2026-12-02 14:35:00+00:00"
    exclusive = RecoveryTarget.choose(xid="740", inclusive=False)
    assert exclusive.settings()["recovery_target_xid"] == "740"
    assert exclusive.settings()["recovery_target_inclusive"] == "off"
    assert RecoveryTarget.choose(immediate=True).settings() == {
        "recovery_target": "immediate",
        "recovery_target_action": "promote",
        "recovery_target_timeline": "latest",
    }


def test_the_newest_base_that_ends_before_the_target_is_chosen() -> None:
    """By time and by LSN: the newest base backup that ended before the target; by xid, name
    or immediate: the newest; an explicit one wins when it fits."""
    at = RecoveryTarget.choose(time="2026-12-07 13:00:00+00")
    assert choose_base(BASES, at).id == BASES[1].id
    assert choose_base(BASES, RecoveryTarget.choose(time="2026-12-07 12:00:30+00")) == BASES[1]
    assert choose_base(BASES, RecoveryTarget.choose(lsn="0/6000000")) == BASES[1]
    assert choose_base(BASES, RecoveryTarget.choose(xid="9")) == BASES[2]
    assert choose_base(BASES, RecoveryTarget.choose(immediate=True)) == BASES[2]
    assert choose_base(BASES, at, BASES[0].id) == BASES[0]


def test_a_target_before_the_oldest_base_is_refused_with_the_window() -> None:
    """A target before the end of the oldest base backup is refused, showing where the
    recoverable window starts; an explicit base that ends after the target too."""
    early = RecoveryTarget.choose(time="2026-12-07 10:00:00+00")
    with pytest.raises(UsageError) as caught:
        choose_base(BASES, early)
    message = str(caught.value)
    assert "before the end of the oldest base backup" in message
    assert "recoverable window is from 2026-12-07 10:00:30+00" in message
    assert BASES[0].id in message
    with pytest.raises(UsageError, match="recovery cannot stop before the end of its base"):
        choose_base(BASES, RecoveryTarget.choose(time="2026-12-07 13:00:00+00"), BASES[2].id)
    with pytest.raises(UsageError, match="not a good base backup"):
        choose_base(BASES, early, "20261207T000000Z-abcdef")
    with pytest.raises(UsageError, match="no base backup"):
        choose_base([], early)


def test_recovery_files_and_the_fetch_command(tmp_path: Path) -> None:
    """recovery.signal (no standby.signal), the settings appended to postgresql.auto.conf
    (quotes doubled), and a restore_command that runs buttress's `wal fetch`."""
    (tmp_path / "standby.signal").write_text("")
    (tmp_path / "postgresql.auto.conf").write_text("work_mem = '8MB'\n")
    command = fetch_command("/opt/py", Path("/etc/buttress dir/b.yaml"), "pg")
    assert command == "/opt/py -m buttress --config '/etc/buttress dir/b.yaml' wal fetch pg %f %p"
    write_recovery(tmp_path, RecoveryTarget.choose(name="it's"), command, {"port": "5499"})
    assert (tmp_path / "recovery.signal").exists()
    assert not (tmp_path / "standby.signal").exists()
    auto = (tmp_path / "postgresql.auto.conf").read_text()
    assert auto.startswith("work_mem = '8MB'\n")
    assert "recovery_target_name = 'it''s'" in auto
    assert "restore_command = '/opt/py -m buttress --config ''/etc/buttress dir/b.yaml''" in auto
    assert "port = '5499'" in auto


PREFIX = "2026-12-07 14:00:00.000 UTC [100] "


def _log(*messages: str) -> str:
    return "".join(f"{PREFIX}{m}\n" for m in messages)


def test_the_log_says_how_recovery_ended() -> None:
    """Promoted (with the last replayed transaction), paused, shut down, still running, or
    failed because the target was not reached; a client's FATAL alone is not a failure."""
    start = "LOG:  starting point-in-time recovery to 2026-12-07 13:00:00+00"
    stop = "LOG:  recovery stopping before commit of transaction 741, time 2026-12-07 13:00:01+00"
    promoted = read_outcome(
        _log(
            start,
            "FATAL:  the database system is starting up",
            stop,
            "LOG:  redo done at 0/5000100 system usage: CPU: user: 0.00 s",
            "LOG:  last completed transaction was at log time 2026-12-07 12:59:59.5+00",
            "LOG:  selected new timeline ID: 2",
            "LOG:  archive recovery complete",
            "LOG:  database system is ready to accept connections",
        )
    )
    assert promoted.state == "promoted"
    assert promoted.last_transaction == "2026-12-07 12:59:59.5+00"
    assert promoted.redo_done == "0/5000100"
    assert promoted.timeline == 2
    assert "recovery stopping before commit of transaction 741" in promoted.reached()
    assert read_outcome(_log(start, stop, "LOG:  pausing at the end of recovery")).state == (
        "paused"
    )
    assert read_outcome(_log(start, stop, "LOG:  shutdown at recovery target")).state == (
        "shutdown"
    )
    assert read_outcome(_log(start)).state == "running"
    failed = read_outcome(
        _log(start, "FATAL:  recovery ended before configured recovery target was reached")
    )
    assert failed.state == "failed"
    assert failed.error == "recovery ended before configured recovery target was reached"
