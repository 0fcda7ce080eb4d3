"""The validation step: checks that need a domain's code run after the models, and their
problems carry the file, line and field like the models' own."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

import buttress.degradation.levels
from buttress.config import (
    LEVEL_PRESETS,
    ButtressConfig,
    ConfigError,
    Problem,
    load_text,
    register_check,
    registered_checks,
    validate,
)


def reserved_port(config: ButtressConfig, /, *, check_files: bool) -> Iterable[Problem]:
    if config.server.port == 9999:
        yield Problem(("server", "port"), "port 9999 is reserved")


def test_a_check_problem_is_placed_at_its_line() -> None:
    """A check's problem names the file, the line and the field of the setting."""
    with pytest.raises(ConfigError) as info:
        load_text("server:\n  port: 9999\n", filename="b.yaml", checks=[reserved_port])
    assert [str(i) for i in info.value.issues] == ["b.yaml:2:9 server.port: port 9999 is reserved"]


def test_checks_run_only_on_a_file_the_models_accept() -> None:
    """A file the models refuse reports the models' problems, and no check runs on it."""
    with pytest.raises(ConfigError) as info:
        load_text("server:\n  port: 9999\n  hots: x\n", filename="b.yaml", checks=[reserved_port])
    assert [i.path for i in info.value.issues] == ["server.hots"]


def test_validate_a_configuration_built_in_code() -> None:
    """validate() runs checks on a configuration that came from no file (no line to name)."""
    config = ButtressConfig.model_validate({"server": {"port": 9999}})
    with pytest.raises(ConfigError) as info:
        validate(config, checks=[reserved_port])
    (issue,) = info.value.issues
    assert (issue.line, issue.path, issue.message) == (0, "server.port", "port 9999 is reserved")
    validate(ButtressConfig(), checks=[reserved_port])  # nothing to report: no error


def test_a_registered_check_runs_on_every_load() -> None:
    """register_check() adds a check to every later load; registering its name again
    replaces it."""
    register_check("test-reserved-port", reserved_port)
    try:
        assert reserved_port in registered_checks()
        with pytest.raises(ConfigError, match="port 9999 is reserved"):
            load_text("server: {port: 9999}\n")
    finally:
        register_check("test-reserved-port", lambda config, /, *, check_files: ())
    load_text("server: {port: 9999}\n")


def test_a_policy_limit_is_checked_once_by_the_policy_at_the_setting_line() -> None:
    """`attempts: 0` passes the YAML model (which repeats no limit) and is refused by the retry
    policy's own options, reported at the line and field of the setting."""
    text = "resilience:\n  defaults:\n    retry: {attempts: 0}\n"
    assert load_text(text, checks=()).resilience.defaults.retry is not None
    with pytest.raises(ConfigError) as info:
        load_text(text, filename="b.yaml")
    assert [str(i) for i in info.value.issues] == [
        "b.yaml:3:23 resilience.defaults.retry.attempts: defaults, retry: retry attempts=0: "
        "expected an integer >= 1"
    ]


def test_a_policy_limit_set_in_defaults_is_reported_there() -> None:
    """A limit a named policy inherits is reported at the defaults' line, naming the policy."""
    text = (
        "resilience:\n  defaults:\n    circuit_breaker: {minimum_calls: 0}\n"
        "  policies:\n    db: {circuit_breaker: {wait: 5s}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_text(text, filename="b.yaml")
    (issue,) = info.value.issues
    assert (issue.line, issue.path) == (3, "resilience.defaults.circuit_breaker.minimum_calls")
    assert issue.message.startswith("policy 'db', circuit_breaker: circuit breaker minimum_calls=0")


def test_level_presets_are_one_table() -> None:
    """The configuration and the degradation levels read the same presets."""
    assert buttress.degradation.levels.PRESETS is LEVEL_PRESETS


def test_a_configuration_built_in_code_is_checked_when_it_configures_the_registry() -> None:
    """registry.configure() runs the policies' checks on a configuration that skipped load(),
    so a bad setting fails there, naming it, rather than at the first call."""
    from buttress.config import ResilienceConfig
    from buttress.resilience import registry

    bad = ResilienceConfig.model_validate({"policies": {"db": {"retry": {"attempts": 0}}}})
    with pytest.raises(ConfigError) as info:
        registry.configure(bad)
    (issue,) = info.value.issues
    assert issue.path == "resilience.policies.db.retry.attempts"
    assert "expected an integer >= 1" in issue.message


def test_a_check_never_echoes_a_value_from_the_environment() -> None:
    """A check that quotes the value it refuses shows "(the value)" for one a ${VAR} gave."""
    with pytest.raises(ConfigError) as info:
        load_text(
            "backup:\n  restore_servers: ['${SERVER}']\n",
            filename="b.yaml",
            env={"SERVER": "secret-host"},
        )
    (issue,) = info.value.issues
    assert "secret-host" not in str(issue)
    assert "(the value)" in issue.message
