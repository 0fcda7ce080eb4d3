"""Runbook step overhead: a runbook of N no-op command steps (``true``) run by the engine on a
memory recorder, against N bare fork/execs of ``true``; the difference is the engine's own
cost per step (templates, masking, recording, output capture threads).

    .venv/bin/python bench/runbook_steps.py               # 100 steps, 5 rounds
    .venv/bin/python bench/runbook_steps.py --steps 1000 --rounds 3

Each figure is the median of ``--rounds``. The machine is shared: compare the two lines of
one run, not runs of different days. A catalog recorder (``buttress runbook run``) adds its
own writes per step on top.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from buttress.config import load
from buttress.runbooks.engine import Engine
from buttress.runbooks.recorder import MemoryRecorder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="buttress-bench-"))
    steps = "".join(
        f"        - {{name: s{i}, command: {{argv: ['true']}}}}\n" for i in range(args.steps)
    )
    path = folder / "buttress.yaml"
    path.write_text("runbooks:\n  definitions:\n    - name: noop\n      steps:\n" + steps)
    config = load(path, env={})
    bare: list[float] = []
    engine: list[float] = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for _ in range(args.steps):
            subprocess.run(["true"], check=True)
        bare.append((time.perf_counter() - start) / args.steps)
        runner = Engine(config, recorder=MemoryRecorder(), actor="bench")
        start = time.perf_counter()
        assert runner.run("noop", {}, run_id="bench") == "succeeded"
        engine.append((time.perf_counter() - start) / args.steps)
    b, e = statistics.median(bare), statistics.median(engine)
    print(f"{args.steps} steps, median of {args.rounds} rounds")
    print(f"  bare fork/exec of true: {b * 1000:.2f} ms")
    print(f"  engine, per step:       {e * 1000:.2f} ms (its own: {(e - b) * 1000:.2f} ms)")


if __name__ == "__main__":
    main()
