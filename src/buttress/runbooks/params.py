"""A run's parameters: the strings a CLI gives (``--param replicas=3``) or the JSON an API
gives, checked and converted to each parameter's type, defaults filled in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from buttress.config._runbooks import convert_param
from buttress.runbooks.errors import ParamError

if TYPE_CHECKING:
    from buttress.config._runbooks import RunbookConfig

__all__ = ["convert_param", "resolve_params"]


def resolve_params(runbook: RunbookConfig, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of ``runbook`` with its value: ``given`` converted, defaults filled in.

    ``given`` maps names to strings (CLI ``k=v``) or JSON values (API); values already of the
    right type pass unchanged, so resolving twice gives the same result.

    Raises:
        ParamError: a parameter is unknown, of the wrong type, not one of its choices, or
            required and not given (the message names it).
    """
    for name in given:
        if name not in runbook.params:
            known = ", ".join(sorted(runbook.params)) or "none"
            raise ParamError(
                name, f"runbook {runbook.name!r} has no such parameter (its parameters: {known})"
            )
    out: dict[str, Any] = {}
    for name, param in runbook.params.items():
        if name in given:
            try:
                out[name] = convert_param(param, given[name])
            except ValueError as exc:
                raise ParamError(name, f"{exc} (type {param.type})") from None
        elif param.default is not None:
            out[name] = convert_param(param, param.default)
        elif param.is_required:
            raise ParamError(name, f"required by runbook {runbook.name!r} and not given")
        else:
            out[name] = None
    return out
