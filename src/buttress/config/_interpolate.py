"""``${VAR}`` and ``${VAR:-default}`` substitution in configuration strings."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["InterpolationError", "UnsetVariableError", "interpolate"]

_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    """A ``${...}`` reference could not be resolved; the message says which and why."""


class UnsetVariableError(InterpolationError):
    """``${NAME}`` names a variable that is not set (and gives no default)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"environment variable {name} is not set "
            f"(set it, or give a default with ${{{name}:-default}})"
        )


def interpolate(text: str, env: Mapping[str, str]) -> tuple[str, bool]:
    """Substitute environment references in ``text``.

    ``${VAR}`` is the value of VAR (an error when unset), ``${VAR:-default}`` the value of VAR
    or ``default`` when VAR is unset or empty, and ``$$`` a literal ``$``. Returns the new text
    and whether any variable was substituted (such values are treated as secrets: they are
    never echoed in error messages).
    """
    if "$" not in text:
        return text, False
    used = False

    def replace(match: re.Match[str]) -> str:
        nonlocal used
        whole = match[0]
        if whole == "$$":
            return "$"
        body = match[1]
        if body is None:
            raise InterpolationError("unterminated '${': close it with '}' or write '$$' for '$'")
        name, sep, default = body.partition(":-")
        if not _NAME.fullmatch(name):
            raise InterpolationError(
                f"invalid variable reference '${{{body}}}': use ${{NAME}} or ${{NAME:-default}}"
            )
        value = env.get(name)
        if sep:
            used = True
            return value if value else default
        if value is None:
            raise UnsetVariableError(name)
        used = True
        return value

    return _TOKEN.sub(replace, text), used
