"""${VAR} interpolation rules."""

from __future__ import annotations

import pytest

from buttress.config._interpolate import InterpolationError, interpolate


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("plain", {}, ("plain", False)),
        ("${A}", {"A": "1"}, ("1", True)),
        ("x-${A}-y", {"A": "1"}, ("x-1-y", True)),
        ("${A:-d}", {}, ("d", True)),
        ("${A:-d}", {"A": ""}, ("d", True)),
        ("${A:-}", {}, ("", True)),
        ("${A:-a:-b}", {}, ("a:-b", True)),
        ("$$5", {}, ("$5", False)),
        ("$${A}", {"A": "1"}, ("${A}", False)),
        ("cost $3", {}, ("cost $3", False)),
    ],
)
def test_substitution(text: str, env: dict[str, str], expected: tuple[str, bool]) -> None:
    """Each form substitutes as documented."""
    assert interpolate(text, env) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("${MISSING}", "MISSING is not set"),
        ("${1BAD}", "invalid variable reference"),
        ("${A", "unterminated"),
        ("${}", "invalid variable reference"),
    ],
)
def test_errors(text: str, fragment: str) -> None:
    """Unset variables and malformed references are errors saying what is wrong."""
    with pytest.raises(InterpolationError, match=fragment):
        interpolate(text, {})
