"""Errors raised by resilience policies.

::

    ButtressError
    └── ResilienceError             any error a policy raises on its own behalf
        └── RejectedError           the call was not run (or was cut short) by a policy
            ├── CircuitOpenError    the breaker is open: ``retry_after`` = seconds to half-open
            │                       (``None`` and ``forced`` when forced open)
            ├── RateLimitedError    over the limit: ``retry_after``, ``limit``, ``remaining``
            ├── BulkheadFullError   no slot and no room (or no time) to wait
            └── PolicyTimeoutError  the call took longer than allowed (also a ``TimeoutError``)

Retry re-raises the caller's last exception when it gives up, never a wrapper. Rejections are a
hot path: these classes do nothing in ``__init__`` but store a few attributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from buttress.errors import ButtressError

__all__ = [
    "BulkheadFullError",
    "CircuitOpenError",
    "PolicyTimeoutError",
    "RateLimitedError",
    "RejectedError",
    "ResilienceError",
]


class ResilienceError(ButtressError):
    """Root of the errors raised by resilience policies."""


class RejectedError(ResilienceError):
    """A policy did not let the call run (or stopped it); ``policy`` names the policy and
    ``retry_after`` (seconds, or ``None``) says when trying again may succeed.

    Rejecting is a hot path: the fields live in ``args`` (set in C by ``BaseException``) and
    the message is built only when the error is printed.
    """

    if TYPE_CHECKING:

        def __init__(self, policy: str, retry_after: float | None = None, /) -> None: ...

    @property
    def policy(self) -> str:
        """The name of the policy that rejected the call."""
        return str(self.args[0])

    @property
    def retry_after(self) -> float | None:
        """Seconds after which trying again may succeed, when known."""
        return self.args[1] if len(self.args) > 1 else None

    def __str__(self) -> str:
        return f"policy {self.policy!r} rejected the call"


class CircuitOpenError(RejectedError):
    """The circuit breaker is open (or half-open with every probe slot taken);
    ``retry_after`` is the time until it lets a probe through. A breaker forced open
    (``force_open()``) lets none through until it is reset: ``forced`` is true and
    ``retry_after`` is ``None``."""

    if TYPE_CHECKING:

        def __init__(self, policy: str, retry_after: float | None, /) -> None: ...

    @property
    def forced(self) -> bool:
        """The breaker was forced open by an operator: no time is known."""
        return self.args[1] is None

    def __str__(self) -> str:
        if self.args[1] is None:
            return f"circuit breaker {self.policy!r} is forced open (until it is reset)"
        return f"circuit breaker {self.policy!r} is open; retry in {self.args[1]:.3f}s"


class RateLimitedError(RejectedError):
    """The rate limit is exhausted for ``key``; ``limit`` and ``remaining`` describe it."""

    if TYPE_CHECKING:

        def __init__(
            self,
            policy: str,
            retry_after: float,
            key: str = "",
            limit: float = 0,
            remaining: float = 0,
            /,
        ) -> None: ...

    @property
    def key(self) -> str:
        """The key (user, client, API key) whose limit was exceeded; empty for a global limit."""
        return str(self.args[2]) if len(self.args) > 2 else ""

    @property
    def limit(self) -> float:
        """The limit that applies to the key."""
        return float(self.args[3]) if len(self.args) > 3 else 0.0

    @property
    def remaining(self) -> float:
        """What is left of the limit now (0 when rejected for lack of permits)."""
        return float(self.args[4]) if len(self.args) > 4 else 0.0

    def __str__(self) -> str:
        where = f" for key {self.key!r}" if self.key else ""
        return f"rate limit {self.policy!r} exceeded{where}; retry in {self.args[1]:.3f}s"


class BulkheadFullError(RejectedError):
    """The bulkhead has no free slot and the call could not (or could no longer) wait."""

    if TYPE_CHECKING:

        def __init__(self, policy: str, reason: str, /) -> None: ...

    @property
    def retry_after(self) -> float | None:
        return None

    @property
    def reason(self) -> str:
        """Why the call was refused (queue full, wait timed out, dropped for a newer call)."""
        return str(self.args[1])

    def __str__(self) -> str:
        return f"bulkhead {self.policy!r} is full: {self.reason}"


class PolicyTimeoutError(RejectedError, TimeoutError):
    """The call did not finish within ``timeout`` seconds. Also a builtin ``TimeoutError``."""

    if TYPE_CHECKING:

        def __init__(self, policy: str, timeout: float, /) -> None: ...

    @property
    def retry_after(self) -> float | None:
        return None

    @property
    def timeout(self) -> float:
        """The timeout that was exceeded, in seconds."""
        return float(self.args[1])

    def __str__(self) -> str:
        return f"timeout {self.policy!r}: the call took longer than {self.timeout:.3f}s"
