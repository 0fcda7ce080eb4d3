"""buttress's own checks of ``buttress.yaml`` that need a domain's code, for the validation step.

:mod:`buttress.config` imports no domain package; the checks that need one (building every
named resilience pipeline with the policies' own validation, parsing age recipients, identity
files and restore servers with the backup domain's parsers) are registered with it here, by
the edges that know the domains: the CLI, the embedded degradation controller and the
resilience registry call :func:`register_domain_checks` before they load a file. Each check
imports its domain only when its section has something to check, so a command whose file has
no ``resilience.policies`` never imports the resilience package.
"""

from __future__ import annotations

from buttress.config import ButtressConfig, Problem, register_check

__all__ = ["register_domain_checks"]


def register_domain_checks() -> None:
    """Register buttress's domain checks with :func:`buttress.config.register_check` (again:
    harmless)."""
    register_check("resilience", _resilience)
    register_check("backup", _backup)
    register_check("alerting.presets", _alert_presets)
    register_check("alerting.slos", _slos)
    register_check("alerting.dashboards", _dashboards)
    register_check("incidents.status_page", _status_page)
    register_check("incidents.actions", _incident_actions)
    register_check("runbooks", _runbooks)


def _resilience(config: ButtressConfig, /, *, check_files: bool) -> list[Problem]:
    section = config.resilience
    if not section.policies and section.defaults == type(section.defaults)():
        return []  # nothing to build (and the resilience package is not imported)
    from buttress.resilience.registry import check_config

    return [Problem(path, message) for path, message in check_config(section)]


def _backup(config: ButtressConfig, /, *, check_files: bool) -> list[Problem]:
    section = config.backup
    files = check_files and (section.identity_files or section.passphrase_file)
    if not (section.recipients or section.restore_servers or files):
        return []
    from buttress.backup.config_check import check_backup

    return [
        Problem(path, message) for path, message in check_backup(section, check_files=check_files)
    ]


def _alert_presets(config: ButtressConfig, /, *, check_files: bool) -> list[Problem]:
    presets = config.alerting.presets
    if not (presets.backups.enabled or presets.buttress.enabled or presets.system.enabled):
        return []
    from buttress.alerting.presets import check

    return [Problem(("alerting", "presets", *path), message) for path, message in check(config)]


def _slos(config: ButtressConfig, /, *, check_files: bool) -> list[Problem]:
    if not config.alerting.slos:
        return []
    from buttress.alerting.slo_check import check_slos, runbook_links

    found = check_slos(config.alerting, check_files=check_files) + runbook_links(config)
    return [Problem(path, message) for path, message in found]


def _dashboards(config: ButtressConfig, /, *, check_files: bool) -> list[Problem]:
    if not config.alerting.dashboards.sla:
        return []
    from buttress.alerting.dashboards import sla_problems

    return [Problem(path, message) for path, message in sla_problems(config)]


def _status_page(config: ButtressConfig, /, *, check_files: bool) -> list[Problem]:
    from buttress.config._status_page import unknown_checks  # the config's own: no domain

    known = [check.name for check in config.health.checks]
    return [
        Problem(path, message)
        for path, message in unknown_checks(config.incidents.status_page, known)
    ]


def _incident_actions(config: ButtressConfig, /, *, check_files: bool) -> list[Problem]:
    if not config.incidents.actions:
        return []
    from buttress.incidents.actions_check import check_actions

    return [Problem(path, message) for path, message in check_actions(config)]


def _runbooks(config: ButtressConfig, /, *, check_files: bool) -> list[Problem]:
    if not config.runbooks.all:
        return []
    from buttress.runbooks.config_check import check_runbooks

    return [Problem(path, message) for path, message in check_runbooks(config)]
