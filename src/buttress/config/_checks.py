"""The validation step: checks of ``buttress.yaml`` that need a domain's own code.

The models in this package check the shape of the file (types, names, ranges of plain
numbers, references between sections) and import nothing from the domains. What only a domain
can judge (do these settings build a resilience pipeline? is this an age recipient? a
``host:port``?) is a :class:`ConfigCheck` the domain provides: the application registers it
with :func:`register_check` (buttress's own are registered by
:func:`buttress.config_checks.register_domain_checks`, which the CLI, the embedded
degradation controller and the resilience registry call), and :func:`load` runs every
registered check right after the models, so its problems carry the file, line and field like
any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from buttress.config._base import format_path
from buttress.config._root import ButtressConfig
from buttress.errors import ConfigError, ConfigIssue

__all__ = ["ConfigCheck", "Problem", "register_check", "registered_checks", "validate"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem a check found: where (a path from the top of the file, e.g.
    ``("backup", "recipients", 0)``) and what, in one line that echoes no secret."""

    path: tuple[str | int, ...]
    message: str


class ConfigCheck(Protocol):
    """A domain's check of a loaded configuration.

    Called once per load with the whole configuration; returns every problem it finds (an
    empty iterable when there is none) rather than raising. ``check_files`` is true for
    ``buttress config check``: the files the configuration names are read now too.
    """

    def __call__(self, config: ButtressConfig, /, *, check_files: bool) -> Iterable[Problem]: ...


_REGISTERED: dict[str, ConfigCheck] = {}


def register_check(name: str, check: ConfigCheck) -> None:
    """Run ``check`` on every configuration loaded from now on; registering a ``name`` again
    replaces its check (so registering twice is harmless)."""
    _REGISTERED[name] = check


def registered_checks() -> tuple[ConfigCheck, ...]:
    """The checks :func:`register_check` was given, in registration order."""
    return tuple(_REGISTERED.values())


def problems_of(
    config: ButtressConfig, checks: Sequence[ConfigCheck] | None, *, check_files: bool
) -> list[Problem]:
    """Every problem ``checks`` (default: the registered ones) find in ``config``."""
    found: list[Problem] = []
    for check in registered_checks() if checks is None else checks:
        found.extend(check(config, check_files=check_files))
    return found


def validate(
    config: ButtressConfig,
    *,
    check_files: bool = False,
    checks: Sequence[ConfigCheck] | None = None,
) -> None:
    """Run ``checks`` (default: every registered check) on ``config``.

    :func:`load` and :func:`load_text` already do; call it for a configuration built in code,
    or to run checks registered after loading.

    Raises:
        ConfigError: a check found problems; each names the file, line and field when the
            configuration was read from a file.
    """
    found = problems_of(config, checks, check_files=check_files)
    if found:
        raise ConfigError([issue_of(config, p) for p in found])


def issue_of(config: ButtressConfig, problem: Problem) -> ConfigIssue:
    """``problem`` placed in the file ``config`` was read from (line 0 when built in code)."""
    if config._report is not None:
        return config._report(problem.path, problem.message)
    return ConfigIssue(config._filename, 0, 0, format_path(problem.path), problem.message)
