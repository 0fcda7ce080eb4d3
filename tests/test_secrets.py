"""Secrets are masked wherever buttress displays text."""

from __future__ import annotations

import pytest

from buttress.secrets import mask_url, redact


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://app:s3cret@db:5432/app", "postgresql://app:***@db:5432/app"),
        ("postgresql://app@db/app", "postgresql://app@db/app"),
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("postgresql://u:p@[::1]:5432/x", "postgresql://u:***@[::1]:5432/x"),
        ("postgresql://u@h/db?password=hunter2", "postgresql://u@h/db?password=***"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_mask_url(url: str, expected: str) -> None:
    """Passwords in DSNs are replaced by ***, everything else is kept."""
    assert mask_url(url) == expected


def test_redact_removes_tokens_and_bearer_headers() -> None:
    """API tokens keep their public id but lose their secret; bearer values are masked."""
    token = "bt_AbCdEfGh_" + "x" * 32
    text = redact(f"got {token} and Authorization: Bearer abc.def and postgres://a:b@h/d")
    assert "x" * 32 not in text
    assert "bt_AbCdEfGh_***" in text
    assert "abc.def" not in text
    assert "a:***@h" in text
