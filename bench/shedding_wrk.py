"""The load-shedding middleware's cost: requests/s of a minimal FastAPI app served by uvicorn
(one worker) with and without LoadSheddingMiddleware (routes, an AIMD limit, a CPU throttle),
measured by wrk (`apt-get install wrk`) on loopback in interleaved rounds (medians).

    .venv/bin/python bench/shedding_wrk.py [--rounds 3] [--seconds 5]

bench/flags.py runs it after the flag lookups.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time


def serve(port: int, wrapped: bool) -> None:
    """The app wrk hits (run in a child process)."""
    import uvicorn
    from fastapi import FastAPI

    from buttress.degradation.shedding import AIMDLimit, CpuThrottle, LoadSheddingMiddleware, Route

    app = FastAPI()

    @app.get("/api/items/{item}")
    async def item(item: int) -> dict[str, int]:
        return {"item": item}

    served: object = app
    if wrapped:
        served = LoadSheddingMiddleware(
            app,
            routes=[Route("/checkout*", "critical"), Route("/api/items*", "standard")],
            limit=AIMDLimit(initial=200, minimum=50, maximum=1000, target=0.5),
            cpu=CpuThrottle(warning=99.5, critical=99.9),
        )
    uvicorn.run(served, host="127.0.0.1", port=port, log_level="error", access_log=False)  # type: ignore[arg-type]


def _pin(core: int) -> list[str]:
    cores = os.cpu_count() or 1
    return ["taskset", "-c", str(core % cores)] if shutil.which("taskset") and cores > 1 else []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"the benchmark server on port {port} did not start") from None
            time.sleep(0.1)


def middleware_cost(rounds: int = 3, seconds: int = 5) -> None:
    if shutil.which("wrk") is None:
        print("\n(wrk is not installed: apt-get install wrk, to measure the middleware)")
        return
    servers = {}
    for wrapped in (False, True):
        port = _free_port()
        flag = ["--wrapped"] if wrapped else []
        # servers on core 0, wrk on core 1 (when taskset exists): less scheduler noise
        proc = subprocess.Popen([*_pin(0), sys.executable, __file__, "--serve", str(port), *flag])
        servers[wrapped] = (port, proc)
    rates: dict[bool, list[float]] = {False: [], True: []}
    try:
        for port, _ in servers.values():
            _wait(port)
        for _ in range(rounds):
            for wrapped, (port, _) in servers.items():
                url = f"http://127.0.0.1:{port}/api/items/7"
                out = subprocess.run(
                    [*_pin(1), "wrk", "-t1", "-c32", f"-d{seconds}s", url],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                found = re.search(r"Requests/sec:\s+([\d.]+)", out)
                if found is None:
                    raise SystemExit(f"wrk printed no rate:\n{out}")
                rates[wrapped].append(float(found.group(1)))
    finally:
        for _, proc in servers.values():
            proc.terminate()
            proc.wait(timeout=10)
    plain, shed = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"\n| minimal FastAPI app, wrk -c32, {rounds} x {seconds}s | requests/s (median) |")
    print("|---|---|")
    print(f"| without the middleware | {plain:,.0f} |")
    print(f"| with LoadSheddingMiddleware | {shed:,.0f} |")
    print(f"\nmiddleware overhead: {100 * (1 - shed / plain):.1f}% of throughput")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--wrapped", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.wrapped)
    else:
        middleware_cost(args.rounds, args.seconds)


if __name__ == "__main__":
    main()
