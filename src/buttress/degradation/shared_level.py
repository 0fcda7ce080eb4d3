"""The degradation level shared by every process and replica through Redis.

Each process reports its own automatic level (what its metrics say) into one Redis hash, with
an expiry, every sync round of the store's agent (``sync_interval``, 0.1 s by default) and at
once when it changes, with a notice on the store's channel. The **fleet level** is the most
severe live report of the other processes: every process applies at least that level, so
when one replica runs hot, the whole service sheds the same features. A replica that dies
stops counting when its report expires (``ttl``). The reports' script also records when
the fleet level last changed (:func:`fleet_record`, for ``buttress level show``). A change
reaches the other processes in one pub/sub message (measured in
tests/health/test_shared_level.py); a missed message is caught up by the next round.

When Redis does not answer, each process goes on with its own level (and says so once).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from buttress.state import SharedStateStore, scripts

__all__ = ["FleetRecord", "Report", "SharedLevel", "announce_override", "fleet_record", "reports"]

#: its scripts: <name>.lua next to this module
_LEVEL_REPORT = scripts.load("buttress.degradation", "level_report")

log = logging.getLogger("buttress.degradation")


class SharedLevel:
    """One process's membership of the fleet (a participant of the store's agent).

    Args:
        store: the shared store (``state:`` in buttress.yaml: Redis).
        name: which level machine (one per application).
        ttl: seconds a report lives without being renewed.
        on_change: called with the new fleet index when it changes (from the agent's thread).
    """

    def __init__(
        self,
        store: SharedStateStore,
        name: str = "degradation",
        *,
        ttl: float = 5.0,
        on_change: Callable[[int], None] | None = None,
        on_override: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.notice_key = ("level", store.notice_name(name))
        self.member = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.key = store.key("level", name)
        self.fleet_key = _fleet_key(store, name)
        self.ttl_us = int(ttl * 1e6)
        self.on_change = on_change
        self.on_override = on_override
        self.own = 0
        self.fleet = 0
        self.available = True
        self._announce = False
        self._lock = threading.Lock()
        store.agent.register(self)

    def report(self, index: int) -> None:
        """This process's automatic level; a change is announced at once."""
        with self._lock:
            if index != self.own:
                self.own = index
                self._announce = True
        if self._announce:
            self.store.agent.wake()

    def sync_ops(self) -> list[Any]:
        with self._lock:
            notice = f"level|{self.notice_key[1]}|{self.member}" if self._announce else ""
            self._announce = False
            own = self.own
        args = [self.member, own, self.ttl_us, self.store.channel, notice]
        return [(_LEVEL_REPORT, [self.key, self.fleet_key], args)]

    def synced(self, replies: list[Any]) -> None:
        if not self.available:
            log.warning("shared degradation level: %s answers again", self.store.describe())
            self.available = True
        self._set(int(replies[0]))

    def sync_failed(self, error: BaseException) -> None:
        if self.available:
            log.warning(
                "shared degradation level: %s does not answer (%s); this process follows its "
                "own level until it does",
                self.store.describe(),
                error,
            )
            self.available = False
        self._set(self.own)

    def notice(self, fields: list[str]) -> None:
        if fields[:1] == ["override"]:
            if self.on_override is not None:
                self.on_override()  # someone set or cleared an override: read it now
        elif fields and fields[0] != self.member:
            self.store.agent.wake()  # another process changed: read the fleet now

    def announce_override(self) -> None:
        """Tell every process that the override in the catalog changed."""
        announce_override(self.store, self.name)

    def _set(self, fleet: int) -> None:
        if fleet != self.fleet:
            self.fleet = fleet
            if self.on_change is not None:
                self.on_change(fleet)

    def close(self) -> None:
        self.store.agent.unregister(self)
        try:
            self.store.hash_delete(self.key, self.member)
        except Exception:  # leaving: the report expires anyway
            log.debug("could not withdraw the level report", exc_info=True)


def announce_override(store: SharedStateStore, name: str = "degradation") -> None:
    """Publish that the override changed (the CLI calls this after writing the catalog); a
    process that misses it still reads the catalog at its next evaluation."""
    try:
        store.publish(store.channel, f"level|{store.notice_name(name)}|override")
    except Exception as exc:  # noqa: BLE001  # the catalog stays the source of truth
        log.warning("could not announce the override through %s: %s", store.describe(), exc)


@dataclass(frozen=True, slots=True)
class Report:
    """One live replica's automatic level, as it last reported it."""

    member: str  # host:pid:random
    index: int
    expires_in: float  # seconds


def reports(store: SharedStateStore, name: str = "degradation") -> list[Report]:
    """The live reports of every process, most severe first (what ``buttress level show``
    prints as the fleet level)."""
    now = round(store.server_time() * 1e6)
    live = []
    for member, value in store.hash_items(store.key("level", name)).items():
        index, _, expires = value.partition(":")
        if index.isdigit() and expires and float(expires) > now:
            live.append(Report(member, int(index), (float(expires) - now) / 1e6))
    return sorted(live, key=lambda r: (-r.index, r.member))


@dataclass(frozen=True, slots=True)
class FleetRecord:
    """The fleet level (the most severe live report of every process) and when it changed."""

    index: int
    since: float  # Unix time, seconds (Redis's clock)


def fleet_record(store: SharedStateStore, name: str = "degradation") -> FleetRecord | None:
    """The fleet level as the replicas' last report recorded it, or ``None`` (no replica has
    reported for ``ttl``, or they run a version that does not record it). A report that
    expired since then is counted out by the next replica's round (``sync_interval``)."""
    held = store.get(_fleet_key(store, name))
    index, _, since = held.partition(":") if held is not None else ("", "", "")
    try:
        return FleetRecord(int(index), float(since) / 1e6) if index.isdigit() else None
    except ValueError:  # not written by this version: no date to show
        return None


def _fleet_key(store: SharedStateStore, name: str) -> str:
    return store.key("level-fleet", name)  # the reports' hash tag: one slot on a cluster
