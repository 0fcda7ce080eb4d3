"""Import cost of buttress's modules, each in a fresh interpreter (best of N runs).

    .venv/bin/python bench/import_time.py [--runs 15]

Prints milliseconds per module and the ratio to a bare interpreter start. The library
domains (buttress.resilience, buttress.health, buttress.degradation) must stay cheap: they are
imported by every service that uses buttress, while the server stack is imported only by
`buttress serve`.
Then whole commands, start to exit, as the console script runs them (``buttress._entry``) and
as a plain ``main()`` call would (no collector tuning), to show what the entry point saves.
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
    "buttress.degradation",
    "buttress.config",
    "buttress.cli",
    "buttress.server.app",
]


COMMANDS = [["--version"], ["config", "check"], ["backup", "--help"], ["level", "--help"]]


def best_of(code: str, runs: int, args: tuple[str, ...] = ()) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True)
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
    print(f"\n{'command':<24} {'entry point ms':>18} {'plain main() ms':>16} {'ratio':>7}")
    entry = "import sys; sys.argv[0] = 'buttress'; from buttress._entry import run; run()"
    plain = "import sys; from buttress.cli import main; sys.exit(main(sys.argv[1:]))"
    for command in COMMANDS:
        ours = best_of(entry, args.runs, tuple(command))
        other = best_of(plain, args.runs, tuple(command))
        name = "buttress " + " ".join(command)
        print(f"{name:<24} {ours * 1000:>18.1f} {other * 1000:>16.1f} {other / ours:>7.2f}")


if __name__ == "__main__":
    main()
