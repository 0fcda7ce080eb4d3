"""``incidents.oncall`` config errors: each names its file:line, the field path and the name
that is wrong."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from buttress.config import load
from buttress.errors import ConfigError

HEAD = "incidents:\n  oncall:\n    users:\n      alice: {email: alice@example.com}\n"


def problems(tmp_path: Path, text: str) -> list[str]:
    """The issues of loading ``text`` from a file, as printed, with the file's name shortened."""
    path = tmp_path / "buttress.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path, env={})
    return [str(i).replace(str(path), "buttress.yaml") for i in caught.value.issues]


def test_the_example_config_loads_with_every_field(tmp_path: Path) -> None:
    """Users, teams and a schedule with a restricted layer and an override load; times without
    an offset are the schedule's local time, dates alone are midnight."""
    path = tmp_path / "buttress.yaml"
    path.write_text(
        "incidents:\n  oncall:\n    users:\n"
        "      alice: {email: alice@example.com, slack: U012AB3CD, phone: '+4412345',"
        " time_zone: Europe/London}\n"
        "      bob: {email: bob@example.com}\n"
        "    teams:\n      dba: {members: [alice, bob], schedule: dba-primary}\n"
        "    schedules:\n      dba-primary:\n        time_zone: Europe/Berlin\n"
        "        layers:\n          - name: primary\n            users: [alice, bob]\n"
        "            rotation: weekly\n            start: 2026-01-05T09:00\n"
        "            restrict:\n"
        '              - {days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00"}\n'
        "        overrides:\n"
        "          - {user: bob, start: 2026-03-01, end: 2026-03-02T00:00+01:00}\n",
        encoding="utf-8",
    )
    config = load(path, env={}).incidents.oncall
    schedule = config.schedules["dba-primary"]
    assert schedule.layers[0].rotation_length() == dt.timedelta(days=7)
    assert schedule.layers[0].restrict[0].minutes() == (540, 1080)
    assert schedule.aware(schedule.overrides[0].start) == dt.datetime(
        2026, 2, 28, 23, tzinfo=dt.UTC
    )
    assert schedule.aware(schedule.overrides[0].end) == dt.datetime(2026, 3, 1, 23, tzinfo=dt.UTC)
    assert config.teams["dba"].members == ["alice", "bob"]


def test_unknown_names_are_errors_at_the_entry_that_names_them(tmp_path: Path) -> None:
    """A team member, layer user, override user or team schedule that does not exist is an
    error at its own line, naming it and what refers to it."""
    found = problems(
        tmp_path,
        HEAD + "    teams:\n"
        "      dba:\n        members: [alice, carol]\n        schedule: dba-primry\n"
        "    schedules:\n      dba-primary:\n        layers:\n"
        "          - name: primary\n            users: [alice, dave]\n"
        "            rotation: daily\n            start: 2026-01-05T09:00\n"
        "        overrides:\n          - {user: eve, start: 2026-03-01, end: 2026-03-02}\n",
    )
    assert found == [
        "buttress.yaml:7:26 incidents.oncall.teams.dba.members[1]: unknown user 'carol' in "
        "team 'dba' (known: alice)",
        "buttress.yaml:8:19 incidents.oncall.teams.dba.schedule: unknown schedule 'dba-primry' "
        "for team 'dba' (did you mean 'dba-primary'?)",
        "buttress.yaml:13:28 incidents.oncall.schedules.dba-primary.layers[0].users[1]: unknown "
        "user 'dave' in layer 'primary' of schedule 'dba-primary' (known: alice)",
        "buttress.yaml:17:20 incidents.oncall.schedules.dba-primary.overrides[0].user: unknown "
        "user 'eve' in an override of schedule 'dba-primary' (known: alice)",
    ]


def test_an_invalid_time_zone_names_its_path(tmp_path: Path) -> None:
    """A time zone that is not an IANA name is an error at the schedule's (or user's) field."""
    found = problems(
        tmp_path,
        "incidents:\n  oncall:\n    users:\n      alice: {time_zone: Mars/Olympus}\n"
        "    schedules:\n      s:\n        time_zone: Europe/Berlinn\n        layers:\n"
        "          - {name: l, users: [alice], rotation: daily, start: 2026-01-01T00:00}\n",
    )
    assert found[0].startswith(
        "buttress.yaml:4:26 incidents.oncall.users.alice.time_zone: unknown time zone "
        "'Mars/Olympus'"
    )
    assert found[1].startswith(
        "buttress.yaml:7:20 incidents.oncall.schedules.s.time_zone: unknown time zone "
        "'Europe/Berlinn': use an IANA name such as 'Europe/Berlin'"
    )


@pytest.mark.parametrize(
    ("layer", "where", "message"),
    [
        (
            "{name: l, users: [], rotation: daily, start: 2026-01-01T00:00}",
            "layers[0].users",
            "at least 1 item",
        ),
        (
            "{name: l, users: [alice], rotation: 30s, start: 2026-01-01T00:00}",
            "layers[0].rotation",
            "a rotation is at least 1 minute",
        ),
        (
            "{name: l, users: [alice], rotation: fortnightly, start: 2026-01-01T00:00}",
            "layers[0].rotation",
            "expected daily, weekly or a duration",
        ),
        (
            "{name: l, users: [alice], rotation: daily, start: 2026-01-01T00:00,"
            " restrict: [{from: '09:00', to: 18:00}]}",
            "layers[0].restrict[0].to",
            'write times of day in quotes, e.g. "17:00"',
        ),
        (
            "{name: l, users: [alice], rotation: daily, start: 2026-01-01T00:00,"
            " restrict: [{from: '9am', to: '18:00'}]}",
            "layers[0].restrict[0].from",
            "invalid time of day '9am'",
        ),
        (
            "{name: l, users: [alice], rotation: daily, start: 2026-01-01T00:00,"
            " restrict: [{days: [funday], from: '09:00', to: '18:00'}]}",
            "layers[0].restrict[0].days[0]",
            "'mon'",
        ),
    ],
)
def test_bad_layers_are_errors(tmp_path: Path, layer: str, where: str, message: str) -> None:
    """Empty users, a rotation under a minute or unknown, a time of day unquoted or malformed,
    an unknown day: an error at the layer's field."""
    (found,) = problems(
        tmp_path,
        HEAD + "    schedules:\n      s:\n        layers:\n" + f"          - {layer}\n",
    )
    assert found.startswith("buttress.yaml:8:")
    assert f"incidents.oncall.schedules.s.{where}:" in found
    assert message in found


def test_an_override_that_ends_before_it_starts_is_an_error(tmp_path: Path) -> None:
    """end <= start (compared in the schedule's zone, offsets honoured) is an error at end."""
    (found,) = problems(
        tmp_path,
        HEAD + "    schedules:\n      s:\n        time_zone: Europe/Berlin\n        layers:\n"
        "          - {name: l, users: [alice], rotation: daily, start: 2026-01-01T00:00}\n"
        "        overrides:\n"
        "          - user: alice\n            start: 2026-03-01T01:00\n"
        "            end: 2026-03-01T00:00+00:00\n",
    )
    assert found == (
        "buttress.yaml:13:18 incidents.oncall.schedules.s.overrides[0].end: an override's end "
        "must be after its start"
    )


def test_duplicate_layer_names_and_empty_teams_are_errors(tmp_path: Path) -> None:
    """Two layers of one name, and a team with neither members nor schedule."""
    found = problems(
        tmp_path,
        HEAD + "    teams:\n      t: {}\n    schedules:\n      s:\n        layers:\n"
        "          - {name: l, users: [alice], rotation: daily, start: 2026-01-01T00:00}\n"
        "          - {name: l, users: [alice], rotation: daily, start: 2026-01-01T00:00}\n",
    )
    assert found[0].startswith("buttress.yaml:6:10 incidents.oncall.teams.t: ")
    assert "a team needs members or a schedule" in found[0]
    assert found[1].startswith("buttress.yaml:11:20 incidents.oncall.schedules.s.layers[1].name:")
    assert "layer name 'l' is used twice" in found[1]
