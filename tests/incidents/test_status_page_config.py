"""``incidents.status_page``: its defaults, and its errors at file:line: a check name that
``health.checks`` does not declare (the validation step), a component listed twice, a bad
check name."""

from __future__ import annotations

import pytest

from buttress.config import load_text
from buttress.errors import ConfigError


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_text(text, filename="buttress.yaml", env={})
    return [str(i) for i in info.value.issues]


def test_defaults() -> None:
    """Enabled, titled "Service status", no components, 30 days of history."""
    page = load_text("{}", env={}).incidents.status_page
    assert page.enabled
    assert page.title == "Service status"
    assert page.components == []
    assert page.history_days == 30


def test_known_checks_load() -> None:
    """A component naming a declared check loads."""
    text = (
        "health:\n  checks:\n    - {name: db, type: tcp, host: 127.0.0.1, port: 5432}\n"
        "incidents:\n  status_page:\n    components:\n"
        "      - {name: API, services: [api], checks: [db]}\n"
    )
    (component,) = load_text(text, env={}).incidents.status_page.components
    assert component.checks == ["db"]
    assert component.services == ["api"]


def test_an_unknown_check_is_an_error_at_its_line() -> None:
    """Each check name health.checks does not declare is an error at its own line."""
    text = (
        "health:\n"
        "  checks:\n"
        "    - {name: db, type: tcp, host: 127.0.0.1, port: 5432}\n"
        "incidents:\n"
        "  status_page:\n"
        "    components:\n"
        "      - name: API\n"
        "        checks:\n"
        "          - db\n"
        "          - redis\n"
    )
    assert issues(text) == [
        "buttress.yaml:10:13 incidents.status_page.components[0].checks[1]: unknown health "
        "check 'redis' (health.checks: db)"
    ]


def test_no_checks_declared_says_so() -> None:
    """With no health.checks, the message says none is declared."""
    (message,) = issues(
        "incidents:\n  status_page:\n    components:\n      - {name: API, checks: [db]}\n"
    )
    assert message.startswith("buttress.yaml:4:")
    assert message.endswith("unknown health check 'db' (health.checks: none is declared)")


def test_a_component_listed_twice_and_a_bad_check_name() -> None:
    """Names are unique; a check name is a check name."""
    (twice,) = issues(
        "incidents:\n  status_page:\n    components:\n      - {name: API}\n      - {name: API}\n"
    )
    assert twice.startswith("buttress.yaml:5:")
    assert "component 'API' is listed twice" in twice
    (bad,) = issues(
        "incidents:\n  status_page:\n    components:\n      - {name: API, checks: ['a b']}\n"
    )
    assert "incidents.status_page.components[0].checks[0]" in bad
