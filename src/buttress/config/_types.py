"""Value types shared by the configuration models: durations, cron expressions, secrets.

Each one's JSON Schema carries ``x-kind`` (``duration``, ``cron``, ``dsn``, ``secret``): an
annotation validators ignore, which the reference generator (:mod:`buttress.docgen`) reads.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Annotated, Any

from annotated_types import Gt
from pydantic import AfterValidator, BeforeValidator, PlainSerializer, SecretStr, WithJsonSchema

from buttress.secrets import MASK, mask_url

__all__ = ["Cron", "Duration", "PositiveDuration", "SecretDsn", "SecretText", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"


def parse_duration(value: Any) -> Any:
    """Turn ``"1h30m"``, ``"500ms"``, ``"60s"`` or a number of seconds into float seconds.

    Values that are neither are passed through for pydantic to reject with its own message.
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30s', '5m' or a number of seconds")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _finite(value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not re.fullmatch(r"(\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+", text):
            raise ValueError(
                f"invalid duration {_clip(value)!r}: use a number of seconds or units ms, s, m, "
                "h, d, w (e.g. '500ms', '30s', '1h30m')"
            )
        return _finite(sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text)))
    return value


def _finite(value: float) -> float:
    try:
        seconds = float(value)
    except OverflowError:  # an int beyond float range
        seconds = math.inf
    if not math.isfinite(seconds):
        raise ValueError("a duration must be a finite number of seconds (not .nan or .inf)")
    return seconds


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:59] + "\u2026"


CRON_FIELDS = "minute hour day-of-month month day-of-week"


def _check_cron(value: str) -> str:
    from croniter import croniter  # deferred: only configs with schedules pay for it

    fields = value.split()
    if len(fields) not in (1, 5, 6) or not croniter.is_valid(value):
        raise ValueError(
            f"invalid cron expression {value!r}: expected five fields ({CRON_FIELDS}, UTC) "
            "or @hourly, @daily, @weekly, @monthly, @yearly"
        )
    return value


def next_fire_times(cron: str, after: datetime.datetime, count: int = 3) -> list[datetime.datetime]:
    """The next ``count`` times ``cron`` fires after ``after`` (UTC)."""
    from croniter import croniter

    it = croniter(cron, after)
    return [it.get_next(datetime.datetime) for _ in range(count)]


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": _DURATION_PATTERN},
            ],
            "description": "seconds, or a duration such as '500ms', '30s', '5m', '1h30m'",
            "x-kind": "duration",
        }
    ),
]
"""A duration in float seconds; YAML may say ``30s``, ``5m``, ``1h30m``, ``500ms`` or a number."""

PositiveDuration = Annotated[
    float,
    BeforeValidator(parse_duration),
    Gt(0),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": _DURATION_PATTERN},
            ],
            "description": "seconds (> 0), or a duration such as '500ms', '30s', '5m', '1h30m'",
            "x-kind": "duration",
        }
    ),
]
"""A :data:`Duration` above zero (the bound written once, so the JSON Schema has it too)."""

Cron = Annotated[
    str,
    AfterValidator(_check_cron),
    WithJsonSchema(
        {
            "type": "string",
            "description": (
                "cron expression, five fields: minute hour day-of-month month day-of-week, in "
                "UTC (e.g. '0 3 * * *': 03:00 every day), or @hourly, @daily, @weekly..."
            ),
            "x-kind": "cron",
        }
    ),
]
"""A five-field cron expression, minute hour day-of-month month day-of-week, UTC (or
``@hourly``, ``@daily``...), checked when loaded. A sixth field (seconds, last, as croniter
reads it) is refused where it is used unless the section opts in (``schedule_seconds``)."""


def refuse_seconds(value: str | None) -> str | None:
    """A schedule fires at most once a minute: a six-field expression is an error naming the
    five fields (croniter reads a sixth as seconds, *last*; Quartz and Spring put them first:
    '42 * * * * *' fired every second of minute 42, 60 backups in a minute)."""
    fields = (value or "").split()
    if len(fields) == 6:
        raise ValueError(
            f"{value!r} has six fields; a schedule has five ({CRON_FIELDS}, in UTC) and fires "
            f"at most once a minute; did you mean {' '.join(fields[:5])!r}? (a sixth field, "
            "seconds, last, needs schedule_seconds: true)"
        )
    return value


SecretDsn = Annotated[
    str,
    PlainSerializer(mask_url, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "uri",
            "description": "DSN; password is masked on display",
            "x-kind": "dsn",
        }
    ),
]
"""A connection URL whose password is masked whenever it is displayed."""

SecretText = Annotated[
    SecretStr,
    PlainSerializer(lambda s: MASK if s.get_secret_value() else "", when_used="json"),
    WithJsonSchema({"type": "string", "writeOnly": True, "x-kind": "secret"}),
]
"""A secret (password, key): held as ``SecretStr``, displayed as ``***``."""
