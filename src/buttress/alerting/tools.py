"""Finding and running the Prometheus tools (``promtool``, ``amtool``, ``prometheus``,
``prometheus-alertmanager``), with a clear error naming the Debian package when one is
missing."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PACKAGES", "ToolMissingError", "ToolResult", "find", "run"]

PACKAGES = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "amtool": "prometheus-alertmanager",
    "prometheus-alertmanager": "prometheus-alertmanager",
}
"""Tool -> the Debian package that installs it."""


class ToolMissingError(RuntimeError):
    """A tool is not installed; the message names the package to install."""


@dataclass(frozen=True)
class ToolResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        """stdout and stderr together, stripped (what to show a user on failure)."""
        return "\n".join(part.strip() for part in (self.stdout, self.stderr) if part.strip())


def find(tool: str) -> Path:
    """The path of ``tool`` on PATH, or :class:`ToolMissingError` naming its package."""
    found = shutil.which(tool)
    if found is None:
        package = PACKAGES.get(tool, tool)
        raise ToolMissingError(
            f"{tool} is not installed: install the Debian package {package} "
            f"(apt-get install {package})"
        )
    return Path(found)


def run(
    tool: str, args: Sequence[str], *, cwd: Path | None = None, timeout: float = 300.0
) -> ToolResult:
    """Run ``tool args...`` and capture what it says (never raises for a non-zero exit)."""
    argv = (str(find(tool)), *args)
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    return ToolResult(argv, done.returncode, done.stdout, done.stderr)
