"""PostgreSQL failover drills under a canary load (issue 22, item 7): failover time and data
loss, with a synchronous and with an asynchronous standby.

    .venv/bin/python bench/failover.py              # 5 drills per row (~3 minutes on 2 cores)
    .venv/bin/python bench/failover.py --quick      # 2 drills per row (a smoke test)
    .venv/bin/python bench/failover.py --drills 10 --modes sync --scenarios crash

Run as root: each drill makes a fresh pair of private clusters (``tests/runbooks/failover/
pg_pair.py``: a primary and a ``pg_basebackup -R`` streaming replica, run by the ``postgres``
OS user on free ports, ``fsync = off`` on both alike), starts a :class:`Canary` that inserts
sequence-numbered rows as fast as commits return, on the server a DSN file names, waits for
``--warmup`` acknowledged rows, then:

- ``crash``: the primary is killed (``pg_ctl stop -m immediate``: no shutdown, its WAL
  senders die with it), then ``failover()`` runs with ``fence: stop`` (the primary is found
  down), promotes the replica, waits until it takes writes and rewrites the DSN file;
- ``planned``: ``failover()`` with ``fence: read_only`` on the live primary (sessions ended),
  the replica catches up on what the primary has, is promoted, the DSN file rewritten.

Failover time: from the start of the fence to the first row the new primary acknowledged
(the canary's reconnect included; failure *detection* is not: a drill knows when it
crashed the primary). ``--load N``: N pgbench clients write TPC-B transactions beside the
canary (more WAL in flight when the primary dies). Data loss: rows the canary saw
acknowledged that the new primary lacks. ``synchronous_standby_names = '*'`` with
``synchronous_commit = on`` (the default) in ``sync`` mode: a commit is acknowledged once the
standby flushed it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the private clusters of tests/backup/pg_cluster.py

from tests.backup.pg_cluster import Cluster, bin_dir  # noqa: E402
from tests.runbooks.failover.pg_pair import dsn_file, make_pair  # noqa: E402

from buttress.config._failover_pg import RepointDsnFileConfig  # noqa: E402
from buttress.runbooks.failover.canary import Canary  # noqa: E402
from buttress.runbooks.failover.postgres import failover  # noqa: E402


@dataclass
class Drill:
    seconds: float
    lost: int
    acked: int
    errors: int


def background_load(primary: Cluster, clients: int) -> subprocess.Popen[bytes] | None:
    """pgbench TPC-B writes on the primary, beside the canary (until the drill ends)."""
    if not clients:
        return None
    primary.pgbench("-i", "-s", "2", "-q")
    argv = ["pgbench", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"]
    argv += ["-n", "-c", str(clients), "-j", "2", "-T", "600", "postgres"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def drill(mode: str, scenario: str, warmup: int, load: int) -> Drill:
    clusters: list[Cluster] = []
    folder = Path(tempfile.mkdtemp(prefix="bt-bench-failover-"))
    target = folder / "primary.dsn"
    try:
        pair = make_pair(
            clusters,
            synchronous=mode == "sync",
            fence="stop" if scenario == "crash" else "read_only",
            repoint=RepointDsnFileConfig(dsn_file=target),
            max_lag_bytes=64 * 1024 * 1024,
        )
        dsn_file(target, pair.primary)
        pgbench = background_load(pair.primary, load)
        with Canary(target) as canary:
            canary.wait_acks(warmup)
            if scenario == "crash":
                pair.primary.stop("immediate")
            done = failover(pair.config)
            canary.wait_acks(len(canary.acks) + 100)
        if pgbench is not None:
            pgbench.kill()
            pgbench.wait()
        new = pair.replica.dsn()
        took = canary.failover_time(done.fenced.started_at, new)
        assert took is not None
        lost = canary.data_loss(new)
        return Drill(took, len(lost), len(canary.acks), canary.errors)
    finally:
        for cluster in clusters:
            cluster.stop("immediate")
            shutil.rmtree(cluster.root, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 drills per row, short warm-up")
    parser.add_argument("--drills", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2000, help="acknowledged rows first")
    parser.add_argument("--modes", default="sync,async")
    parser.add_argument("--scenarios", default="crash,planned")
    parser.add_argument(
        "--load", type=int, default=0, help="pgbench clients writing beside the canary"
    )
    args = parser.parse_args()
    drills, warmup = (2, 300) if args.quick else (args.drills, args.warmup)
    header = (
        f"{'standby':<8}{'scenario':<10}{'drills':>7}{'time p50':>10}{'time max':>10}"
        f"{'lost p50':>10}{'lost max':>10}{'lost sum':>10}{'acked':>9}"
    )
    rows = []
    for mode in args.modes.split(","):
        for scenario in args.scenarios.split(","):
            results = []
            for i in range(drills):
                one = drill(mode, scenario, warmup, args.load)
                print(
                    f"  {mode} {scenario} #{i + 1}: {one.seconds:.3f} s, lost {one.lost} of "
                    f"{one.acked} acknowledged ({one.errors} failed writes)",
                    flush=True,
                )
                results.append(one)
            times = [r.seconds for r in results]
            lost = [r.lost for r in results]
            rows.append(
                f"{mode:<8}{scenario:<10}{drills:>7}{statistics.median(times):>9.3f}s"
                f"{max(times):>9.3f}s{statistics.median(lost):>10g}{max(lost):>10}"
                f"{sum(lost):>10}{sum(r.acked for r in results):>9}"
            )
    print()
    print(header)
    print("\n".join(rows))
    version = bin_dir().parent.name
    load = f", pgbench -c {args.load} beside the canary" if args.load else ""
    print(f"\n(PostgreSQL {version}{load}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")


if __name__ == "__main__":
    main()
