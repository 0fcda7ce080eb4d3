"""Keep imports and declared dependencies in step (run by scripts/check.sh).

deptry counts every extra as one pool, so an import in ``src/`` that only the ``dev`` extra
declares (``anyio`` was one) passes it; this check knows which extras a user installs:

1. Every third-party module imported under ``src/`` is provided by a distribution declared in
   ``dependencies`` or in a runtime extra (any extra but ``dev`` and ``bench``); one imported
   only by ``tests/`` or ``scripts/`` may be declared in ``dev`` too. A transitive dependency
   imported directly must be declared directly. (``bench/`` and the ``bench`` extra are left
   out: the peers it measures are installed only to benchmark.)
2. Every module of a runtime extra that ``src/`` imports is in ``buttress.errors._EXTRAS``
   under an extra that declares it, so a missing one is reported with the right
   ``pip install 'buttress[<extra>]'``.
3. Every declared distribution is imported where it is declared for (``src/`` for the runtime
   ones, ``tests/`` or ``scripts/`` for ``dev``), unless ``TOOLS`` below says why not.

Modules are matched to distributions with the installed metadata
(``importlib.metadata.packages_distributions``), so run it in the project's venv.

Usage: ``python scripts/check_deps.py [PROJECT_DIR]``; exit 1 with one line per problem.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

DEV_ONLY = {"dev", "bench"}  # extras a user does not install to run buttress
# declared distributions that are used without being imported, and why
TOOLS = {
    "pytest-timeout": "pytest plugin, configured by `timeout` in pyproject",
    "coverage": "`coverage run -m pytest` in scripts/check.sh",
    "ruff": "linter, run by scripts/check.sh",
    "mypy": "type checker, run by scripts/check.sh",
    "httpx2": "the transport of starlette's TestClient",
    "moto": "its S3 server runs as `python -m moto.server` (tests/conftest.py)",
    "import-linter": "`lint-imports` in scripts/check.sh ([tool.importlinter] in pyproject)",
}
STUBS = re.compile(r"^types-(.+)$")  # types-PyYAML: the stubs of a distribution


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement(spec: str) -> tuple[str, list[str]]:
    """The distribution and extras of a requirement string (``redis[hiredis]>=5`` ->
    ``("redis", ["hiredis"])``)."""
    found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", spec)
    if found is None:
        raise SystemExit(f"error: pyproject.toml: cannot read the requirement {spec!r}")
    extras = [e.strip() for e in (found.group(2) or "").split(",") if e.strip()]
    return norm(found.group(1)), extras


def declared(pyproject: dict[str, object]) -> dict[str, set[str]]:
    """The distributions each group declares: ``""`` for ``dependencies``, then each extra;
    the project's own ``name[extra]`` entries are expanded."""
    project = pyproject["project"]
    assert isinstance(project, dict)
    own = norm(str(project["name"]))
    extras: dict[str, list[str]] = dict(project.get("optional-dependencies", {}))
    groups: dict[str, set[str]] = {}

    def expand(specs: list[str], seen: frozenset[str]) -> set[str]:
        names: set[str] = set()
        for spec in specs:
            name, wanted = _requirement(spec)
            if name != own:
                names.add(name)
                continue
            for extra in wanted:
                if extra not in seen:
                    names |= expand(extras.get(extra, []), seen | {extra})
        return names

    groups[""] = expand(list(project.get("dependencies", [])), frozenset())
    for extra, specs in extras.items():
        groups[extra] = expand(specs, frozenset({extra}))
    return groups


def own_specs(pyproject: dict[str, object], extra: str) -> set[str]:
    """The distributions an extra lists itself (not through ``buttress[...]``)."""
    project = pyproject["project"]
    assert isinstance(project, dict)
    specs = project.get("optional-dependencies", {}).get(extra, [])
    return {_requirement(s)[0] for s in specs} - {norm(str(project["name"]))}


def imports(root: Path) -> Iterator[tuple[str, Path, int]]:
    """Top-level module, file and line of every absolute import under ``root``."""
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name.partition(".")[0], path, node.lineno
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield node.module.partition(".")[0], path, node.lineno


def extras_table(project_dir: Path) -> dict[str, str]:
    """``_EXTRAS`` of ``src/buttress/errors.py``, read without importing buttress."""
    tree = ast.parse((project_dir / "src/buttress/errors.py").read_text(encoding="utf-8"))
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(target, ast.Name) and target.id == "_EXTRAS":
            table = ast.literal_eval(node.value)
            assert isinstance(table, dict)
            return {str(k): str(v) for k, v in table.items()}
    return {}


def check(project_dir: Path) -> list[str]:
    """Every problem found, one line each."""
    pyproject = tomllib.loads((project_dir / "pyproject.toml").read_text(encoding="utf-8"))
    groups = declared(pyproject)
    runtime = {g for g in groups if g not in DEV_ONLY and g != "all"}
    providers = {
        module: {norm(d) for d in dists}
        for module, dists in importlib.metadata.packages_distributions().items()
    }
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    own_modules = {"buttress", "tests", "scripts", "bench"}
    problems: list[str] = []
    used: dict[str, set[str]] = {"runtime": set(), "dev": set()}
    table = extras_table(project_dir)
    # bench/ is left out: its peers (the bench extra) are not installed by scripts/check.sh
    lanes = [("src", "runtime"), ("tests", "dev"), ("scripts", "dev")]
    for folder, lane in lanes:
        allowed = set().union(*(groups[g] for g in runtime | {""}))
        if lane != "runtime":
            allowed |= groups.get(lane, set())
        if not (project_dir / folder).is_dir():
            continue
        reported: set[str] = set()
        for module, path, line in imports(project_dir / folder):
            if module in stdlib or module in own_modules or module in reported:
                continue
            dists = providers.get(module, set())
            where = f"{path.relative_to(project_dir)}:{line}"
            if not dists:
                if lane == "runtime":  # tests also import modules they write to a temp dir
                    problems.append(f"{where}: imports {module!r}, which no package provides")
                reported.add(module)
                continue
            used[lane] |= dists
            if not dists & allowed:
                wanted = "dependencies or a runtime extra" if lane == "runtime" else lane
                problems.append(
                    f"{where}: imports {module!r} ({', '.join(sorted(dists))}), which is not "
                    f"declared in {wanted} of pyproject.toml"
                )
                reported.add(module)
                continue
            if lane == "runtime" and not dists & groups[""]:
                extra = table.get(module)
                if extra is None or not dists & groups.get(extra, set()):
                    problems.append(
                        f"{where}: imports {module!r} from an extra, but buttress.errors._EXTRAS "
                        f"names {extra!r} for it (the extra that declares it: "
                        f"{', '.join(sorted(g for g in runtime if dists & groups[g])) or '-'})"
                    )
                    reported.add(module)
    for module, extra in sorted(table.items()):
        if extra not in groups:
            problems.append(
                f"src/buttress/errors.py: _EXTRAS names {extra!r} for {module!r}, no such extra"
            )
    used["dev"] |= used["runtime"]
    for group in sorted(groups):
        if group in {"all", "bench"}:
            continue
        lane = "dev" if group == "dev" else "runtime"
        mine = own_specs(pyproject, group) if group else groups[""]
        for dist in sorted(mine):
            stubbed = STUBS.match(dist)
            if dist in used[lane] or dist in TOOLS:
                continue
            if stubbed and norm(stubbed.group(1)) in used["runtime"] | used[lane]:
                continue
            what = f"extra {group!r}" if group else "dependencies"
            problems.append(f"pyproject.toml: {what} declares {dist!r}, which nothing imports")
    return problems


def main(argv: list[str]) -> int:
    project_dir = Path(argv[0] if argv else Path(__file__).resolve().parents[1])
    problems = check(project_dir)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print("dependencies: every import is declared, every declaration is imported")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
