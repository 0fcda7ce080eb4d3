"""Retention rules (restic's forget semantics): examples per rule, and properties over random
histories (the newest and the newest verified are always kept, periods keep their newest,
raising any count never removes more)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from buttress.backup.retention import Decision, RetentionPolicy, Snapshot, select

T0 = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)  # a Friday


def _daily(n: int, verified: set[int] = frozenset()) -> list[Snapshot]:  # type: ignore[assignment]
    return [Snapshot(f"d{i}", T0 - dt.timedelta(days=i), i in verified) for i in range(n)]


def _kept(decisions: list[Decision]) -> list[str]:
    return [d.snapshot.id for d in decisions if d.keep]


def test_no_policy_keeps_everything() -> None:
    """Pruning needs an explicit policy."""
    decisions = select(_daily(5), RetentionPolicy())
    assert _kept(decisions) == ["d0", "d1", "d2", "d3", "d4"]
    assert decisions[3].reasons == ("no retention policy",)


def test_keep_last() -> None:
    decisions = select(_daily(5), RetentionPolicy(keep_last=2))
    assert _kept(decisions) == ["d0", "d1"]
    assert decisions[0].reasons == ("newest backup", "last 2")
    assert decisions[2].reasons == ()


def test_keep_daily_keeps_the_newest_of_each_day() -> None:
    """Two backups a day: only the later one of each of the 3 newest days stays."""
    snaps = [
        Snapshot(f"{i}-{h}", T0 - dt.timedelta(days=i) + dt.timedelta(hours=h))
        for i in range(5)
        for h in (0, 12)
    ]
    assert _kept(select(snaps, RetentionPolicy(keep_daily=3))) == ["0-12", "1-12", "2-12"]


def test_an_unfilled_rule_keeps_the_oldest_backup_as_restic_does() -> None:
    """Three backups in one day with keep_daily 5: the newest (daily) and the oldest (the
    rule still has days to fill) stay, as in restic since PR #4366; the middle one goes."""
    snaps = [Snapshot(f"h{h}", T0 + dt.timedelta(hours=h)) for h in (0, 6, 12)]
    decisions = select(snaps, RetentionPolicy(keep_daily=5))
    assert _kept(decisions) == ["h12", "h0"]
    assert decisions[2].reasons == ("oldest daily 5",)
    # once the rule is filled, the oldest is not kept on its account
    days = [
        Snapshot(f"{i}-{h}", T0 - dt.timedelta(days=i) + dt.timedelta(hours=h))
        for i in range(3)
        for h in (0, 6)
    ]
    assert _kept(select(days, RetentionPolicy(keep_daily=3))) == ["0-6", "1-6", "2-6"]
    assert _kept(select(days, RetentionPolicy(keep_daily=4))) == ["0-6", "1-6", "2-6", "2-0"]


def test_keep_weekly_and_monthly_use_iso_weeks_and_months() -> None:
    """60 daily backups: 2 weekly (this ISO week's newest, last week's Sunday), 3 monthly."""
    decisions = select(_daily(60), RetentionPolicy(keep_weekly=2, keep_monthly=3))
    kept = {d.snapshot.id: d.reasons for d in decisions if d.keep}
    assert kept["d0"] == ("newest backup", "weekly 2", "monthly 3")
    assert "weekly 2" in kept["d5"]  # Sunday 2026-11-22 closes the previous ISO week
    assert "monthly 3" in kept["d27"]  # 2026-10-31, newest of October
    assert "monthly 3" in kept["d58"]  # 2026-09-30
    assert len(kept) == 4


def test_keep_within_counts_from_the_newest_backup_not_from_now() -> None:
    """Backups that stopped a year ago are still kept within the window of the newest."""
    old = [Snapshot(s.id, s.time - dt.timedelta(days=365)) for s in _daily(6)]
    assert _kept(select(old, RetentionPolicy(keep_within=2 * 86400))) == ["d0", "d1", "d2"]
    assert select(old, RetentionPolicy(keep_within=2 * 86400))[2].reasons == (
        "within 2d of the newest",
    )


def test_the_newest_verified_backup_is_never_removed() -> None:
    """Even when no rule would keep it."""
    decisions = select(_daily(10, verified={7}), RetentionPolicy(keep_last=1))
    assert _kept(decisions) == ["d0", "d7"]
    assert decisions[7].reasons == ("newest verified backup",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"keep_last": -1}, "keep_last must be >= 0"), ({"keep_within": 0}, "keep_within")],
)
def test_bad_policies_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetentionPolicy(**kwargs)  # type: ignore[arg-type]


_times = st.lists(
    st.integers(min_value=0, max_value=400 * 24 * 60).map(
        lambda minutes: T0 - dt.timedelta(minutes=minutes)
    ),
    min_size=1,
    max_size=60,
)
_policies = st.builds(
    RetentionPolicy,
    keep_last=st.integers(0, 5),
    keep_hourly=st.integers(0, 5),
    keep_daily=st.integers(0, 8),
    keep_weekly=st.integers(0, 5),
    keep_monthly=st.integers(0, 5),
    keep_yearly=st.integers(0, 2),
    keep_within=st.none() | st.integers(1, 30 * 86400).map(float),
)


def _snapshots(times: list[dt.datetime], verified: list[bool]) -> list[Snapshot]:
    return [Snapshot(f"s{i}", t, verified[i % len(verified)]) for i, t in enumerate(times)]


@given(_times, st.lists(st.booleans(), min_size=1, max_size=5), _policies)
def test_invariants(
    times: list[dt.datetime], verified: list[bool], policy: RetentionPolicy
) -> None:
    """One decision each; kept iff it has a reason; the newest and newest verified are kept."""
    snaps = _snapshots(times, verified)
    decisions = select(snaps, policy)
    assert sorted(d.snapshot.id for d in decisions) == sorted(s.id for s in snaps)
    assert all(d.keep == bool(d.reasons) for d in decisions)
    assert decisions[0].keep
    assert decisions[0].snapshot.time == max(times)
    verified_ones = [d for d in decisions if d.snapshot.verified]
    if verified_ones:
        assert verified_ones[0].keep


@given(_times, st.integers(1, 10))
def test_daily_matches_a_reference(times: list[dt.datetime], n: int) -> None:
    """keep_daily=N keeps exactly the newest backup of each of the N newest days."""
    snaps = _snapshots(times, [False])
    by_day: dict[dt.date, Snapshot] = {}
    for s in sorted(snaps, key=lambda s: (s.time, s.id)):
        by_day[s.time.date()] = s  # the last one of the day wins
    expected = {by_day[day].id for day in sorted(by_day, reverse=True)[:n]}
    daily = {
        d.snapshot.id
        for d in select(snaps, RetentionPolicy(keep_daily=n))
        if f"daily {n}" in d.reasons
    }
    assert daily == expected


@given(_times, _policies, st.sampled_from(["keep_last", "keep_daily", "keep_weekly"]))
def test_raising_a_count_never_removes_more(
    times: list[dt.datetime], policy: RetentionPolicy, field: str
) -> None:
    assume(not policy.empty)  # no policy keeps everything: any rule then removes some
    snaps = _snapshots(times, [False])
    before = set(_kept(select(snaps, policy)))
    more = dataclasses.replace(policy, **{field: getattr(policy, field) + 1})
    assert before <= set(_kept(select(snaps, more)))
