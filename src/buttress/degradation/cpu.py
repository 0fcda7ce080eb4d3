"""CPU usage for the ``cpu_usage`` trigger: this process's, its cgroup's (the container's) or
the whole machine's, as a percentage of the CPU that source may use.

- ``process``: this process's CPU time (``time.process_time``) over the CPUs it may run on.
- ``cgroup``: the cgroup's CPU time (v2 ``cpu.stat`` ``usage_usec``, v1 ``cpuacct.usage``) over
  its limit (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``), or over the CPUs of
  the machine when it has no limit.
- ``machine``: every process of the machine (psutil), as before this choice existed.

``auto`` (the default) is ``cgroup`` where a cgroup CPU limit exists, else ``process``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from buttress.errors import UsageError

__all__ = [
    "CpuSource",
    "cgroup_limit",
    "cgroup_usage_seconds",
    "cpu_meter",
    "process_cpu_seconds",
    "resolve_source",
]

CpuSource = Literal["auto", "process", "cgroup", "machine"]
ROOT = Path("/")


def _cgroup_dirs(root: Path, controller: str) -> list[Path]:
    """Where this process's cgroup for ``controller`` may be (v1), or its v2 group (``""``)."""
    try:
        lines = (root / "proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    base = root / "sys/fs/cgroup"
    found: list[Path] = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        rel = path.lstrip("/")
        if controller == "" and controllers == "":
            mounts = [base, base / "unified"]
        elif controller and controller in controllers.split(","):
            mounts = [base / controllers, base / controller]
        else:
            continue
        for mount in mounts:
            # inside a container the group is often mounted as the root of the hierarchy
            found.extend(d for d in (mount / rel, mount) if d.is_dir() and d not in found)
    return found


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cgroup_limit(root: Path = ROOT) -> float | None:
    """The CPUs this process's cgroup may use (``1.5`` for 150 ms per 100 ms), None when it has
    no limit or there is no cgroup to read."""
    for group in _cgroup_dirs(root, ""):
        text = _read(group / "cpu.max")
        if text is not None:
            quota, _, period = text.partition(" ")
            if quota != "max" and period:
                return int(quota) / int(period)
            return None
    for group in _cgroup_dirs(root, "cpu"):
        quota_text = _read(group / "cpu.cfs_quota_us")
        period_text = _read(group / "cpu.cfs_period_us")
        if quota_text is not None and period_text is not None:
            micros = int(quota_text)
            return micros / int(period_text) if micros > 0 else None
    return None


def cgroup_usage_seconds(root: Path = ROOT) -> float | None:
    """CPU seconds used by every process of this process's cgroup, None when unreadable."""
    for group in _cgroup_dirs(root, ""):
        text = _read(group / "cpu.stat")
        if text is not None:
            for line in text.splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
    for group in _cgroup_dirs(root, "cpuacct"):
        text = _read(group / "cpuacct.usage")
        if text is not None:
            return int(text) / 1e9
    return None


def process_cpu_seconds() -> float:
    """CPU seconds (user + system) used by this process, every thread."""
    return time.process_time()


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def resolve_source(source: CpuSource, root: Path = ROOT) -> Literal["process", "cgroup", "machine"]:
    """What ``auto`` means here: ``cgroup`` when a cgroup CPU limit exists, else ``process``."""
    if source == "auto":
        return "cgroup" if cgroup_limit(root) is not None else "process"
    return source


def cpu_meter(
    source: CpuSource = "auto",
    *,
    root: Path = ROOT,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[], float | None]:
    """A reader of CPU usage in percent since its previous call (None on the first call).

    Raises:
        UsageError: ``cgroup`` was asked for and this process has no cgroup CPU accounting.
    """
    chosen = resolve_source(source, root)
    if chosen == "machine":
        import psutil

        psutil.cpu_percent(interval=None)  # the first reading primes the counter
        return lambda: float(psutil.cpu_percent(interval=None))
    if chosen == "cgroup":
        if cgroup_usage_seconds(root) is None:
            raise UsageError(
                "health.degradation.cpu: cgroup: no cgroup CPU accounting readable under "
                f"{root / 'sys/fs/cgroup'} (use process or machine)"
            )
        capacity = cgroup_limit(root) or float(_cpus())

        def used() -> float:
            return cgroup_usage_seconds(root) or 0.0
    else:
        capacity = float(_cpus())
        used = process_cpu_seconds
    last: list[float] = []

    def read() -> float | None:
        now, cpu = clock(), used()
        previous, last[:] = list(last), [now, cpu]
        if not previous or now <= previous[0]:
            return None
        return 100.0 * (cpu - previous[1]) / ((now - previous[0]) * capacity)

    return read
