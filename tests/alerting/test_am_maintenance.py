"""in_window decides as Alertmanager 0.25 does: the cases of its own timeinterval tests
(prometheus/alertmanager v0.25.0, timeinterval/timeinterval_test.go), ported, plus the time
zone and month-length cases. A live Alertmanager muting by the same windows is in
test_am_live.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from buttress.alerting.maintenance import days_in_month, in_window
from buttress.config import MaintenanceWindowConfig


def window(location: str = "UTC", **interval: Any) -> MaintenanceWindowConfig:
    return MaintenanceWindowConfig.model_validate(
        {"name": "w", "location": location, "intervals": [interval]}
    )


def at(text: str) -> dt.datetime:
    """Go's RFC822Z layout, as the upstream tests write times: ``02 Jan 06 15:04 +0000``."""
    return dt.datetime.strptime(text, "%d %b %y %H:%M %z")


NINE_TO_FIVE = [{"start_time": "09:00", "end_time": "17:00"}]

# (interval, inside, outside): timeIntervalTestCases and yamlUnmarshalTestCases upstream
UPSTREAM: list[tuple[dict[str, Any], list[str], list[str]]] = [
    ({}, ["02 Jan 06 15:04 +0000", "03 Jan 07 10:04 +0000", "04 Jan 06 09:04 +0000"], []),
    (
        {"times": NINE_TO_FIVE, "weekdays": ["monday:friday"]},
        ["04 May 20 15:04 +0000", "05 May 20 10:04 +0000", "09 Jun 20 09:04 +0000"],
        ["03 May 20 15:04 +0000", "04 May 20 08:59 +0000", "05 May 20 05:00 +0000"],
    ),
    (  # Easter 2020
        {"days_of_month": ["4:6"], "months": ["april"], "years": ["2020"]},
        ["04 Apr 20 15:04 +0000", "05 Apr 20 00:00 +0000", "06 Apr 20 23:05 +0000"],
        [
            "03 May 18 15:04 +0000",
            "03 Apr 20 23:59 +0000",
            "04 Jun 20 23:59 +0000",
            "06 Apr 19 23:59 +0000",
            "07 Apr 20 00:00 +0000",
        ],
    ),
    (  # the last three days of each month
        {"days_of_month": ["-3:-1"]},
        [
            "31 Jan 20 15:04 +0000",
            "30 Jan 20 15:04 +0000",
            "29 Jan 20 15:04 +0000",
            "30 Jun 20 00:00 +0000",
            "29 Feb 20 23:05 +0000",
        ],
        [
            "03 May 18 15:04 +0000",
            "27 Jan 20 15:04 +0000",
            "03 Apr 20 23:59 +0000",
            "04 Jun 20 23:59 +0000",
            "06 Apr 19 23:59 +0000",
            "07 Apr 20 00:00 +0000",
            "01 Mar 20 00:00 +0000",
        ],
    ),
    (  # out-of-bound days are clamped to the month (upstream builds -31:31 in Go, which a
        # file cannot say: its parser refuses a negative start with a positive end)
        {"months": ["6"], "days_of_month": ["1:31"]},
        ["30 Jun 20 00:00 +0000", "01 Jun 20 00:00 +0000"],
        ["31 May 20 00:00 +0000", "1 Jul 20 00:00 +0000"],
    ),
    (
        {"weekdays": ["monday:friday"], "times": NINE_TO_FIVE},
        ["08 Jul 20 09:00 +0000", "08 Jul 20 16:59 +0000", "01 Apr 21 13:00 +0000"],
        ["08 Jul 20 05:00 +0000", "08 Jul 20 08:59 +0000"],
    ),
    (  # the last week, but Saturday, of Q1, business hours, 2020-2025 and 2030-2035
        {
            "weekdays": ["monday:friday", "sunday"],
            "months": ["january:march"],
            "days_of_month": ["-7:-1"],
            "years": ["2020:2025", "2030:2035"],
            "times": NINE_TO_FIVE,
        },
        [
            "27 Jan 21 09:00 +0000",
            "28 Jan 21 16:59 +0000",
            "29 Jan 21 13:00 +0000",
            "31 Mar 25 13:00 +0000",
            "31 Jan 35 13:00 +0000",
        ],
        [
            "30 Jan 21 13:00 +0000",  # Saturday
            "01 Apr 21 13:00 +0000",  # 4th month
            "30 Jan 26 13:00 +0000",  # 2026
            "31 Jan 35 17:01 +0000",  # after 5pm
        ],
    ),
]


@pytest.mark.parametrize(("interval", "inside", "outside"), UPSTREAM)
def test_alertmanagers_own_cases(
    interval: dict[str, Any], inside: list[str], outside: list[str]
) -> None:
    w = window(**interval)
    assert [t for t in inside if not in_window(w, at(t))] == []
    assert [t for t in outside if in_window(w, at(t))] == []


def test_a_location_reads_the_moment_in_that_zone() -> None:
    """Upstream: Sydney 9 to 5, weekdays; and in November, when Sydney is at +11."""
    sydney = window("Australia/Sydney", times=NINE_TO_FIVE, weekdays=["monday:friday"])
    assert in_window(sydney, at("06 Apr 21 13:00 +1000"))
    assert not in_window(sydney, at("06 Apr 21 13:00 +0000"))
    november = window(
        "Australia/Sydney", times=NINE_TO_FIVE, weekdays=["monday:friday"], months=["11"]
    )
    assert in_window(november, at("01 Nov 21 09:00 +1100"))
    assert in_window(november, at("31 Oct 21 22:00 +0000"))
    assert not in_window(november, at("31 Oct 21 21:00 +0000"))


def test_the_end_time_is_exclusive_and_24_00_ends_the_day() -> None:
    late = window(times=[{"start_time": "22:00", "end_time": "24:00"}])
    assert in_window(late, at("03 Dec 26 23:59 +0000"))
    assert in_window(late, at("03 Dec 26 22:00 +0000"))
    assert not in_window(late, at("03 Dec 26 21:59 +0000"))
    assert not in_window(late, at("04 Dec 26 00:00 +0000"))
    short = window(times=[{"start_time": "02:00", "end_time": "04:00"}])
    assert not in_window(short, at("03 Dec 26 04:00 +0000"))


def test_any_interval_of_a_window_counts_and_epoch_seconds_are_accepted() -> None:
    w = MaintenanceWindowConfig.model_validate(
        {"name": "w", "intervals": [{"weekdays": ["saturday"]}, {"weekdays": ["sunday"]}]}
    )
    sunday = at("06 Dec 26 12:00 +0000")
    assert in_window(w, sunday)
    assert in_window(w, sunday.timestamp())
    assert not in_window(w, at("07 Dec 26 12:00 +0000"))


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        in_window(window(), dt.datetime(2026, 12, 3, 12, 0))


def test_a_spring_forward_month_is_a_day_short_as_in_alertmanager() -> None:
    """Alertmanager (every release up to 0.29) counts a month's days as elapsed hours / 24,
    truncated, in the window's zone: March in Berlin has 743 hours, so "-1" is the 30th."""
    berlin = window("Europe/Berlin", days_of_month=["-1"])
    march_30 = dt.datetime(2026, 3, 30, 12, tzinfo=dt.UTC)
    march_31 = dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)
    assert days_in_month(march_31.astimezone(_zone("Europe/Berlin"))) == 30
    assert in_window(berlin, march_30)
    assert not in_window(berlin, march_31)
    utc = window("UTC", days_of_month=["-1"])
    assert in_window(utc, march_31)
    assert not in_window(utc, march_30)
    assert days_in_month(dt.datetime(2026, 10, 5, tzinfo=_zone("Europe/Berlin"))) == 31


def _zone(name: str) -> dt.tzinfo:
    import zoneinfo

    return zoneinfo.ZoneInfo(name)
