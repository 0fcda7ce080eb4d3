"""Print line and branch coverage per package of buttress, from the combined ``.coverage`` data
that ``coverage run -m pytest`` (scripts/check.sh) wrote, the test's subprocesses included.

Usage: ``python scripts/coverage_report.py [DATA_FILE]``; exit 1 when there is no data.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import coverage

PACKAGE = "buttress"


def package_of(path: str) -> str:
    """``src/buttress/backup/s3.py`` -> ``backup``; a module directly in buttress -> ``.``."""
    parts = Path(path).parts
    inner = parts[len(parts) - parts[::-1].index(PACKAGE) :] if PACKAGE in parts else parts
    return inner[0] if len(inner) > 1 else "."


def main(argv: list[str]) -> int:
    data_file = argv[0] if argv else ".coverage"
    if not Path(data_file).exists():
        print(f"error: no coverage data in {data_file}", file=sys.stderr)
        return 1
    cov = coverage.Coverage(data_file=data_file)
    cov.load()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        cov.json_report(outfile=str(out))
        report = json.loads(out.read_text())
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for path, info in report["files"].items():
        summary = info["summary"]
        row = totals[package_of(path)]
        row[0] += summary["num_statements"]
        row[1] += summary["covered_lines"]
        row[2] += summary.get("num_branches", 0)
        row[3] += summary.get("covered_branches", 0)
    if not totals:
        print("error: the coverage data holds no file of buttress", file=sys.stderr)
        return 1

    def pct(done: int, total: int) -> str:
        return f"{100.0 * done / total:5.1f}%" if total else "    -"

    def row(name: str, stmts: int, lines: int, branches: int, taken: int) -> str:
        return (
            f"{name:<14} {stmts:>7} {pct(lines, stmts):>8} {branches:>9} {pct(taken, branches):>8}"
        )

    print(f"{'package':<14} {'lines':>7} {'covered':>8} {'branches':>9} {'covered':>8}")
    grand = [0, 0, 0, 0]
    for name in sorted(totals):
        grand = [g + v for g, v in zip(grand, totals[name], strict=True)]
        print(row(name, *totals[name]))
    print(row("TOTAL", *grand))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
