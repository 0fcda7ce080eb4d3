"""Time from `buttress serve` (embedded default, fresh data directory) to /healthz 200 and the
dashboard page, best and median of N starts.

    .venv/bin/python bench/serve_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def one_start() -> float:
    with tempfile.TemporaryDirectory() as data:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "buttress", "--data-dir", data, "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        url = proc.stdout.readline().rsplit(" ", 1)[1].strip()
        while True:
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as r:  # noqa: S310  # loopback URL
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.01)
        with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310  # loopback URL
            assert b"<title>buttress</title>" in r.read()
        elapsed = time.perf_counter() - started
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        proc.stdout.close()
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times = [one_start() for _ in range(args.runs)]
    print(
        f"serve -> /healthz + dashboard: best {min(times):.2f}s, "
        f"median {statistics.median(times):.2f}s over {args.runs} starts "
        "(first start: migrations + admin token included)"
    )


if __name__ == "__main__":
    main()
