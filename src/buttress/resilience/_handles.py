"""Which outcomes a policy reacts to: exception types or predicates, result predicates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ExceptionRule", "ResultRule", "exception_rule"]

ExceptionRule = (
    type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]
)
"""Exception types (matched with ``isinstance``) or a predicate over the exception."""
ResultRule = Callable[[Any], bool]
"""A predicate over a call's result, e.g. ``lambda r: r.status_code in (429, 503)``."""


def exception_rule(rule: ExceptionRule | None, what: str) -> Callable[[BaseException], bool] | None:
    """Normalise a rule into a predicate (``None`` stays ``None``: nothing matches).

    Raises:
        TypeError: the rule is neither exception types nor a callable; ``what`` names the option.
    """
    if rule is None:
        return None
    if isinstance(rule, type) and issubclass(rule, BaseException):
        types: tuple[type[BaseException], ...] = (rule,)
    elif isinstance(rule, tuple):
        if not all(isinstance(t, type) and issubclass(t, BaseException) for t in rule):
            raise TypeError(f"{what}: expected exception types or a predicate, got {rule!r}")
        types = rule
    elif callable(rule):
        return rule  # type: ignore[return-value]  # a predicate; exception classes were handled above
    else:
        raise TypeError(f"{what}: expected exception types or a predicate, got {rule!r}")
    if not types:
        return None
    return lambda exc: isinstance(exc, types)


def describe_rule(rule: object) -> str | list[str] | None:
    """A rule as it was given, for display: exception type names, or the predicate's name."""
    if rule is None:
        return None
    if isinstance(rule, type):
        return rule.__qualname__
    if isinstance(rule, tuple):
        return [getattr(t, "__qualname__", repr(t)) for t in rule]
    return str(getattr(rule, "__qualname__", type(rule).__qualname__))
