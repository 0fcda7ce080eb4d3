"""Loading buttress.yaml: defaults, values, and every kind of bad input with its position."""

from __future__ import annotations

from pathlib import Path

import pytest

from buttress.config import ButtressConfig, load, load_text
from buttress.errors import ConfigError


def issues(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_text(text, filename="buttress.yaml", env=env or {})
    return [str(i) for i in info.value.issues]


def test_empty_file_gives_defaults() -> None:
    """An empty document is the built-in defaults."""
    assert load_text("", env={}) == ButtressConfig()


def test_defaults_are_documented_values() -> None:
    """The server binds 127.0.0.1:8470 and logs plain text by default."""
    config = ButtressConfig()
    assert (config.server.host, config.server.port, config.server.log_format) == (
        "127.0.0.1",
        8470,
        "plain",
    )
    assert config.catalog.url is None


def test_values_and_durations_are_parsed() -> None:
    """Durations accept units and numbers; nested lists of models are read."""
    config = load_text(
        "server: {port: 9000, shutdown_timeout: 1m30s}\n"
        "catalog: {connect_timeout: 500ms}\n"
        "backup:\n  targets:\n    - {name: main-db, source: postgresql, dsn: 'postgresql:///x',"
        " schedule: '0 3 * * *'}\n",
        env={},
    )
    assert config.server.port == 9000
    assert config.server.shutdown_timeout == 90.0
    assert config.catalog.connect_timeout == pytest.approx(0.5)
    assert config.backup.targets[0].schedule == "0 3 * * *"


def test_malformed_yaml_names_line_and_column() -> None:
    """A YAML syntax error is reported with the line and column of the problem."""
    (message,) = issues("server:\n  port: [1, 2\n  host: x\n")
    assert message.startswith("buttress.yaml:3:")
    assert "invalid YAML" in message


def test_wrong_type_names_field_and_value() -> None:
    """A value of the wrong type names the field path, its position and the value."""
    (message,) = issues("server:\n  port: eighty\n")
    assert message.startswith("buttress.yaml:2:9 server.port:")
    assert "'eighty'" in message


def test_unknown_key_suggests_the_close_one() -> None:
    """A typo in a key is an error with a "did you mean" hint, at the key's position."""
    (message,) = issues("server:\n  prot: 9000\n")
    assert message == "buttress.yaml:2:3 server.prot: unknown key 'prot' (did you mean 'port'?)"


def test_unknown_key_without_close_match_lists_allowed_keys() -> None:
    """Without a close match, the allowed keys are listed."""
    (message,) = issues("catalog:\n  zzz: 1\n")
    assert "allowed keys: auto_migrate, connect_timeout, url" in message


def test_unknown_top_level_section() -> None:
    """An unknown section is an error with a hint."""
    (message,) = issues("resilence: {}\n")
    assert "did you mean 'resilience'?" in message


def test_missing_required_field() -> None:
    """A list item missing a required field is reported at the item."""
    assert issues("backup:\n  targets:\n    - source: redis\n") == [
        "buttress.yaml:3:7 backup.targets[0].name: required field is missing",
        "buttress.yaml:3:7 backup.targets[0]: a redis target needs `dsn`",
    ]


def test_invalid_cron_expression() -> None:
    """A bad cron schedule is named as in the documented example."""
    (message,) = issues(
        "backup:\n  targets:\n    - name: db\n      source: sqlite\n      path: /db.sqlite\n"
        "      schedule: '61 * * * *'\n"
    )
    assert message == (
        "buttress.yaml:6:17 backup.targets[0].schedule: invalid cron expression '61 * * * *'"
        ": expected five fields (minute hour day-of-month month day-of-week, UTC) or @hourly, "
        "@daily, @weekly, @monthly, @yearly"
    )


def test_all_errors_are_reported_at_once() -> None:
    """Every problem in the file is reported, in file order, not only the first."""
    found = issues(
        "server:\n  prot: 1\n  log_format: xml\ncatalog:\n  url: ${NOPE}\nbackup:\n"
        "  targets:\n    - {name: db, source: mysql}\n    - source: redis\n"
    )
    assert len(found) == 6  # prot, log_format, NOPE, mysql, and the redis target's name and dsn
    lines = [int(m.split(":")[1]) for m in found]
    assert lines == sorted(lines)


def test_unset_variable_without_default() -> None:
    """${VAR} with VAR unset is an error naming the variable and how to give a default."""
    (message,) = issues("catalog:\n  url: ${CATALOG_DSN}\n")
    assert message.startswith(
        "buttress.yaml:2:8 catalog.url: environment variable CATALOG_DSN is not set"
    )
    assert "${CATALOG_DSN:-default}" in message


def test_interpolation_fills_values() -> None:
    """${VAR} and ${VAR:-default} are substituted before validation, including numbers."""
    config = load_text(
        "server:\n  port: ${PORT:-9100}\n  host: ${HOST}\n", env={"HOST": "127.0.0.2"}
    )
    assert (config.server.host, config.server.port) == ("127.0.0.2", 9100)


def test_interpolated_values_are_not_echoed_in_errors() -> None:
    """A value from the environment is never printed in an error (it may be a secret)."""
    (message,) = issues("server:\n  port: ${PORT}\n", env={"PORT": "hunter2-secret"})
    assert "hunter2-secret" not in message
    assert "server.port" in message


def test_duplicate_keys_are_errors() -> None:
    """A key given twice is an error instead of a silently lost value."""
    (message,) = issues("server:\n  port: 1\n  port: 2\n")
    assert message.startswith("buttress.yaml:3:3 server.port: duplicate key")


def test_top_level_must_be_a_mapping() -> None:
    """A list at the top level is rejected with a clear message."""
    (message,) = issues("- a\n- b\n")
    assert "top level must be a mapping" in message


def test_bad_duration() -> None:
    """A malformed duration says which units are accepted."""
    (message,) = issues("server:\n  shutdown_timeout: 10 minutes\n")
    assert "invalid duration" in message
    assert "ms, s, m, h, d, w" in message


def test_unreadable_file(tmp_path: Path) -> None:
    """A config file that cannot be read is a ConfigError naming the file."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope.yaml: cannot read config file: No such file"):
        load(missing)


def test_unreadable_directory_as_file(tmp_path: Path) -> None:
    """A directory given as the config file is a clear error, not a traceback."""
    with pytest.raises(ConfigError, match="cannot read config file"):
        load(tmp_path)


def test_env_var_selects_file(tmp_path: Path) -> None:
    """$BUTTRESS_CONFIG names the file when no path is given."""
    path = tmp_path / "b.yaml"
    path.write_text("server: {port: 9200}\n")
    assert load(None, env={"BUTTRESS_CONFIG": str(path)}).server.port == 9200


def test_relative_data_dir_is_relative_to_the_file(tmp_path: Path) -> None:
    """A relative data_dir is resolved against the config file's directory."""
    path = tmp_path / "conf" / "b.yaml"
    path.parent.mkdir()
    path.write_text("data_dir: state\n")
    assert load(path).data_dir == tmp_path / "conf" / "state"
