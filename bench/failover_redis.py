"""Redis failover drills under a canary write load: failover time and lost writes, with and
without ``WAIT 1`` (issue 22, items 6-7).

    .venv/bin/python bench/failover_redis.py            # 5 drills per row
    .venv/bin/python bench/failover_redis.py --quick    # 2 drills per row (a smoke test)

Each drill starts two private redis-server processes on free ports (no persistence, as in
the tests), a replica synced from a primary, and a canary that RPUSHes sequence numbers on
whichever server takes writes (``buttress.runbooks.failover.redis_canary``). Rows:

- ``fence``: the runbook's planned failover: fence (CLIENT PAUSE WRITE), catch up (wait
  until the replica has the fenced primary's offset), check lag, promote (REPLICAOF NO
  ONE), wait until writable, re-attach the old primary;
- ``no-catchup``: the same without the catch-up: promoted as soon as fenced;
- ``crash``: the primary is killed (SIGKILL), then a forced promotion (its link is down, the
  lag unknown) and wait until writable; nothing to re-attach;
- ``partition``: the replication link (through a proxy) is cut, the primary keeps taking
  writes for 0.2 s (``PARTITION_SECONDS``: until it is found gone), then it is killed and
  the replica promoted as in ``crash``: what asynchronous replication loses; with WAIT 1
  no write is acknowledged while the link is cut. Its failover time includes the 0.2 s.

Failover time: from the fence (or the kill) to the first write the new primary acknowledged
(with WAIT 1: that a replica also has, so it includes the re-attach). Lost: acknowledged
writes the new primary does not have.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from buttress.runbooks.failover.redis import RedisPair, promote, wait_writable
from buttress.runbooks.failover.redis_canary import DrillResult, RedisCanary, drill

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the held replication link of tests/runbooks/failover
from tests.conftest import free_port  # noqa: E402
from tests.runbooks.failover.stall_proxy import StallProxy  # noqa: E402


def _start(workdir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (scripts/check.sh installs it)")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", str(workdir), "--repl-diskless-sync-delay", "0", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port, socket_timeout=1).ping()
            return proc, port
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                sys.exit(f"redis-server on port {port} did not start")
            time.sleep(0.02)


@contextmanager
def _pair(
    link: list[StallProxy] | None = None,
) -> Iterator[tuple[RedisPair, subprocess.Popen[bytes]]]:
    """Two servers, synced; with ``link``, the replication link runs through a proxy put
    there."""
    with tempfile.TemporaryDirectory(prefix="bench-failover-redis-") as tmp:
        primary, pport = _start(Path(tmp) / "primary")
        source = pport
        if link is not None:
            link.append(StallProxy(pport))
            source = link[0].port
        replica, rport = _start(Path(tmp) / "replica", "--replicaof", "127.0.0.1", str(source))
        try:
            client = redis.Redis(port=rport, decode_responses=True)
            deadline = time.monotonic() + 30
            while client.info("replication").get("master_link_status") != "up":
                if time.monotonic() > deadline:
                    sys.exit("the replica did not sync")
                time.sleep(0.02)
            # after a full sync the primary holds the stream back until the replica's first
            # acknowledgement (up to a second, even listed online): a probe must arrive
            writer = redis.Redis(port=pport, decode_responses=True)
            writer.set("bench:streaming", "1")
            while client.get("bench:streaming") != "1":
                if time.monotonic() > deadline:
                    sys.exit("the primary did not stream to the replica")
                time.sleep(0.005)
            writer.delete("bench:streaming")
            writer.close()
            client.close()
            pair = RedisPair(
                "bench", f"redis://127.0.0.1:{pport}/0", f"redis://127.0.0.1:{rport}/0"
            )
            yield pair, primary
        finally:
            for proc in (replica, primary):
                proc.kill()
                proc.wait()
            for proxy in link or ():
                proxy.close()


def _crash_drill(
    pair: RedisPair,
    primary: subprocess.Popen[bytes],
    wait_replicas: int,
    link: StallProxy | None = None,
) -> DrillResult:
    canary = RedisCanary([pair.primary, pair.replica], wait_replicas=wait_replicas)
    with canary:
        canary.wait_for(200, 30, server=0)
        killed = time.monotonic()
        if link is not None:  # partitioned first: the primary takes writes it cannot send
            link.held.set()
            time.sleep(PARTITION_SECONDS)
        primary.kill()
        primary.wait()
        promote(pair, force=True)
        wait_writable(pair.replica, 30)
        # with WAIT 1 no replica is left: no write can be acknowledged as replicated
        if not wait_replicas:
            canary.wait_for(1, 30, server=1)
        first = canary.first_ack(1, killed)
    lost = canary.lost(pair.replica)
    return DrillResult(
        wait_replicas, len(canary.acknowledged), len(lost),
        None if first is None else first - killed, None,
    )  # fmt: skip


PARTITION_SECONDS = 0.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 drills per row")
    parser.add_argument("--drills", type=int, default=None, help="drills per row (5)")
    args = parser.parse_args()
    drills = args.drills or (2 if args.quick else 5)
    rows = []
    for scenario in ("fence", "no-catchup", "crash", "partition"):
        for wait_replicas in (0, 1):
            results = []
            for _ in range(drills):
                link: list[StallProxy] | None = [] if scenario == "partition" else None
                with _pair(link) as (pair, primary):
                    if scenario in ("fence", "no-catchup"):
                        caught = scenario == "fence"
                        results.append(
                            drill(pair, wait_replicas=wait_replicas, wait_catch_up=caught)
                        )
                    else:
                        held = link[0] if link else None
                        results.append(_crash_drill(pair, primary, wait_replicas, held))
            rows.append((scenario, wait_replicas, results))
    print(f"Redis failover, {drills} drills per row (redis-server, 127.0.0.1, canary RPUSH)")
    print(f"{'scenario':<10} {'WAIT':<5} {'p50 s':>7} {'max s':>7} {'acked':>7} "
          f"{'lost':>5} {'lost/drill':>12}")  # fmt: skip
    for scenario, wait_replicas, results in rows:
        times = [r.failover_seconds for r in results if r.failover_seconds is not None]
        p50 = f"{statistics.median(times):.3f}" if times else "-"
        top = f"{max(times):.3f}" if times else "-"
        acked = sum(r.acknowledged for r in results)
        lost = [r.lost for r in results]
        print(f"{scenario:<10} {wait_replicas or '-':<5} {p50:>7} {top:>7} {acked:>7} "
              f"{sum(lost):>5} {','.join(map(str, lost)):>12}")  # fmt: skip


if __name__ == "__main__":
    main()
