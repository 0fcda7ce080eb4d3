"""The error-budget report (``buttress slo report``): per SLO, the SLI over its period, the
budget consumed and remaining, the burn rate now and the time to exhaustion at that burn, with
maintenance windows left out.

Two halves: :func:`compute` is the arithmetic, pure (the numbers and the clock are passed in);
:class:`PrometheusClient` and :func:`fetch_all` read the numbers from Prometheus's HTTP API, from
the SLO recording rules of :mod:`buttress.alerting.labels`.

The arithmetic. The report samples the 5-minute error ratio ``r(t)`` and event rate ``e(t)``
(events per second) every ``step`` seconds over the period ``(end - period, end]``. A point
stands for the ``step`` seconds before it: ``e(t) x step`` events, ``r(t) x e(t) x step`` of
them bad. Points inside an excluded window (maintenance), points without traffic and points
whose ratio is missing or NaN are dropped. Then, over the points kept:

- error ratio ``E = sum(bad) / sum(events)`` (traffic-weighted: a busy hour counts more than a
  quiet one), SLI ``= 1 - E``;
- budget ``B = 1 - objective``; consumed ``= E / B`` (1 is the whole budget), remaining
  ``= 1 - consumed`` (below 0 when overspent);
- burn rate now ``= E_now / B``, ``E_now`` the same ratio over the points of the last
  ``burn_window`` (1 h by default): 1 spends the budget exactly over the period;
- time to exhaustion ``= remaining x period / burn``: at burn ``b`` a fraction ``b / period``
  of the budget goes per second. 0 when the budget is spent, none when nothing burns.

Without an event-rate series (an SLI whose rules record none), every point weighs ``step``
seconds (time-weighted).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from buttress.alerting import labels as lb
from buttress.errors import ButtressError

if TYPE_CHECKING:
    from buttress.config._slo import SLOConfig

__all__ = [
    "BURN_WINDOW",
    "STEP",
    "BudgetReport",
    "PrometheusClient",
    "ReportError",
    "compute",
    "fetch_all",
    "never_excluded",
]

STEP = 300.0
"""Seconds between the points read: the window of the 5m rules, so the points tile the period."""
BURN_WINDOW = 3600.0
"""The burn rate "now" is the one of the last hour's points."""
MAX_POINTS = 10_000
"""Points per range query (Prometheus refuses more than 11,000): longer periods are split."""

Excluded = Callable[[dt.datetime], bool]
"""True for a time inside a maintenance window (its points leave the budget)."""


def never_excluded(ts: dt.datetime, /) -> bool:
    """No maintenance windows: every point counts."""
    return False


class ReportError(ButtressError):
    """Prometheus did not answer, or answered with an error (exit code 1)."""


@dataclass(frozen=True, slots=True)
class BudgetReport:
    """One SLO's error budget over the period that ends at ``end`` (UNIX seconds).

    ``sli``, ``consumed``, ``remaining`` are ``None`` when no point had traffic; ``burn_rate``
    when the last ``burn_window`` had none; ``exhaustion`` (seconds) is ``0.0`` when the budget
    is spent and ``None`` when nothing burns it."""

    slo: str
    service: str
    objective: Decimal
    period: float
    end: float
    sli: float | None
    error_budget: float
    consumed: float | None
    remaining: float | None
    burn_rate: float | None
    exhaustion: float | None
    events: float | None  # events counted (None: time-weighted, no event series)
    bad_events: float | None
    points: int  # points kept
    excluded_points: int  # points dropped for a maintenance window

    def as_dict(self) -> dict[str, Any]:
        """For JSON: the objective as its decimal text, times as ISO 8601 too."""
        data = asdict(self)
        data["objective"] = str(self.objective)
        data["end_time"] = _iso(self.end)
        data["start_time"] = _iso(self.end - self.period)
        return data


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def _usable(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def compute(
    *,
    slo: str,
    service: str,
    objective: Decimal,
    period: float,
    end: float,
    error_ratio: Mapping[float, float],
    events: Mapping[float, float] | None,
    excluded: Excluded = never_excluded,
    step: float = STEP,
    burn_window: float = BURN_WINDOW,
) -> BudgetReport:
    """The budget of one SLO from its points (``{unix seconds: value}``): ``error_ratio`` (bad
    / total over the step), ``events`` (events per second; ``None``: weigh points by time).
    Points outside ``(end - period, end]`` are ignored. See the module's docstring."""
    if not Decimal(0) < objective < Decimal(100):
        raise ValueError(f"objective {objective} is not a percentage between 0 and 100")
    if period <= 0 or step <= 0 or burn_window <= 0:
        raise ValueError("period, step and burn_window must be above 0")
    budget = float(1 - objective / 100)
    total = bad = now_total = now_bad = 0.0
    kept = dropped = 0
    for ts in sorted(error_ratio):
        if not end - period < ts <= end:
            continue
        ratio = error_ratio[ts]
        rate = step if events is None else events.get(ts)
        if not _usable(ratio) or not _usable(rate) or rate is None or rate <= 0:
            continue  # no traffic (0/0 is NaN), or no sample at this step
        if excluded(dt.datetime.fromtimestamp(ts, dt.UTC)):
            dropped += 1
            continue
        weight = rate if events is None else rate * step
        wrong = min(max(ratio, 0.0), 1.0) * weight
        kept += 1
        total += weight
        bad += wrong
        if ts > end - burn_window:
            now_total += weight
            now_bad += wrong
    sli = consumed = remaining = burn = exhaustion = None
    if total > 0:
        ratio_over_period = bad / total
        sli = 1.0 - ratio_over_period
        consumed = ratio_over_period / budget
        remaining = 1.0 - consumed
    if now_total > 0:
        burn = (now_bad / now_total) / budget
    if remaining is not None:
        if remaining <= 0:
            exhaustion = 0.0
        elif burn is not None and burn > 0:
            exhaustion = remaining * period / burn
    weighted = events is not None
    return BudgetReport(
        slo=slo,
        service=service,
        objective=objective,
        period=period,
        end=end,
        sli=sli,
        error_budget=budget,
        consumed=consumed,
        remaining=remaining,
        burn_rate=burn,
        exhaustion=exhaustion,
        events=total if weighted else None,
        bad_events=bad if weighted else None,
        points=kept,
        excluded_points=dropped,
    )


# --- reading Prometheus -------------------------------------------------------------------


class PrometheusClient:
    """Prometheus's HTTP API (``/api/v1/query_range``), with one timeout per request; every
    failure is a :class:`ReportError` naming the server (its password masked)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        import httpx

        from buttress.secrets import mask_url

        self.url = url.rstrip("/")
        self.shown = mask_url(self.url)
        self._client = httpx.Client(base_url=self.url, timeout=timeout)
        self._timeout = timeout

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query_range(
        self, query: str, *, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], dict[float, float]]]:
        """The series of ``query`` evaluated every ``step`` from ``start`` to ``end`` (both
        included), as (labels, {time: value}); split into requests of at most
        :data:`MAX_POINTS` points."""
        merged: dict[tuple[tuple[str, str], ...], dict[float, float]] = {}
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + step * (MAX_POINTS - 1))
            for labels, points in self._range(query, chunk_start, chunk_end, step):
                merged.setdefault(tuple(sorted(labels.items())), {}).update(points)
            chunk_start = chunk_end + step
        return [(dict(key), points) for key, points in merged.items()]

    def _range(
        self, query: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], dict[float, float]]]:
        import httpx

        params = {"query": query, "start": repr(start), "end": repr(end), "step": repr(step)}
        try:
            answer = self._client.post("/api/v1/query_range", data=params)
        except httpx.TimeoutException:
            raise ReportError(
                f"Prometheus at {self.shown} did not answer within {self._timeout:g} s "
                "(alerting.prometheus.timeout)"
            ) from None
        except httpx.HTTPError as exc:
            raise ReportError(
                f"Prometheus at {self.shown} did not answer: {type(exc).__name__}"
            ) from None
        try:
            body = answer.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "status" not in body:
            raise ReportError(
                f"{self.shown} answered HTTP {answer.status_code} without a Prometheus API "
                "response: is it Prometheus's base URL?"
            )
        if body.get("status") != "success":
            raise ReportError(
                f"Prometheus at {self.shown} refused the query {query!r}: "
                f"{body.get('errorType', 'error')}: {body.get('error', 'no message')}"
            )
        data = body.get("data")
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise ReportError(f"Prometheus at {self.shown} answered an unexpected result shape")
        out: list[tuple[dict[str, str], dict[float, float]]] = []
        for series in data.get("result", []):
            values = {float(ts): float(value) for ts, value in series.get("values", [])}
            out.append(({str(k): str(v) for k, v in series.get("metric", {}).items()}, values))
        return out


def _by_slo(
    series: list[tuple[dict[str, str], dict[float, float]]],
) -> dict[str, dict[float, float]]:
    return {labels.get(lb.SLO, ""): points for labels, points in series}


def fetch_all(
    client: PrometheusClient,
    slos: Sequence[SLOConfig],
    *,
    end: float,
    excluded: Excluded = never_excluded,
    step: float = STEP,
) -> list[BudgetReport]:
    """Every SLO's report, in the order given, from its ``slo:sli_error:ratio_rate5m`` and
    ``slo:sli_events:rate5m`` series: two range queries per distinct period (not per SLO),
    each series reduced to one per SLO with ``max by (slo)``, in case several Prometheus
    replicas' copies are federated in."""
    by_period: dict[float, list[SLOConfig]] = {}
    for slo in slos:
        by_period.setdefault(slo.period, []).append(slo)
    read: dict[str, tuple[dict[float, float], dict[float, float] | None]] = {}
    for period, group in by_period.items():
        names = "|".join(slo.name.replace(".", "\\\\.") for slo in group)
        selector = f'{{{lb.SLO}=~"{names}"}}'
        window = {"start": end - period + step, "end": end, "step": step}
        ratios = _by_slo(
            client.query_range(f"max by ({lb.SLO}) ({lb.sli_error_rule('5m')}{selector})", **window)
        )
        rates = _by_slo(
            client.query_range(
                f"max by ({lb.SLO}) ({lb.sli_events_rule('5m')}{selector})", **window
            )
        )
        for slo in group:
            read[slo.name] = (ratios.get(slo.name, {}), rates.get(slo.name))
    return [
        compute(
            slo=slo.name,
            service=slo.service,
            objective=slo.objective,
            period=slo.period,
            end=end,
            error_ratio=read[slo.name][0],
            events=read[slo.name][1],
            excluded=excluded,
            step=step,
        )
        for slo in slos
    ]
