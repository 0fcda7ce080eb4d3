"""The output directory of ``buttress alerts generate`` and what ``check`` and ``test`` run on it.

:func:`write` replaces the directory at once: every file is written into a new directory beside
it, the user's own files (those at no generated path) are copied in too, then the old
directory is renamed aside, the new one renamed into its place, and the old one deleted. A
manifest (``.buttress-generated.json``: path, kind and SHA-256 of each file written) tells the
next run which files it wrote: a file at a generated path that is not in it, or was edited
since, is refused unless ``force``.

:func:`check` and :func:`test` run promtool and amtool on the files of a directory, as the
manifest lists them by kind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buttress.alerting import tools

if TYPE_CHECKING:
    from buttress.alerting.generate import GeneratedFile
    from buttress.config import ButtressConfig

__all__ = [
    "MANIFEST",
    "Found",
    "RefusedError",
    "Result",
    "Written",
    "check",
    "files_of",
    "read_manifest",
    "test",
    "write",
]

MANIFEST = ".buttress-generated.json"


class RefusedError(Exception):
    """The output directory holds files this command did not write (or cannot be used)."""


@dataclass(frozen=True)
class Written:
    removed: list[str] = field(default_factory=list)  # generated before, no longer
    kept: list[str] = field(default_factory=list)  # the user's own files, carried over


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(out: Path) -> dict[str, dict[str, str]]:
    """``{path: {"kind": ..., "sha256": ...}}`` of the files the last generate wrote."""
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RefusedError(f"{out / MANIFEST} cannot be read: {exc}") from exc
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        raise RefusedError(f"{out / MANIFEST} is not a manifest written by buttress")
    return files


def _existing(out: Path) -> list[str]:
    return sorted(
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if (p.is_file() or p.is_symlink()) and p.name != MANIFEST
    )


def write(out: Path, files: Sequence[GeneratedFile], *, force: bool = False) -> Written:
    """Replace ``out`` with ``files`` (see the module docstring).

    Raises:
        RefusedError: a file at a generated path was not written by this command (without
            ``force``), or ``out`` is not a directory.
    """
    out = out.absolute()
    if out.exists() and not out.is_dir():
        raise RefusedError(f"{out} exists and is not a directory")
    previous = read_manifest(out) if out.is_dir() else {}
    existing = _existing(out) if out.is_dir() else []
    generated = {f.path for f in files}
    foreign = [
        path
        for path in existing
        if path in generated
        and (
            path not in previous or previous[path].get("sha256") != _sha((out / path).read_bytes())
        )
    ]
    if foreign and not force:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise RefusedError(
            f"{out} has files this command did not write (or that were edited since): {shown}; "
            "move them away, or pass --force to overwrite them"
        )
    removed = [p for p in existing if p in previous and p not in generated]
    kept = [p for p in existing if p not in previous and p not in generated]
    out.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        manifest: dict[str, dict[str, str]] = {}
        for file in files:
            target = new / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            data = file.content.encode("utf-8")
            target.write_bytes(data)
            if file.secret:
                target.chmod(0o600)
            manifest[file.path] = {"kind": file.kind, "sha256": _sha(data)}
        for path in kept:
            (new / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(out / path, new / path, follow_symlinks=False)
        (new / MANIFEST).write_text(
            json.dumps({"files": manifest}, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        new.chmod(0o755)
        _swap(new, out)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    return Written(removed=removed, kept=kept)


def _swap(new: Path, out: Path) -> None:
    if not out.exists():
        new.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    old.rmdir()  # a free name beside out, for the rename
    out.rename(old)
    try:
        new.rename(out)
    except OSError:
        old.rename(out)  # put the previous output back
        raise
    shutil.rmtree(old, ignore_errors=True)


@dataclass(frozen=True)
class Found:
    """The files of an output directory, by kind."""

    root: Path
    kinds: dict[str, str]  # path -> kind

    def of(self, kind: str) -> list[Path]:
        return [self.root / p for p, k in sorted(self.kinds.items()) if k == kind]


@contextlib.contextmanager
def files_of(out: Path | None, config: ButtressConfig) -> Iterator[Found]:
    """The files of ``out`` (a directory ``generate`` wrote), or of ``config`` generated into
    a temporary directory that is deleted afterwards."""
    if out is not None:
        if not out.is_dir():
            raise RefusedError(
                f"{out} is not a directory (run `buttress alerts generate --out {out}`)"
            )
        manifest = read_manifest(out)
        if not manifest:
            raise RefusedError(
                f"{out} has no {MANIFEST}: it was not written by `buttress alerts generate`"
            )
        yield Found(out, {p: entry.get("kind", "") for p, entry in manifest.items()})
        return
    from buttress.alerting.generate import generate

    files = generate(config)
    with tempfile.TemporaryDirectory(prefix="buttress-alerts-") as tmp:
        root = Path(tmp) / "out"
        write(root, files)
        yield Found(root, {f.path: f.kind for f in files})


@dataclass(frozen=True)
class Result:
    """One check or test run: what, whether it passed, what the tool said."""

    what: str
    ok: bool
    output: str = ""
    files: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"what": self.what, "ok": self.ok, "output": self.output, "files": list(self.files)}


def _rel(found: Found, paths: Sequence[Path]) -> tuple[str, ...]:
    out = []
    for p in paths:
        try:
            out.append(p.relative_to(found.root).as_posix())
        except ValueError:
            out.append(str(p))
    return tuple(out)


def check(found: Found, extra_rules: Sequence[Path]) -> list[Result]:
    """promtool check rules (lint fatal) on every rule file but the tests' fixtures, and on
    ``extra_rules``; amtool check-config on every alertmanager file.

    Raises:
        ToolMissingError: promtool or amtool is missing (names the Debian package).
    """
    from buttress.alerting.slo_tests import FIXTURE_SUFFIX

    results: list[Result] = []
    # the tests' fixtures are the same rules on a synthetic SLI: `test` loads (and so checks)
    # them, and checking them here too would double the time for nothing
    rules = [
        *(p for p in found.of("rules") if not p.name.endswith(FIXTURE_SUFFIX)),
        *extra_rules,
    ]
    if rules:
        run = tools.run(
            "promtool", ["check", "rules", "--lint=all", "--lint-fatal", *map(str, rules)]
        )
        results.append(
            Result(
                f"promtool check rules --lint=all --lint-fatal ({_count(len(rules), 'file')})",
                run.ok,
                "" if run.ok else run.output,
                _rel(found, rules),
            )
        )
    for config in found.of("alertmanager"):
        run = tools.run("amtool", ["check-config", str(config)])
        results.append(
            Result(
                f"amtool check-config {_rel(found, [config])[0]}",
                run.ok,
                "" if run.ok else run.output,
                _rel(found, [config]),
            )
        )
    return results


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n:,} {noun}s"


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def test(found: Found) -> list[Result]:
    """promtool test rules on every rules-test file; the route assertions of every
    alertmanager-test file with ``amtool config routes test --verify.receivers``.

    Raises:
        ToolMissingError: promtool or amtool is missing (names the Debian package).
    """
    rule_tests = found.of("rules-test")
    route_tests = found.of("alertmanager-test")
    if rule_tests:
        tools.find("promtool")
    if route_tests:
        tools.find("amtool")

    def rules_test(path: Path) -> Result:
        run = tools.run("promtool", ["test", "rules", path.name], cwd=path.parent)
        rel = _rel(found, [path])
        return Result(f"promtool test rules {rel[0]}", run.ok, "" if run.ok else run.output, rel)

    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        results = list(pool.map(rules_test, rule_tests))
    for path in route_tests:
        results.extend(_route_cases(found, path))
    return results


def _route_cases(found: Found, path: Path) -> list[Result]:
    rel = _rel(found, [path])
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
        config = spec["config"]
        cases = spec["cases"]
        if not isinstance(config, str) or not isinstance(cases, list):
            raise TypeError("config must be a path and cases a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [Result(f"route tests {rel[0]}", False, f"cannot read the route tests: {exc}", rel)]
    config_file = path.parent / config
    if not config_file.exists():
        config_file = found.root / config
    results = []
    for n, case in enumerate(cases):
        labels = case.get("labels", {}) if isinstance(case, dict) else {}
        receivers = case.get("receivers", []) if isinstance(case, dict) else []
        args = [
            "config",
            "routes",
            "test",
            f"--config.file={config_file}",
            f"--verify.receivers={','.join(receivers)}",
            *(f"{key}={value}" for key, value in labels.items()),
        ]
        run = tools.run("amtool", args)
        shown = ",".join(f"{k}={v}" for k, v in labels.items())
        results.append(
            Result(
                f"route {rel[0]}[{n}] {{{shown}}} -> {','.join(receivers)}",
                run.ok,
                "" if run.ok else run.output,
                rel,
            )
        )
    return results
