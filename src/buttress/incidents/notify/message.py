"""What a notification says: :class:`Notification` and its :class:`Recipient` people.

A notification is a frozen value the escalation work builds from an incident; every channel
renders the same value its own way (pure functions of it, in the channel's module).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["KINDS", "Kind", "Notification", "Recipient", "Severity"]

Kind = Literal["triggered", "escalated", "acknowledged", "resolved", "reminder"]
KINDS: tuple[Kind, ...] = ("triggered", "escalated", "acknowledged", "resolved", "reminder")
Severity = Literal["P1", "P2", "P3", "P4"]


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person a notification is for: mentioned in chat, mailed, paged.

    Args:
        name: display name.
        email: mail address (email channels add it to their ``to``).
        slack: Slack member id (``U024BE7LH``), mentioned as ``<@U024BE7LH>``.
        phone: phone number, for channels that call or text.
    """

    name: str
    email: str | None = None
    slack: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """One message about one incident, for every channel it is sent on.

    Args:
        kind: what happened: ``triggered``, ``escalated``, ``acknowledged``, ``resolved`` or
            ``reminder``.
        ref: the incident's reference, ``INC-2026-0042`` (PagerDuty's dedup key).
        title: the incident's title.
        severity: ``P1`` .. ``P4``.
        status: the incident's status now (``triggered``, ``acknowledged``...).
        services: the services affected.
        summary: what is going on.
        impact: who or what is affected.
        url: the incident in the dashboard or API.
        ack_url, resolve_url: links that acknowledge / resolve it (chat buttons).
        recipients: the people it is for.
        level: the escalation level, when escalation sent it.

    .. versionadded:: 0.1
    """

    kind: Kind
    ref: str
    title: str
    severity: Severity
    status: str
    services: Sequence[str] = ()
    summary: str = ""
    impact: str = ""
    url: str | None = None
    ack_url: str | None = None
    resolve_url: str | None = None
    recipients: Sequence[Recipient] = field(default=())
    level: int | None = None

    def __post_init__(self) -> None:
        # lists are accepted and frozen into tuples: the value is shared by concurrent sends
        object.__setattr__(self, "services", tuple(self.services))
        object.__setattr__(self, "recipients", tuple(self.recipients))

    @property
    def subject(self) -> str:
        """``[P1] INC-2026-0042 triggered: Checkout is down`` (mail subject, card titles)."""
        return f"[{self.severity}] {self.ref} {self.kind}: {self.title}"

    @property
    def open(self) -> bool:
        """The incident still needs someone (not acknowledged or resolved)."""
        return self.kind in ("triggered", "escalated", "reminder")

    def context(self) -> dict[str, Any]:
        """The notification as plain data (templates' ``incident``, the default webhook body)."""
        data = asdict(self)
        data["services"] = list(self.services)
        data["recipients"] = [asdict(r) for r in self.recipients]
        data["subject"] = self.subject
        return data
