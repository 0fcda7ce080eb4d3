"""Alertmanager routing, receivers, inhibition and maintenance windows (`alerting.alertmanager`).

- ``severities``: the severity tiers (a name and its notification timing), most urgent first;
  an alert's ``severity`` label picks its tier.
- ``receivers``: Slack, email, PagerDuty, a generic webhook, and ``buttress`` (buttress's own
  incident receiver: ``POST <url>/api/v1/alerts/alertmanager`` with a bearer token). A secret is
  given inline (``${VAR}`` from the environment) or as a file Alertmanager reads
  (``*_file``), never both.
- ``routes``: the user's routing tree, in order: matchers (``team``, ``service``,
  ``severity`` shorthands and Alertmanager matchers such as ``env=~"prod|staging"``), a
  receiver, ``continue`` (fan-out) and the maintenance windows that mute it.
- ``inhibitions``: the user's own, naming severity tiers; the built-in ones (an SLO's page
  suppresses its ticket, the most urgent tier the next one for the same service, a
  ``TargetDown`` the alerts of its job and instance) unless ``default_inhibitions: false``.
- ``maintenance_windows``: named Alertmanager time intervals (weekdays, times, days of month,
  months, years, a time zone) that mute the routes naming them.

Cross-references inside the section (a route's receiver and windows, an inhibition's tiers)
are checked here; the burn tiers' severities are checked by ``AlertingConfig``. The parsing of
time-interval members follows Alertmanager 0.25's ``timeinterval`` package exactly (the same
ranges refused, with the same meaning), so that ``buttress.alerting.maintenance.in_window``
agrees with Alertmanager.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from buttress.config._base import NAME_PATTERN, Section, Variant, raise_at
from buttress.config._types import PositiveDuration, SecretText

__all__ = [
    "DEFAULT_SEVERITIES",
    "MIN_VERSION",
    "AlertmanagerConfig",
    "AnyReceiverConfig",
    "ButtressReceiverConfig",
    "EmailReceiverConfig",
    "InhibitionConfig",
    "MaintenanceWindowConfig",
    "Matcher",
    "PagerdutyReceiverConfig",
    "ReceiverConfig",
    "RouteConfig",
    "SeverityConfig",
    "SlackReceiverConfig",
    "TimeIntervalConfig",
    "TimeRangeConfig",
    "WebhookReceiverConfig",
    "parse_matcher",
    "version_tuple",
]

MIN_VERSION = (0, 21)
"""The oldest Alertmanager the generator writes for (``match``/``match_re`` before 0.22)."""

_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.\d+)?$")


def version_tuple(version: str) -> tuple[int, int]:
    """``"0.25"`` (or ``"0.25.0"``) -> ``(0, 25)``."""
    found = _VERSION.fullmatch(version)
    if found is None:
        raise ValueError(f"invalid Alertmanager version {version!r}: expected e.g. '0.25'")
    return int(found[1]), int(found[2])


# ---------------------------------------------------------------------------------------------
# matchers: Alertmanager's `name op "value"` (0.22+), parsed so that older versions get the
# match/match_re maps and the route tests can tell which labels a route takes

_LABEL = r"[A-Za-z_][A-Za-z0-9_]*"
_MATCHER = re.compile(
    rf'^\s*({_LABEL})\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s,{{}}]*))\s*$'
)


class Matcher(tuple[str, str, str]):
    """A parsed label matcher: (name, op, value); :meth:`text` is Alertmanager's syntax."""

    __slots__ = ()

    @property
    def name(self) -> str:
        return self[0]

    @property
    def op(self) -> str:
        return self[1]

    @property
    def value(self) -> str:
        return self[2]

    def text(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'

    def matches(self, labels: dict[str, str]) -> bool:
        """Alertmanager's semantics: a missing label is the empty string; regexes anchored."""
        got = labels.get(self.name, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        found = re.fullmatch(self.value, got) is not None
        return found if self.op == "=~" else not found


def parse_matcher(text: str) -> Matcher:
    """``'team="payments"'``, ``env=~"prod|staging"``, ``service!=checkout`` -> a Matcher."""
    found = _MATCHER.fullmatch(text)
    if found is None:
        raise ValueError(
            f"invalid matcher {text[:80]!r}: expected label, one of = != =~ !~, and a value, "
            'e.g. team="payments" or env=~"prod|staging"'
        )
    name, op, quoted, bare = found.groups()
    value = bare if quoted is None else re.sub(r"\\(.)", _unescape, quoted)
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(
                f"invalid regular expression in matcher {text[:80]!r}: {exc}"
            ) from None
    return Matcher((name, op, value))


def _unescape(found: re.Match[str]) -> str:
    return "\n" if found[1] == "n" else found[1]


def _matchers(values: list[str]) -> list[str]:
    errors: list[tuple[tuple[str | int, ...], str]] = []
    for i, value in enumerate(values):
        try:
            parse_matcher(value)
        except ValueError as exc:
            errors.append(((i,), str(exc)))
    raise_at("matchers", errors)
    return values


# ---------------------------------------------------------------------------------------------
# severity tiers


class SeverityConfig(Section):
    """A severity tier: the value of the ``severity`` label, and how its notifications are
    timed (Alertmanager's group_wait, group_interval, repeat_interval)."""

    name: str = Field(pattern=NAME_PATTERN, description="The `severity` label's value.")
    group_wait: PositiveDuration = Field(description="Wait before a new group's first message.")
    group_interval: PositiveDuration = Field(
        default=300.0, description="Wait before telling a group's new alerts."
    )
    repeat_interval: PositiveDuration = Field(description="Repeat a still-firing group after.")
    receiver: str | None = Field(
        default=None,
        description=(
            "Where this tier's alerts go when no route takes them (default: the root `receiver`)."
        ),
    )


def _severity(name: str, wait: float, repeat: float) -> SeverityConfig:
    return SeverityConfig(name=name, group_wait=wait, group_interval=300.0, repeat_interval=repeat)


DEFAULT_SEVERITIES: tuple[SeverityConfig, ...] = (
    _severity("critical", 10.0, 3600.0),
    _severity("warning", 60.0, 4 * 3600.0),
    _severity("info", 300.0, 12 * 3600.0),
)


# ---------------------------------------------------------------------------------------------
# receivers


class ReceiverConfig(Variant):
    """Base of the receiver kinds (told apart by ``type``)."""

    variant_noun: ClassVar[str] = "receiver"
    variant_key: ClassVar[str] = "type"
    secrets: ClassVar[tuple[str, ...]] = ()
    """The secret fields: each may be given inline or as ``<field>_file``, one required."""

    name: str = Field(pattern=NAME_PATTERN, description="Unique among the receivers.")
    send_resolved: bool = Field(default=True, description="Also tell when an alert resolves.")

    @model_validator(mode="after")
    def _one_of_each_secret(self) -> ReceiverConfig:
        errors: list[tuple[tuple[str | int, ...], str]] = []
        for field in self.secrets:
            inline, path = getattr(self, field), getattr(self, f"{field}_file")
            if inline is not None and path is not None:
                errors.append(((f"{field}_file",), f"give {field} or {field}_file, not both"))
            elif inline is None and path is None:
                errors.append(
                    (
                        (field,),
                        f"a {getattr(self, 'type', '')} receiver needs {field} or {field}_file",
                    )
                )
            elif isinstance(inline, SecretStr) and not inline.get_secret_value():
                errors.append(((field,), f"{field} is empty (is its ${{VAR}} set?)"))
        raise_at("ReceiverConfig", errors)
        return self


_URL = r"^https?://[^\s/?#]+[^\s]*$"


class SlackReceiverConfig(ReceiverConfig):
    """Slack through an incoming-webhook URL (a secret)."""

    type: Literal["slack"]
    secrets: ClassVar[tuple[str, ...]] = ("api_url",)
    api_url: SecretText | None = Field(default=None, description="The webhook URL (secret).")
    api_url_file: str | None = Field(
        default=None, min_length=1, description="A file holding it (Alertmanager 0.22+)."
    )
    channel: str | None = Field(default=None, description="e.g. #ops (default: the webhook's).")
    title: str | None = Field(default=None, description="A Go template (default: Alertmanager's).")
    text: str | None = Field(default=None, description="A Go template (default: Alertmanager's).")


class EmailReceiverConfig(ReceiverConfig):
    """Email through an SMTP relay."""

    type: Literal["email"]
    to: str = Field(min_length=1, description="Recipient address(es), comma-separated.")
    from_: str = Field(alias="from", min_length=1, description="The sender address.")
    smarthost: str = Field(
        pattern=r"^\S+:\d{1,5}$", description="The SMTP relay as host:port, e.g. smtp.example:587."
    )
    auth_username: str | None = None
    auth_password: SecretText | None = Field(default=None, description="SMTP password (secret).")
    auth_password_file: str | None = Field(
        default=None, min_length=1, description="A file holding it (Alertmanager 0.25+)."
    )
    require_tls: bool = True
    send_resolved: bool = Field(default=False, description="Also tell when an alert resolves.")

    @model_validator(mode="after")
    def _password_needs_user(self) -> EmailReceiverConfig:
        if (self.auth_password or self.auth_password_file) and not self.auth_username:
            raise_at(
                "EmailReceiverConfig", [(("auth_username",), "a password needs auth_username")]
            )
        if self.auth_password is not None and self.auth_password_file is not None:
            raise_at(
                "EmailReceiverConfig",
                [(("auth_password_file",), "give auth_password or auth_password_file, not both")],
            )
        return self


class PagerdutyReceiverConfig(ReceiverConfig):
    """PagerDuty Events API v2 through an integration's routing key (a secret)."""

    type: Literal["pagerduty"]
    secrets: ClassVar[tuple[str, ...]] = ("routing_key",)
    routing_key: SecretText | None = Field(default=None, description="Integration key (secret).")
    routing_key_file: str | None = Field(
        default=None, min_length=1, description="A file holding it (Alertmanager 0.25+)."
    )


class WebhookReceiverConfig(ReceiverConfig):
    """Any HTTP endpoint taking Alertmanager's webhook payload (version 4)."""

    type: Literal["webhook"]
    url: str = Field(pattern=_URL, description="Where Alertmanager posts.")
    max_alerts: int = Field(default=0, ge=0, description="At most this many alerts (0: all).")


class ButtressReceiverConfig(ReceiverConfig):
    """buttress's own incident receiver: Alertmanager posts to
    ``<url>/api/v1/alerts/alertmanager`` with a bearer token of the ``operator`` role; buttress
    keeps the notifications as alert history."""

    type: Literal["buttress"]
    secrets: ClassVar[tuple[str, ...]] = ("token",)
    url: str = Field(pattern=_URL, description="buttress's base URL, e.g. http://buttress:8800.")
    token: SecretText | None = Field(default=None, description="An operator API token (secret).")
    token_file: str | None = Field(
        default=None, min_length=1, description="A file holding it (Alertmanager 0.22+)."
    )

    @property
    def webhook_url(self) -> str:
        return self.url.rstrip("/") + "/api/v1/alerts/alertmanager"


AnyReceiverConfig = Annotated[
    SlackReceiverConfig
    | EmailReceiverConfig
    | PagerdutyReceiverConfig
    | WebhookReceiverConfig
    | ButtressReceiverConfig,
    Field(discriminator="type"),
]


# ---------------------------------------------------------------------------------------------
# routes and inhibitions


class RouteConfig(Section):
    """One route under the root: the alerts it takes (every matcher must hold) go to
    ``receiver``; the next routes are tried only with ``continue: true``."""

    team: str | None = Field(default=None, description='Shorthand for the matcher team="...".')
    service: str | None = Field(default=None, description='Shorthand for service="...".')
    severity: list[str] = Field(
        default_factory=list, description="Only these severity tiers (default: every tier)."
    )
    matchers: list[str] = Field(
        default_factory=list, description='Alertmanager matchers, e.g. env=~"prod|staging".'
    )
    receiver: str = Field(description="A receiver's name.")
    continue_: bool = Field(
        default=False, alias="continue", description="Also try the routes after this one."
    )
    group_by: list[str] | None = Field(default=None, description="Default: the root's.")
    mute_time_intervals: list[str] = Field(
        default_factory=list, description="Maintenance windows during which it sends nothing."
    )

    @field_validator("matchers")
    @classmethod
    def _check_matchers(cls, values: list[str]) -> list[str]:
        return _matchers(values)

    def all_matchers(self) -> list[Matcher]:
        """Every condition of this route, shorthands first."""
        found = [
            Matcher((label, "=", v))
            for label, v in (("team", self.team), ("service", self.service))
            if v
        ]
        if len(self.severity) == 1:
            found.append(Matcher(("severity", "=", self.severity[0])))
        elif self.severity:
            found.append(Matcher(("severity", "=~", "|".join(re.escape(s) for s in self.severity))))
        return found + [parse_matcher(m) for m in self.matchers]


class InhibitionConfig(Section):
    """While an alert matching the source fires, alerts matching the target with the same
    values of ``equal`` are not notified."""

    source: str | None = Field(default=None, description="A severity tier of the source.")
    target: str | None = Field(default=None, description="A severity tier of the target.")
    source_matchers: list[str] = Field(
        default_factory=list, description='Alertmanager matchers, e.g. alertname="TargetDown".'
    )
    target_matchers: list[str] = Field(default_factory=list, description="Alertmanager matchers.")
    equal: list[str] = Field(
        default_factory=lambda: ["service"],
        description="Labels both must share (default: service).",
    )

    @field_validator("source_matchers", "target_matchers")
    @classmethod
    def _check_matchers(cls, values: list[str]) -> list[str]:
        return _matchers(values)

    @model_validator(mode="after")
    def _both_sides(self) -> InhibitionConfig:
        errors: list[tuple[tuple[str | int, ...], str]] = []
        if self.source is None and not self.source_matchers:
            errors.append((("source",), "an inhibition needs a source tier or source_matchers"))
        if self.target is None and not self.target_matchers:
            errors.append((("target",), "an inhibition needs a target tier or target_matchers"))
        raise_at("InhibitionConfig", errors)
        return self

    def side(self, which: Literal["source", "target"]) -> list[Matcher]:
        tier = self.source if which == "source" else self.target
        texts = self.source_matchers if which == "source" else self.target_matchers
        found = [Matcher(("severity", "=", tier))] if tier else []
        return found + [parse_matcher(m) for m in texts]


# ---------------------------------------------------------------------------------------------
# maintenance windows (Alertmanager time intervals)

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_CLOCK = re.compile(r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")


def _minutes(text: str) -> int:
    if not _CLOCK.fullmatch(text):
        raise ValueError(f"invalid time {text[:20]!r}: expected HH:MM from 00:00 to 24:00")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _members(
    text: str, what: str, names: tuple[str, ...] = (), numbers: bool = True, first: int = 0
) -> tuple[int, int]:
    """``"monday:friday"`` / ``"3"`` / ``"-7:-1"`` -> an inclusive (begin, end): a name is its
    index in ``names`` plus ``first``; a number is taken as it is when ``numbers``."""
    parts = str(text).lower().split(":")
    if len(parts) > 2:
        raise ValueError(f"invalid {what} range {text!r}: expected one value or begin:end")
    values: list[int] = []
    for part in parts:
        if part in names:
            values.append(names.index(part) + first)
        elif numbers and re.fullmatch(r"-?\d+", part):
            values.append(int(part))
        else:
            raise ValueError(f"{part!r} is not a valid {what}")
    return values[0], values[-1]


class TimeRangeConfig(Section):
    """A time of day, from ``start_time`` (inclusive) to ``end_time`` (exclusive), HH:MM."""

    start_time: str = Field(description="HH:MM, 00:00 to 23:59.")
    end_time: str = Field(description="HH:MM, after start_time, up to 24:00.")

    @model_validator(mode="after")
    def _ordered(self) -> TimeRangeConfig:
        errors: list[tuple[tuple[str | int, ...], str]] = []
        for field in ("start_time", "end_time"):
            try:
                _minutes(getattr(self, field))
            except ValueError as exc:
                errors.append(((field,), str(exc)))
        raise_at("TimeRangeConfig", errors)
        if self.start_minute >= self.end_minute:
            raise_at(
                "TimeRangeConfig",
                [
                    (
                        ("end_time",),
                        f"end_time {self.end_time} is not after start_time {self.start_time} "
                        "(a window across midnight is two ranges: ...-24:00 and 00:00-...)",
                    )
                ],
            )
        return self

    @property
    def start_minute(self) -> int:
        return _minutes(self.start_time)

    @property
    def end_minute(self) -> int:
        return _minutes(self.end_time)


class TimeIntervalConfig(Section):
    """One time interval: a time is in it when every field given holds (a field left out
    holds always); each field is a list of values or inclusive ``begin:end`` ranges."""

    times: list[TimeRangeConfig] = Field(default_factory=list, description="Times of day.")
    weekdays: list[str] = Field(
        default_factory=list, description="e.g. monday:friday, sunday (names only)."
    )
    days_of_month: list[str] = Field(
        default_factory=list, description="1 to 31, or -1 (the last) to -31, e.g. '1:7', '-1'."
    )
    months: list[str] = Field(
        default_factory=list, description="Names or 1 to 12, e.g. january:march, 12."
    )
    years: list[str] = Field(default_factory=list, description="e.g. 2026, '2026:2027'.")

    @field_validator("days_of_month", "months", "years", "weekdays", mode="before")
    @classmethod
    def _as_strings(cls, values: object) -> object:
        if isinstance(values, list):
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in values]
        return values

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, values: list[str]) -> list[str]:
        return _check_ranges(values, _weekday_range)

    @field_validator("days_of_month")
    @classmethod
    def _days(cls, values: list[str]) -> list[str]:
        return _check_ranges(values, _day_range)

    @field_validator("months")
    @classmethod
    def _months(cls, values: list[str]) -> list[str]:
        return _check_ranges(values, _month_range)

    @field_validator("years")
    @classmethod
    def _years(cls, values: list[str]) -> list[str]:
        return _check_ranges(values, _year_range)

    def weekday_ranges(self) -> list[tuple[int, int]]:
        """Sunday is 0, as in Go and Alertmanager."""
        return [_weekday_range(v) for v in self.weekdays]

    def day_ranges(self) -> list[tuple[int, int]]:
        return [_day_range(v) for v in self.days_of_month]

    def month_ranges(self) -> list[tuple[int, int]]:
        return [_month_range(v) for v in self.months]

    def year_ranges(self) -> list[tuple[int, int]]:
        return [_year_range(v) for v in self.years]


def _check_ranges(values: list[str], parse: object) -> list[str]:
    errors: list[tuple[tuple[str | int, ...], str]] = []
    for i, value in enumerate(values):
        try:
            parse(value)  # type: ignore[operator]
        except ValueError as exc:
            errors.append(((i,), str(exc)))
    raise_at("TimeIntervalConfig", errors)
    return values


def _weekday_range(text: str) -> tuple[int, int]:
    begin, end = _members(text, "weekday", WEEKDAYS, numbers=False)
    if begin > end:
        raise ValueError(f"{text!r}: the start day comes after the end day (sunday is first)")
    return begin, end


def _day_range(text: str) -> tuple[int, int]:
    begin, end = _members(text, "day of the month")
    for day in (begin, end):
        if day == 0 or not -31 <= day <= 31:
            raise ValueError(f"{day} is not a valid day of the month: 1 to 31 or -31 to -1")
    if begin < 0 < end:
        raise ValueError(f"{text!r}: the end day must be negative when the start day is")
    if (28 + begin if begin < 0 else begin) > (28 + end if end < 0 else end):
        raise ValueError(f"{text!r}: the end day {end} is always before the start day {begin}")
    return begin, end


def _month_range(text: str) -> tuple[int, int]:
    begin, end = _members(text, "month", MONTHS, first=1)
    for month in (begin, end):
        if not 1 <= month <= 12:
            raise ValueError(f"{month} is not a valid month: 1 to 12 or january to december")
    if begin > end:
        raise ValueError(f"{text!r}: the end month is before the start month")
    return begin, end


def _year_range(text: str) -> tuple[int, int]:
    begin, end = _members(text, "year")
    if not (1 <= begin <= 9999 and 1 <= end <= 9999):
        raise ValueError(f"{text!r}: a year is 1 to 9999")
    if begin > end:
        raise ValueError(f"{text!r}: the end year {end} is before the start year {begin}")
    return begin, end


class MaintenanceWindowConfig(Section):
    """A named time interval (Alertmanager ``time_intervals``): a time is in the window when it
    is in any of ``intervals``, read in ``location``. Routes naming it in
    ``mute_time_intervals`` send nothing meanwhile; ``buttress slo report`` leaves it out of
    the error budget."""

    name: str = Field(pattern=NAME_PATTERN, description="Unique among the windows.")
    location: str = Field(
        default="UTC", description="An IANA time zone, e.g. Europe/Berlin (Alertmanager 0.25+)."
    )
    intervals: list[TimeIntervalConfig] = Field(
        min_length=1, description="A moment in any of them is in the window."
    )

    @field_validator("location")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value[:60]!r}: use an IANA name such as UTC or Europe/Berlin"
            ) from None
        return value


# ---------------------------------------------------------------------------------------------
# the section


class AlertmanagerConfig(Section):
    """The Alertmanager configuration buttress generates (``alertmanager.yml``)."""

    version: str = Field(
        default="0.25",
        description=(
            "The Alertmanager it is written for (0.21 or later): no key that version refuses "
            "is written (matchers 0.22+, time_intervals 0.24+, location and *_file secrets of "
            "email and PagerDuty 0.25+)."
        ),
    )
    receiver: str = Field(
        default="default",
        description=(
            "The root route's receiver (what no route takes); `default`, when no receiver of "
            "that name is declared, is one that notifies nobody."
        ),
    )
    group_by: list[str] = Field(
        default_factory=lambda: ["alertname", "service", "slo"],
        description="The labels alerts are grouped by (default: alertname, service, slo).",
    )
    severities: list[SeverityConfig] = Field(
        default_factory=lambda: list(DEFAULT_SEVERITIES),
        min_length=1,
        description="The severity tiers, most urgent first (default: critical, warning, info).",
    )
    receivers: list[AnyReceiverConfig] = Field(
        default_factory=list, description="Where notifications go, by `type`."
    )
    routes: list[RouteConfig] = Field(
        default_factory=list,
        description="The routing tree under the root, in order (then one route per tier).",
    )
    inhibitions: list[InhibitionConfig] = Field(
        default_factory=list, description="Inhibitions besides the built-in ones."
    )
    default_inhibitions: bool = Field(
        default=True,
        description=(
            "An SLO's page inhibits its tickets, the first severity the second for the same "
            "service, a TargetDown the alerts of its job and instance."
        ),
    )
    maintenance_windows: list[MaintenanceWindowConfig] = Field(
        default_factory=list, description="Named time intervals that mute the routes naming them."
    )

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if version_tuple(value) < MIN_VERSION:
            raise ValueError(
                f"Alertmanager {value} is not supported: buttress writes for 0.21 or later"
            )
        return value

    @property
    def version_info(self) -> tuple[int, int]:
        return version_tuple(self.version)

    @property
    def tier_names(self) -> list[str]:
        return [s.name for s in self.severities]

    def receiver_names(self) -> set[str]:
        return {r.name for r in self.receivers}

    @model_validator(mode="after")
    def _references(self) -> AlertmanagerConfig:
        errors: list[tuple[tuple[str | int, ...], str]] = []
        version = self.version_info

        def unique(kind: str, names: list[str], field: str) -> None:
            seen: set[str] = set()
            for i, name in enumerate(names):
                if name in seen:
                    errors.append(((field, i, "name"), f"{kind} {name!r} is declared twice"))
                seen.add(name)

        unique("severity tier", self.tier_names, "severities")
        unique("receiver", [r.name for r in self.receivers], "receivers")
        unique(
            "maintenance window", [w.name for w in self.maintenance_windows], "maintenance_windows"
        )
        receivers = self.receiver_names()
        tiers = self.tier_names
        windows = {w.name for w in self.maintenance_windows}

        def receiver(loc: tuple[str | int, ...], name: str | None) -> None:
            if name is None or name in receivers or (name == "default" and loc == ("receiver",)):
                return
            errors.append(
                (
                    loc,
                    f"unknown receiver {name!r} "
                    f"(declared: {', '.join(sorted(receivers)) or 'none'})",
                )
            )

        def tier(loc: tuple[str | int, ...], name: str | None) -> None:
            if name is not None and name not in tiers:
                errors.append((loc, f"unknown severity tier {name!r} (tiers: {', '.join(tiers)})"))

        def since(loc: tuple[str | int, ...], what: str, needed: tuple[int, int]) -> None:
            if version < needed:
                errors.append(
                    (
                        loc,
                        f"{what} needs Alertmanager {needed[0]}.{needed[1]} or later "
                        f"(alertmanager.version is {self.version})",
                    )
                )

        receiver(("receiver",), self.receiver)
        for i, severity in enumerate(self.severities):
            receiver(("severities", i, "receiver"), severity.receiver)
        for i, route in enumerate(self.routes):
            receiver(("routes", i, "receiver"), route.receiver)
            for j, name in enumerate(route.severity):
                tier(("routes", i, "severity", j), name)
            for j, name in enumerate(route.mute_time_intervals):
                if name not in windows:
                    errors.append(
                        (
                            ("routes", i, "mute_time_intervals", j),
                            f"unknown maintenance window {name!r} (declared: "
                            f"{', '.join(sorted(windows)) or 'none'})",
                        )
                    )
                since(("routes", i, "mute_time_intervals", j), "muting a route", (0, 22))
            for j, matcher in enumerate(route.matchers):
                if parse_matcher(matcher).op in ("!=", "!~"):
                    since(("routes", i, "matchers", j), "a negative matcher", (0, 22))
            kinds = [(m.name, m.op) for m in route.all_matchers()]
            if len(kinds) != len(set(kinds)):  # match/match_re are maps: one value per label
                since(("routes", i), "two matchers of one kind on one label", (0, 22))
        for i, inhibition in enumerate(self.inhibitions):
            tier(("inhibitions", i, "source"), inhibition.source)
            tier(("inhibitions", i, "target"), inhibition.target)
            for side in ("source_matchers", "target_matchers"):
                for j, matcher in enumerate(getattr(inhibition, side)):
                    if parse_matcher(matcher).op in ("!=", "!~"):
                        since(("inhibitions", i, side, j), "a negative matcher", (0, 22))
        for i, window in enumerate(self.maintenance_windows):
            since(("maintenance_windows", i), "a maintenance window", (0, 22))
            if window.location != "UTC":
                since(("maintenance_windows", i, "location"), "a window's location", (0, 25))
        for i, any_receiver in enumerate(self.receivers):
            for field, needed in (
                ("api_url_file", (0, 22)),
                ("token_file", (0, 22)),
                ("auth_password_file", (0, 25)),
                ("routing_key_file", (0, 25)),
            ):
                if getattr(any_receiver, field, None) is not None:
                    since(("receivers", i, field), field, needed)
        raise_at("AlertmanagerConfig", errors)
        return self
