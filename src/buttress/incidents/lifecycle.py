"""The incident lifecycle as a pure decision: which status an action leads to, from which.

    triggered → acknowledged → mitigated → resolved → closed

An action may skip ahead (resolve a triggered incident) but never go back, except ``reopen``
(resolved → triggered, the receiver's). Closing needs a resolved incident.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["ACTIONS", "ORDER", "Action", "Status", "next_status"]

Status = Literal["triggered", "acknowledged", "mitigated", "resolved", "closed"]
Action = Literal["ack", "mitigate", "resolve", "close"]

ORDER: tuple[Status, ...] = ("triggered", "acknowledged", "mitigated", "resolved", "closed")
ACTIONS: dict[Action, Status] = {
    "ack": "acknowledged",
    "mitigate": "mitigated",
    "resolve": "resolved",
    "close": "closed",
}


def next_status(current: str, action: Action) -> str:
    """The status ``action`` leads to from ``current``, or a sentence saying why it cannot."""
    target = ACTIONS[action]
    if current not in ORDER:
        return f"unknown status {current!r}"
    if action == "close" and current != "resolved":
        return f"only a resolved incident can be closed (it is {current})"
    if ORDER.index(target) <= ORDER.index(current):
        return f"cannot {action} an incident that is {current}"
    return target
