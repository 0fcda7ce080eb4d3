"""Claims on each catalog backend: of many racing callers exactly one takes a free key; a live
claim is held; a dead one (lease expired, or its PID gone or reused) is taken over; only the
holder renews or releases; the heartbeat renews and notices a lost claim."""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import pytest

from buttress.catalog import Catalog, claims
from buttress.catalog.tables import Claim
from tests.conftest import wait_until

HERE = claims.Owner.current()
ELSEWHERE = claims.Owner("other-host", "other-host|boot|pid:[1]", 4242, 1000.0)


def _put(catalog: Catalog, key: str, holder: str, owner: claims.Owner, expires_in: float) -> None:
    """A claim row as another process left it (its lease ending ``expires_in`` from now)."""
    with catalog.begin() as session:
        now = claims.catalog_now(session)
        session.add(
            Claim(
                key=key,
                holder=holder,
                host=owner.host,
                machine=owner.machine,
                pid=owner.pid,
                pid_started=owner.started,
                claimed_at=now - dt.timedelta(minutes=5),
                heartbeat_at=now + dt.timedelta(seconds=expires_in - claims.LEASE),
                expires_at=now + dt.timedelta(seconds=expires_in),
            )
        )


def _acquire(catalog: Catalog, key: str, holder: str) -> Claim | None:
    with catalog.begin() as session:
        return claims.acquire(session=session, key=key, holder=holder)


def _holder(catalog: Catalog, key: str) -> str | None:
    with catalog.begin() as session:
        claim = claims.get(session=session, key=key)
        return claim.holder if claim else None


def test_of_many_racing_threads_exactly_one_takes_a_free_key(catalog: Catalog) -> None:
    """Sixteen threads acquire one key at the same moment: one wins, fifteen are refused."""
    barrier = threading.Barrier(16)
    won: list[str] = []
    refused: list[str] = []
    other: list[BaseException] = []

    def race(i: int) -> None:
        barrier.wait()
        try:
            _acquire(catalog, "race", f"h{i}")
            won.append(f"h{i}")
        except claims.ClaimHeldError as exc:
            refused.append(exc.claim.holder)
        except BaseException as exc:  # reported below
            other.append(exc)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert other == []
    assert len(won) == 1
    assert len(refused) == 15
    assert set(refused) == set(won)  # every refusal names the winner
    assert _holder(catalog, "race") == won[0]


def test_a_live_claim_elsewhere_is_held_until_its_lease_expires(catalog: Catalog) -> None:
    """Another host's claim with a current lease is held; once expired, it is taken over."""
    _put(catalog, "k", "theirs", ELSEWHERE, expires_in=20)
    with pytest.raises(claims.ClaimHeldError) as held:
        _acquire(catalog, "k", "mine")
    assert held.value.claim.host == "other-host"
    with catalog.begin() as session:
        claim = claims.get(session=session, key="k")
        assert claim is not None
        claim.expires_at = claims.catalog_now(session) - dt.timedelta(seconds=1)
    previous = _acquire(catalog, "k", "mine")
    assert previous is not None
    assert previous.holder == "theirs"
    assert _holder(catalog, "k") == "mine"


@pytest.mark.parametrize("pid", [os.getpid(), 1], ids=["own-pid", "pid-1"])
def test_a_reused_pid_does_not_keep_a_claim_alive(catalog: Catalog, pid: int) -> None:
    """A claim on this machine whose PID now runs another process (a different start time)
    is gone at once, even before its lease ends."""
    reused = claims.Owner(HERE.host, HERE.machine, pid, HERE.started - 86400)
    _put(catalog, "k", "dead", reused, expires_in=20)
    previous = _acquire(catalog, "k", "mine")
    assert previous is not None
    assert previous.holder == "dead"


def test_a_running_holder_on_this_machine_keeps_its_claim_past_its_lease(
    catalog: Catalog,
) -> None:
    """The process that holds a claim is seen running here, so an expired lease does not let
    anyone take the claim from it."""
    _put(catalog, "k", "alive", HERE, expires_in=-60)
    with pytest.raises(claims.ClaimHeldError):
        _acquire(catalog, "k", "mine")


def test_only_the_holder_renews_or_releases(catalog: Catalog) -> None:
    """Renew and release by another holder change nothing; by the holder they work."""
    assert _acquire(catalog, "k", "mine") is None
    with catalog.begin() as session:
        assert not claims.renew(session=session, key="k", holder="theirs")
        assert not claims.release(session=session, key="k", holder="theirs")
        before = claims.get(session=session, key="k")
        assert before is not None
        expires = before.expires_at
        assert claims.renew(session=session, key="k", holder="mine", lease=600)
        after = claims.get(session=session, key="k")
        assert after is not None
        assert after.expires_at > expires
        assert claims.release(session=session, key="k", holder="mine")
    assert _holder(catalog, "k") is None
    assert _acquire(catalog, "k", "next") is None


def test_the_heartbeat_renews_and_notices_a_lost_claim(catalog: Catalog) -> None:
    """The heartbeat thread moves heartbeat_at on; when the claim is taken away it sets lost."""
    assert _acquire(catalog, "k", "mine") is None
    with catalog.begin() as session:
        first = claims.get(session=session, key="k")
        assert first is not None
        beat_at = first.heartbeat_at

    def renewed() -> bool:
        with catalog.begin() as session:
            claim = claims.get(session=session, key="k")
            return claim is not None and claim.heartbeat_at > beat_at

    with claims.Heartbeat(catalog, "k", "mine", every=0.01) as beat:
        wait_until(renewed, "a renewal")
        assert not beat.lost.is_set()
        with catalog.begin() as session:
            assert claims.release(session=session, key="k", holder="mine")
        wait_until(beat.lost.is_set, "the heartbeat to notice")


def test_a_live_holder_stays_live_when_the_boot_time_reading_moves(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psutil's create_time() adds the boot time of /proc/stat, which moves by a second now and
    then: a live holder must not be judged gone for it (it once was, and its claim was taken)."""
    import psutil

    real = psutil.Process.create_time
    monkeypatch.setattr(psutil.Process, "create_time", lambda self: real(self) + 1.0)
    _put(catalog, "k", "alive", HERE, expires_in=20)
    with pytest.raises(claims.ClaimHeldError):
        _acquire(catalog, "k", "mine")


def test_a_killed_process_not_yet_reaped_is_gone() -> None:
    """A holder killed by ``kill -9`` is a zombie until its parent reaps it: its claim is dead
    at once, not after its lease (a leader's failover took the whole lease that way)."""
    import signal
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = claims.Owner(HERE.host, HERE.machine, child.pid, claims._start_mark(child.pid))
        assert claims.process_runs(owner.machine, owner.pid, owner.started, HERE) is True
        os.kill(child.pid, signal.SIGKILL)
        wait_until(
            lambda: Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z",
            "the zombie",
        )
        assert claims.process_runs(owner.machine, owner.pid, owner.started, HERE) is False
    finally:
        child.kill()
        child.wait()
