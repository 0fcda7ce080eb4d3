"""What every section shares: the :class:`Section` base, and errors placed at a field."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = ["NAME_PATTERN", "Section", "Variant", "checking_files", "format_path", "raise_at"]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
"""Names of checks, targets, destinations: a letter or digit, then letters, digits, _ . -"""


def format_path(path: tuple[str | int, ...]) -> str:
    """``('backup', 'targets', 0, 'schedule')`` -> ``backup.targets[0].schedule``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def raise_at(title: str, errors: list[tuple[tuple[str | int, ...], str]]) -> None:
    """Report ``errors`` (location inside the model being validated, message) at once, so the
    loader points at the line of the very field rather than at its section."""
    if errors:
        raise ValidationError.from_exception_data(
            title,
            [
                InitErrorDetails(
                    type=PydanticCustomError("config", "{message}", {"message": message}),
                    loc=loc,
                    input=None,  # never echoed: a recipient list may hold a pasted private key
                )
                for loc, message in errors
            ],
        )


def checking_files(info: ValidationInfo) -> bool:
    """True for ``config check``: the files the config names are read now, not at run time."""
    return isinstance(info.context, dict) and bool(info.context.get("check_files"))


class Section(BaseModel):
    """Base of every configuration section: unknown keys are errors, values are frozen, and
    every number is finite (``nan``/``inf`` are refused in every float field, durations too)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )


class Variant(Section):
    """Base of the kinds of one list item told apart by a key (a discriminated union): a
    health check by ``type``, a backup target by ``source``, a destination by ``type``.

    ``variant_noun`` and ``variant_key`` let errors say "a tcp check needs `port`" and "`url`
    does not apply to a tcp check (only http)".
    """

    variant_noun: ClassVar[str] = "item"
    variant_key: ClassVar[str] = "type"
