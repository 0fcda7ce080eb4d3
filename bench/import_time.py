"""Import cost of buttress's modules, each in a fresh interpreter (best of N runs).

    .venv/bin/python bench/import_time.py [--runs 15]

Prints milliseconds per module and the ratio to a bare interpreter start. The library
domains (buttress.resilience, buttress.health) must stay cheap: they are imported by every
service that uses buttress, while the server stack is imported only by `buttress serve`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

MODULES = [
    "buttress",
    "buttress.resilience",
    "buttress.health",
    "buttress.config",
    "buttress.cli",
    "buttress.server.app",
]


def best_of(code: str, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    bare = best_of("pass", args.runs)
    print(f"{'module':<24} {'ms (interp+import)':>18} {'import ms':>10} {'x bare':>7}")
    print(f"{'(bare interpreter)':<24} {bare * 1000:>18.1f} {0:>10.1f} {1:>7.2f}")
    for module in MODULES:
        total = best_of(f"import {module}", args.runs)
        own = (total - bare) * 1000
        print(f"{module:<24} {total * 1000:>18.1f} {own:>10.1f} {total / bare:>7.2f}")


if __name__ == "__main__":
    main()
