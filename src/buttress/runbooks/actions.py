"""The buttress actions a runbook step calls by name (``action: {name: backup.run, with:
{target: orders}}``).

Each action is an :class:`ActionSpec`: a pydantic model of its parameters (checked when the
configuration is loaded, so a bad ``with:`` key is an error at its file and line), ``run``
(does it, returns the values later steps' templates read) and ``plan`` (the dry run: what it
would do and the problems it sees, without side effects). More actions are one call::

    register(ActionSpec("postgresql.promote", PromoteParams, run=promote, plan=plan_promote))
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from buttress.catalog import Catalog
    from buttress.config import ButtressConfig
    from buttress.resilience.registry import PolicyRegistry

__all__ = [
    "ActionContext",
    "ActionSpec",
    "check_action",
    "get_action",
    "register",
    "registered",
]


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What an action may use: the configuration, the catalog, who runs it, the resilience
    registry (``policies()``) and the step's time limit (seconds, or None)."""

    config: ButtressConfig
    catalog: Catalog | None
    actor: str
    run_id: str
    policies: Callable[[], PolicyRegistry] | None = None
    timeout: float | None = None


Run = Callable[[ActionContext, Any], dict[str, Any]]
Plan = Callable[[ActionContext, Any], tuple[str, list[str]]]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One action: its name, its parameters' model, and what it does and would do."""

    name: str
    params: type[BaseModel]
    run: Run
    plan: Plan
    description: str = ""


_REGISTRY: dict[str, ActionSpec] = {}


def register(spec: ActionSpec) -> None:
    """Make ``spec`` callable from runbooks by its name (registering a name again replaces it)."""
    _REGISTRY[spec.name] = spec


def registered() -> dict[str, ActionSpec]:
    """Every action, by name."""
    _builtins()
    return dict(_REGISTRY)


def get_action(name: str) -> ActionSpec:
    """The action called ``name``.

    Raises:
        RunbookError: there is none (with a "did you mean").
    """
    from buttress.runbooks.errors import RunbookError

    actions = registered()
    if name not in actions:
        raise RunbookError(_unknown(name, actions))
    return actions[name]


def _unknown(name: str, actions: Mapping[str, ActionSpec]) -> str:
    close = difflib.get_close_matches(name, list(actions), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown action {name!r}{hint}; the actions are {', '.join(sorted(actions))}"


def check_action(name: str, given: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """The problems of calling ``name`` with ``given`` (location inside ``with``, message),
    as the loader reports them. Values that are templates are checked when they are rendered."""
    from buttress.config._runbooks import is_template

    actions = registered()
    if name not in actions:
        return [(("name",), _unknown(name, actions))]
    model = actions[name].params
    templated = {k for k, v in given.items() if isinstance(v, str) and is_template(v)}
    fixed = {k: v for k, v in given.items() if k not in templated}
    found: list[tuple[tuple[str | int, ...], str]] = []
    for key in given:
        if key not in model.model_fields and not any(
            f.alias == key for f in model.model_fields.values()
        ):
            allowed = sorted(f.alias or n for n, f in model.model_fields.items())
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            message = f"unknown key {key!r} for action {name}{hint}; allowed: {', '.join(allowed)}"
            found.append(((key,), message))
    if found:
        return found
    try:
        model.model_validate(fixed)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            if error["type"] == "missing" and loc and loc[0] in templated:
                continue
            if not loc and templated:  # a rule across keys: judged when they are rendered
                continue
            message = str(error["msg"]).removeprefix("Value error, ")
            found.append((loc, f"action {name}: {message}"))
    return found


def validate_params(spec: ActionSpec, given: Mapping[str, Any]) -> Any:
    """``given`` (rendered) as ``spec``'s parameters model.

    Raises:
        RunbookError: they do not fit (names the action and the key).
    """
    from buttress.runbooks.errors import RunbookError

    try:
        return spec.params.model_validate(dict(given))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise RunbookError(f"action {spec.name}, {where}: {message}") from None


_LOADED = False


def _builtins() -> None:
    global _LOADED  # registered once, on first use, not at import
    if not _LOADED:
        _LOADED = True
        from buttress.runbooks import _builtin_actions

        for spec in _builtin_actions.BUILTIN:
            _REGISTRY.setdefault(spec.name, spec)
