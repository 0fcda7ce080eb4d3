"""`buttress slo report` against a real Prometheus: a week of synthetic SLO rule series is
backfilled into its data directory with `promtool tsdb create-blocks-from openmetrics` before
it starts (on a free port), and the report's numbers are the ones worked out by hand."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from buttress.alerting import labels, tools
from buttress.alerting.report import PrometheusClient, ReportError
from buttress.cli import main
from tests.alerting.stack import start_prometheus

STEP = 300
PERIOD = 7 * 86400
N = PERIOD // STEP  # 2016 points of 5 min in the week
END = (int(time.time()) // 3600) * 3600 - 3600  # a whole hour, an hour ago
POINTS = [END - PERIOD + STEP * k for k in range(1, N + 1)]
LAST_HOUR = [t for t in POINTS if t > END - 3600]  # 12 points

CONFIG = """
alerting:
  slos:
    - name: checkout
      service: shop
      objective: 99.9
      period: 7d
      sli:
        kind: ratio
        errors: sum(rate(http_requests_total{code=~"5.."}[$window]))
        total: sum(rate(http_requests_total[$window]))
    - name: search.v2
      service: shop
      objective: 99
      period: 14d
      sli: {kind: threshold, expr: 'up{job="search"}'}
"""

# The week of `checkout` (99.9 %: budget 0.001), 2 events/s throughout: error ratio 0.0005
# for 2004 points, then 0.01 over the last hour (12 points). Each point is 600 events.
#   bad = (2004 x 0.0005 + 12 x 0.01) x 600 = 673.2 of 2016 x 600 = 1,209,600 events
#   E = 673.2 / 1209600 = 1.122 / 2016 = 0.000556547...; SLI = 0.999443452...
#   consumed = E / 0.001 = 0.556547...; remaining = 894 / 2016 = 0.443452...
#   burn (last hour) = 0.01 / 0.001 = 10
#   exhaustion = remaining x 7 d / 10 = 894/2016 x 604800 / 10 = 26820 s (7 h 27 min)
# `search.v2` (a period of its own: read by a query of its own) has no series at all: its
# numbers are unknown.


def _openmetrics() -> str:
    selector = '{slo="checkout",service="shop"}'
    error = labels.sli_error_rule("5m")
    events = labels.sli_events_rule("5m")
    lines = [f"# TYPE {error} gauge"]
    lines += [f"{error}{selector} {0.01 if t in LAST_HOUR else 0.0005} {t}" for t in POINTS]
    lines.append(f"# TYPE {events} gauge")
    lines += [f"{events}{selector} 2 {t}" for t in POINTS]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def running_prometheus(root: Path, history: str) -> Iterator[str]:
    """A Prometheus whose data directory holds ``history`` (OpenMetrics text with timestamps,
    backfilled by promtool before it starts), on a free port of 127.0.0.1; its URL. Stopped
    by PID on exit. (tests/alerting/test_dash_prometheus.py uses it too.)"""
    source = root / "history.om"
    source.write_text(history)
    data = root / "data"
    made = tools.run(
        "promtool",
        ["tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=720h",
         str(source), str(data)],
    )  # fmt: skip
    assert made.ok, made.output
    with start_prometheus(
        root, {"global": {}}, extra=("--storage.tsdb.retention.time=100y",)
    ) as prometheus:
        yield prometheus.url


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus with the backfilled week."""
    with running_prometheus(tmp_path_factory.mktemp("prometheus"), _openmetrics()) as url:
        yield url


def report(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    config = tmp_path / "buttress.yaml"
    config.write_text(CONFIG)
    code = main(["--config", str(config), "slo", "report", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_report_reads_the_budget_from_prometheus(
    prometheus: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The JSON report of the backfilled week has the hand-computed numbers."""
    code, out, err = report(
        tmp_path, capsys, "--prometheus", prometheus, "--at", str(END), "--format", "json"
    )
    assert code == 0, err
    checkout, search = json.loads(out)
    assert checkout["slo"] == "checkout"
    assert checkout["points"] == N
    assert checkout["events"] == pytest.approx(1_209_600)
    assert checkout["bad_events"] == pytest.approx(673.2)
    assert checkout["sli"] == pytest.approx(1 - 1.122 / 2016)
    assert checkout["consumed"] == pytest.approx(1.122 / 2016 / 0.001)
    assert checkout["remaining"] == pytest.approx(894 / 2016)
    assert checkout["burn_rate"] == pytest.approx(10)
    assert checkout["exhaustion"] == pytest.approx(26820)
    assert checkout["objective"] == "99.9"
    assert search["slo"] == "search.v2"
    assert search["sli"] is None
    assert search["points"] == 0


def test_an_excluded_window_leaves_the_budget(
    prometheus: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the last hour excluded (a maintenance window) only the 0.0005 points count:
    consumed 0.5 exactly, and nothing is known to burn now."""
    window = f"{END - 3599}/{END + 1}"
    code, out, err = report(
        tmp_path, capsys, "--prometheus", prometheus, "--at", str(END), "--format", "json",
        "--exclude", window,
    )  # fmt: skip
    assert code == 0, err
    checkout = json.loads(out)[0]
    assert checkout["excluded_points"] == len(LAST_HOUR) == 12
    assert checkout["consumed"] == pytest.approx(0.5)
    assert checkout["sli"] == pytest.approx(0.9995)
    assert checkout["burn_rate"] is None
    assert checkout["exhaustion"] is None


def test_the_table_shows_each_slo(
    prometheus: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default table: one row per SLO, the numbers rounded for reading."""
    code, out, err = report(tmp_path, capsys, "--prometheus", prometheus, "--at", str(END))
    assert code == 0, err
    (row,) = [line for line in out.splitlines() if "checkout" in line]
    for cell in ("99.9 %", "7d", "99.9443 %", "55.7 %", "44.3 %", "10.00x", "7h27m"):
        assert cell in row, (cell, row)
    (search,) = [line for line in out.splitlines() if "search.v2" in line]
    assert "n/a (no traffic)" in search


def test_a_refused_query_is_a_report_error(prometheus: str) -> None:
    """Prometheus's own error for a query it cannot parse reaches the user."""
    with (
        PrometheusClient(prometheus, timeout=5) as client,
        pytest.raises(ReportError, match=r"refused the query 'sum\(': bad_data: .*parse error"),
    ):
        client.query_range("sum(", start=END - 600, end=END, step=300)


def test_a_long_period_is_read_in_several_requests(prometheus: str) -> None:
    """More points than one request may ask for (Prometheus's limit is 11,000) are split into
    chunks and put back together: a 1-minute step over the week is 10,080 points, of which
    the first 4 are before the first sample (at END - 7 d + 5 min)."""
    with PrometheusClient(prometheus, timeout=10) as client:
        series = client.query_range(
            f"max by (slo) ({labels.sli_events_rule('5m')})",
            start=END - PERIOD + 60,
            end=END,
            step=60,
        )
    ((_, points),) = series
    assert len(points) == PERIOD // 60 - 4 == 10_076  # more than one 10,000-point request
    assert set(points.values()) == {2.0}


def _last_hour_window() -> str:
    """``alerting.alertmanager.maintenance_windows`` YAML holding (END - 3600, END] in UTC,
    one interval per calendar day it touches (a time range cannot cross midnight)."""
    start = dt.datetime.fromtimestamp(END - 3540, dt.UTC)  # whole minutes: HH:01
    stop = dt.datetime.fromtimestamp(END + 60, dt.UTC)  # the range's end is exclusive
    intervals = []
    day = start
    while day < stop:
        midnight = (day + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0)
        end = min(stop, midnight)
        end_time = "24:00" if end == midnight else end.strftime("%H:%M")
        intervals.append(
            f"          - {{years: ['{day.year}'], months: ['{day.month}'], "
            f"days_of_month: ['{day.day}'], times: [{{start_time: '{day.strftime('%H:%M')}', "
            f"end_time: '{end_time}'}}]}}"
        )
        day = end
    return (
        "  alertmanager:\n    maintenance_windows:\n      - name: upgrade\n"
        "        intervals:\n" + "\n".join(intervals) + "\n"
    )


def test_a_configured_maintenance_window_leaves_the_budget(
    prometheus: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same hour as a maintenance window of the configuration (what Alertmanager mutes)
    instead of --exclude: the same numbers."""
    config = tmp_path / "buttress.yaml"
    assert "alerting:\n" in CONFIG
    config.write_text(CONFIG.replace("alerting:\n", "alerting:\n" + _last_hour_window(), 1))
    code = main(
        ["--config", str(config), "slo", "report", "--prometheus", prometheus, "--at", str(END),
         "--format", "json"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    checkout = json.loads(captured.out)[0]
    assert checkout["excluded_points"] == len(LAST_HOUR) == 12
    assert checkout["consumed"] == pytest.approx(0.5)
    assert checkout["burn_rate"] is None
