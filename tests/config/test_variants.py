"""Checks, targets and destinations are kinds (discriminated unions): each kind has its own
fields, and the errors say which kind needs or lacks what, at the line."""

from __future__ import annotations

import pytest

from buttress.config import (
    BackupDestination,
    ConfigError,
    HealthCheckConfig,
    HttpCheckConfig,
    LocalDestinationConfig,
    S3DestinationConfig,
    SqliteTargetConfig,
    load_text,
)


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_text(text, filename="b.yaml", env={})
    return [str(i) for i in info.value.issues]


def test_each_item_is_its_kind() -> None:
    """A loaded item is the model of its kind, and the common base of its list."""
    config = load_text(
        "health:\n  checks: [{name: w, type: http, url: 'http://h/'}]\n"
        "backup:\n  destinations: [{name: a, path: /b}, {name: s, type: s3, bucket: b}]\n"
        "  targets: [{name: t, source: sqlite, path: /t.db}]\n",
        env={},
    )
    (check,) = config.health.checks
    assert isinstance(check, HttpCheckConfig)
    assert isinstance(check, HealthCheckConfig)
    local, s3 = config.backup.destinations
    assert isinstance(local, LocalDestinationConfig)
    assert local.type == "local"
    assert isinstance(s3, S3DestinationConfig)
    assert isinstance(s3, BackupDestination)
    assert isinstance(config.backup.targets[0], SqliteTargetConfig)


def test_a_field_of_another_kind_of_check_is_an_error_at_it() -> None:
    """`url` on a tcp check was silently ignored: now it is an error naming the kinds it
    belongs to."""
    assert issues("health:\n  checks:\n    - {name: a, type: tcp, host: h, port: 1, url: x}\n") == [
        "b.yaml:3:51 health.checks[0].url: `url` does not apply to a tcp check (only http)"
    ]


def test_an_unknown_kind_lists_the_known_ones_at_its_line() -> None:
    """An unknown `type`/`source` is reported at its value, with every kind allowed."""
    assert issues("backup:\n  targets:\n    - {name: t, source: oracle}\n") == [
        "b.yaml:3:25 backup.targets[0].source: unknown target source 'oracle' (one of: "
        "postgresql, mariadb, redis, mongodb, sqlite, directory)"
    ]


def test_a_missing_kind_is_reported_with_the_kinds() -> None:
    """An item without its `type` says the field is missing and what it may be."""
    assert issues("health:\n  checks:\n    - {name: a, url: x}\n") == [
        "b.yaml:3:7 health.checks[0].type: required field is missing (one of: postgresql, "
        "mariadb, redis, s3, http, tcp, disk, custom)"
    ]


def test_every_missing_field_of_a_kind_is_reported() -> None:
    """Each field a kind needs and lacks is named, with the kind."""
    assert issues("health:\n  checks:\n    - {name: a, type: tcp}\n") == [
        "b.yaml:3:7 health.checks[0]: a tcp check needs `host`",
        "b.yaml:3:7 health.checks[0]: a tcp check needs `port`",
    ]


def test_an_unknown_key_of_no_kind_suggests_one_of_its_kind() -> None:
    """A typo of a field of its own kind gets a "did you mean"."""
    (message,) = issues("health:\n  checks:\n    - {name: a, type: http, ulr: x, url: y}\n")
    assert message.endswith("unknown key 'ulr' (did you mean 'url'?)")
