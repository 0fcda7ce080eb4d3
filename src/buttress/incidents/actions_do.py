"""What each automated action does (``incidents.actions[].do``), through the same service code
the API and the CLI use: a degradation override in the catalog, a forced breaker in the
control plane's resilience registry, a backup or restore test started in the background, a
webhook sent like the webhook notifier's.

:meth:`Doer.describe` says what an action would do (the dry run); :meth:`Doer.do` does it and
returns what it did, or raises :class:`ActionError` (its message is safe to show: no secret).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from buttress.catalog import Catalog, audit
from buttress.config._incident_actions import (
    ActionRule,
    BackupActionConfig,
    BreakerActionConfig,
    DegradationActionConfig,
    RestoreTestActionConfig,
    RunbookActionConfig,
    WebhookActionConfig,
)
from buttress.config._notifiers import template_environment
from buttress.errors import ButtressError
from buttress.incidents.notify.channel import DeliveryError, http_send, scrub, shown_url

if TYPE_CHECKING:
    from jinja2 import Template

    from buttress.config import ButtressConfig
    from buttress.resilience import Pipeline
    from buttress.resilience.registry import PolicyRegistry

__all__ = ["ActionError", "Doer", "Facts"]

log = logging.getLogger("buttress.incidents")


class ActionError(ButtressError):
    """An action failed; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What an action knows of its incident (read in the transaction that decided to run)."""

    id: int
    ref: str
    title: str
    severity: str
    status: str
    services: list[str]
    impact: str
    labels: dict[str, str]
    url: str | None = None

    @property
    def actor(self) -> str:
        """Who the changes are made as: ``incident:INC-2026-0042``."""
        return f"incident:{self.ref}"

    def context(self, rule: ActionRule) -> dict[str, Any]:
        """What a webhook body template sees."""
        incident = {
            "ref": self.ref,
            "title": self.title,
            "severity": self.severity,
            "status": self.status,
            "services": list(self.services),
            "impact": self.impact,
            "labels": dict(self.labels),
            "url": self.url,
        }
        return {"incident": incident, "rule": rule.name, "status": self.status}


def _execute(runs: Any, run_id: int) -> None:
    try:
        runs.execute(run_id)
    except Exception:
        log.exception("run %s of a runbook could not be executed", run_id)


def _hold(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


@dataclass
class Doer:
    """Carries out the actions of one control plane.

    Args:
        catalog: where overrides, backup runs and audit records go.
        config: the whole configuration (the actions use other sections).
        policies: the control plane's resilience registry (the one its API forces), asked for
            when a breaker or a webhook with a ``policy`` needs it.
        background: runs a backup or restore test (default: a daemon thread).
    """

    catalog: Catalog
    config: ButtressConfig
    policies: Callable[[], PolicyRegistry] | None = None
    background: Callable[[str, Callable[[], None]], None] | None = None
    _pipelines: dict[str, Pipeline] = field(default_factory=dict)
    _templates: dict[str, Template | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def describe(self, rule: ActionRule, facts: Facts) -> str:
        """What ``rule`` would do for the incident, in one line."""
        do = rule.do
        if isinstance(do, DegradationActionConfig):
            return f"hold degradation level {do.level} for {_hold(do.for_)}"
        if isinstance(do, BreakerActionConfig):
            return f"force the circuit breaker of resilience policy {do.policy} {do.state}"
        if isinstance(do, BackupActionConfig):
            return f"back up target {do.target}"
        if isinstance(do, RestoreTestActionConfig):
            return f"restore-test the newest good backup of target {do.target}"
        if isinstance(do, RunbookActionConfig):
            return f"{'dry-run' if do.dry_run else 'run'} runbook {do.runbook}"
        return f"{do.method} {shown_url(do.url.get_secret_value().strip())}"

    def do(self, rule: ActionRule, facts: Facts) -> tuple[str, dict[str, Any]]:
        """Carry ``rule``'s action out; what was done, and its details.

        Raises:
            ActionError: it failed (the message is safe to show).
        """
        do = rule.do
        try:
            if isinstance(do, DegradationActionConfig):
                return self._level(rule, do, facts)
            if isinstance(do, BreakerActionConfig):
                return self._breaker(do, facts)
            if isinstance(do, BackupActionConfig):
                return self._backup(do, facts)
            if isinstance(do, RestoreTestActionConfig):
                return self._restore_test(do, facts)
            if isinstance(do, RunbookActionConfig):
                return self._runbook(rule, do, facts)
            return self._webhook(rule, do, facts)
        except ActionError:
            raise
        except ButtressError as exc:
            raise ActionError(scrub(str(exc), ())) from None

    # -- degradation -------------------------------------------------------------------

    def _level(
        self, rule: ActionRule, do: DegradationActionConfig, facts: Facts
    ) -> tuple[str, dict[str, Any]]:
        from buttress.degradation import overrides

        section = self.config.health.degradation
        names = section.names if section is not None else []
        if do.level not in names:
            raise ActionError(
                f"unknown level {do.level!r}; the levels are {', '.join(names) or 'none'}"
            )
        reason = do.reason or f"{facts.ref} ({facts.severity}): rule {rule.name}"
        with self.catalog.begin() as session:
            record = overrides.create(
                session=session, level=do.level, reason=reason, seconds=do.for_, actor=facts.actor
            )
            audit.record(
                session=session, actor=facts.actor, action="level.override",
                target=f"level={do.level}", outcome="success",
                detail={"for_seconds": do.for_, "reason": record.reason, "rule": rule.name},
            )  # fmt: skip
        what = f"held degradation level {do.level} until {record.expires_at:%Y-%m-%d %H:%M:%S} UTC"
        return what, {
            "override": record.id,
            "level": do.level,
            "expires_at": str(record.expires_at),
        }

    # -- resilience --------------------------------------------------------------------

    def _registry(self) -> PolicyRegistry:
        if self.policies is None:
            raise ActionError("no resilience registry in this process")
        return self.policies()

    def _breaker(self, do: BreakerActionConfig, facts: Facts) -> tuple[str, dict[str, Any]]:
        from buttress.resilience.circuit_breaker import CircuitBreaker

        try:
            pipeline = self._registry().get(do.policy)
        except KeyError as exc:  # UnknownPolicyError
            raise ActionError(str(exc.args[0] if exc.args else exc)) from None
        breaker = next((p for p in pipeline.policies if isinstance(p, CircuitBreaker)), None)
        if breaker is None:
            raise ActionError(f"resilience policy {do.policy!r} has no circuit breaker")
        if do.state == "open":
            breaker.force_open()
        else:
            breaker.force_closed()
        with self.catalog.begin() as session:
            audit.record(
                session=session, actor=facts.actor, action="resilience.breaker",
                target=f"policy={do.policy}", outcome="success",
                detail={"action": f"force_{do.state}"},
            )  # fmt: skip
        return f"forced the circuit breaker of {do.policy} {do.state}", {"state": breaker.state}

    # -- backup ------------------------------------------------------------------------

    def _start(self, name: str, work: Callable[[], None]) -> None:
        if self.background is not None:
            self.background(name, work)
        else:
            threading.Thread(target=work, name=name, daemon=True).start()

    def _backup(self, do: BackupActionConfig, facts: Facts) -> tuple[str, dict[str, Any]]:
        from buttress.backup.service import Backups

        backups = Backups(self.config.backup, self.catalog)
        trigger = facts.actor
        backup_id = backups.start(do.target, trigger=trigger)

        def work() -> None:
            try:
                backups.run(do.target, backup_id, trigger=trigger)
            except ButtressError as exc:
                log.error("backup %s of %s failed: %s", backup_id, do.target, exc)
            except Exception:
                log.exception("backup %s of %s failed unexpectedly", backup_id, do.target)

        self._start(f"buttress-backup-{do.target}", work)
        with self.catalog.begin() as session:
            audit.record(
                session=session, actor=facts.actor, action="backup.run", outcome="success",
                target=f"target={do.target},backup_id={backup_id}", detail={"trigger": trigger},
            )  # fmt: skip
        return f"started backup {backup_id} of {do.target}", {"backup_id": backup_id}

    def _restore_test(
        self, do: RestoreTestActionConfig, facts: Facts
    ) -> tuple[str, dict[str, Any]]:
        from buttress.backup.service import Backups

        backups = Backups(self.config.backup, self.catalog)
        good = next((r for r in backups.runs(do.target) if r.status == "succeeded"), None)
        if good is None:
            raise ActionError(f"target {do.target} has no good backup to restore-test")
        _view, job = backups.start_check(good.id, restore=True)

        def work() -> None:
            try:
                backups.check(good.id, restore=True, job=job)
            except Exception:
                log.exception("restore test of backup %s could not be recorded", good.id)

        self._start(f"buttress-verify-{good.id}", work)
        with self.catalog.begin() as session:
            audit.record(
                session=session, actor=facts.actor, action="backup.verify", outcome="success",
                target=f"backup_id={good.id}", detail={"restore_test": True},
            )  # fmt: skip
        return f"started a restore test of backup {good.id} of {do.target}", {"backup_id": good.id}

    # -- runbook -----------------------------------------------------------------------

    def _runbook(
        self, rule: ActionRule, do: RunbookActionConfig, facts: Facts
    ) -> tuple[str, dict[str, Any]]:
        from buttress.runbooks.runs import Runbooks, engine_factory

        context = facts.context(rule)
        params = {}
        for key, text in do.params.items():
            try:
                params[key] = template_environment().from_string(text).render(context)
            except Exception as exc:  # noqa: BLE001  # a template error is a failed action
                raise ActionError(
                    f"parameter {key} of runbook {do.runbook}: {type(exc).__name__}: {exc}"
                ) from None
        runs = Runbooks(
            self.config, self.catalog, engine_factory(self.config, self.catalog, self.policies)
        )
        run_id = runs.start(do.runbook, params, facts.actor, dry_run=do.dry_run)
        self._start(f"buttress-runbook-run-{run_id}", lambda: _execute(runs, run_id))
        verb = "dry run" if do.dry_run else "run"
        return f"started {verb} {run_id} of runbook {do.runbook}", {"run_id": run_id}

    # -- webhook -----------------------------------------------------------------------

    def _pipeline(self, rule: ActionRule, do: WebhookActionConfig) -> Pipeline:
        with self._lock:
            found = self._pipelines.get(rule.name)
            if found is None:
                if do.policy is not None:
                    try:
                        found = self._registry().get(do.policy)
                    except KeyError as exc:
                        raise ActionError(str(exc.args[0] if exc.args else exc)) from None
                else:
                    from buttress.incidents.notify.dispatch import default_pipeline

                    found = default_pipeline(f"action.{rule.name}", do)
                self._pipelines[rule.name] = found
            return found

    def _template(self, rule: ActionRule, do: WebhookActionConfig) -> Template | None:
        if rule.name not in self._templates:
            self._templates[rule.name] = (
                None if do.body is None else template_environment().from_string(do.body)
            )
        return self._templates[rule.name]

    def _webhook(
        self, rule: ActionRule, do: WebhookActionConfig, facts: Facts
    ) -> tuple[str, dict[str, Any]]:
        if not do.enabled:
            raise ActionError("the webhook is disabled (enabled: false)")
        url = do.url.get_secret_value().strip()
        headers = {k: v.get_secret_value() for k, v in do.headers.items()}
        secrets = (url, *headers.values())
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = do.content_type
        context = facts.context(rule)
        template = self._template(rule, do)
        try:
            body = json.dumps(context) if template is None else template.render(context)
        except Exception as exc:  # noqa: BLE001  # a template error is a failed action
            why = scrub(f"body template failed: {type(exc).__name__}: {exc}", secrets)
            raise ActionError(why) from None
        pipeline = self._pipeline(rule, do)
        attempts = 0

        async def send() -> int:
            import httpx

            async with httpx.AsyncClient(follow_redirects=False) as client:

                async def attempt() -> int:
                    nonlocal attempts
                    attempts += 1
                    return await http_send(
                        client, url, timeout=do.timeout, secrets=secrets, method=do.method,
                        content=body.encode(), headers=headers,
                    )  # fmt: skip

                return int(await pipeline.acall(attempt))

        try:
            status = asyncio.run(send())
        except DeliveryError as exc:
            raise ActionError(f"{exc} (after {attempts} attempt(s))") from None
        except Exception as exc:  # noqa: BLE001  # breaker open, timeout: a failed action
            raise ActionError(scrub(f"{type(exc).__name__}: {exc}", secrets)) from None
        where = shown_url(url)
        return f"{do.method} {where}: HTTP {status}", {"status": status, "attempts": attempts}
