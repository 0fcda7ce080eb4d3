"""The failover error: one class, its message says what was refused or failed and why."""

from __future__ import annotations

from buttress.errors import ButtressError

__all__ = ["FailoverError"]


class FailoverError(ButtressError):
    """A failover or failback step was refused or failed; the message is safe to show."""
