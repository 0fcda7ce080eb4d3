"""Disk: free space on the filesystem of a path, as a share of its size and in bytes."""

from __future__ import annotations

import shutil

from buttress.health.checks.base import Probe

__all__ = ["disk"]


def disk(path: str, min_free_percent: float = 10.0, min_free_bytes: int = 0) -> Probe:
    async def probe() -> str:
        usage = shutil.disk_usage(path)
        free_pct = 100.0 * usage.free / usage.total if usage.total else 0.0
        detail = f"{free_pct:.1f}% free ({usage.free / 2**30:.1f} GiB) on {path}"
        if free_pct < min_free_percent or usage.free < min_free_bytes:
            raise RuntimeError(
                f"{detail}: below the minimum "
                f"({min_free_percent:g}%{f', {min_free_bytes} bytes' if min_free_bytes else ''})"
            )
        return detail

    return probe
