"""Write constraints.txt: the exact version of every distribution that ``buttress[dev]`` needs,
directly or through others, as installed in this venv (the versions the suite passed with).

``ensure_venv`` (scripts/lib.sh) installs with ``-c constraints.txt``, so a new venv, CI's
included, gets these versions rather than whatever is newest that day. Run it after changing a
dependency and after the check passes with the new versions:

    .venv/bin/python scripts/update_constraints.py
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
HEADER = """\
# The versions scripts/check.sh passed with (scripts/update_constraints.py writes this file from
# the venv; ensure_venv in scripts/lib.sh installs with -c constraints.txt). Lower bounds stay in
# pyproject.toml; tests/state also runs at the lowest declared redis-py (scripts/check.sh).
"""


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def own_requirements(extras: set[str]) -> list[Requirement]:
    """What pyproject.toml asks for with ``extras`` (``buttress[...]`` entries expanded): read
    from the file, not from the installed metadata, which may be of another checkout."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    found = [Requirement(s) for s in project.get("dependencies", [])]
    todo, done = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in done:
            continue
        done.add(extra)
        for spec in optional.get(extra, []):
            req = Requirement(spec)
            if norm(req.name) == norm(project["name"]):
                todo.extend(req.extras)
            else:
                found.append(req)
    return found


def closure(extras: set[str]) -> dict[str, str]:
    """Every distribution buttress with ``extras`` needs (markers evaluated here), to its
    installed version."""
    found: dict[str, str] = {}
    todo = [(r.name, frozenset(r.extras)) for r in own_requirements(extras) if _active(r, set())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise SystemExit(f"error: {name} is required but not installed in this venv") from None
        found[norm(dist.metadata["Name"])] = dist.version
        for spec in dist.requires or []:
            req = Requirement(spec)
            if _active(req, wanted):
                todo.append((req.name, frozenset(req.extras)))
    return found


def _active(req: Requirement, extras: set[str] | frozenset[str]) -> bool:
    """Whether ``req`` applies here, for a distribution installed with ``extras``."""
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": e}) for e in (*extras, ""))


def main() -> int:
    pins = closure({"dev"})
    lines = [f"{name}=={version}" for name, version in sorted(pins.items())]
    (ROOT / "constraints.txt").write_text(HEADER + "\n".join(lines) + "\n")
    print(f"constraints.txt: {len(lines)} distributions pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
