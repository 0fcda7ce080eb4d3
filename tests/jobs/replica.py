"""A replica for the multi-process tests and bench/jobs.py: a job runner on the catalog at
argv[1] with a job ``tick`` every argv[3] seconds (default 2), named argv[2], until killed.
Options by environment: BUTTRESS_TEST_LEASE, BUTTRESS_TEST_RENEW (seconds)."""

from __future__ import annotations

import os
import signal
import sys
import threading

from buttress.catalog import Catalog
from buttress.jobs import Every, Job, JobContext, JobRunner


def main() -> None:
    url, name = sys.argv[1], sys.argv[2]
    every = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    catalog = Catalog(url)
    catalog.upgrade()
    runner = JobRunner(
        catalog,
        replica=name,
        lease=float(os.environ.get("BUTTRESS_TEST_LEASE", "5")),
        renew=float(os.environ.get("BUTTRESS_TEST_RENEW", "1")),
    )

    def tick(ctx: JobContext) -> None:
        return None

    runner.handler("tick", tick)
    runner.register(Job("tick", Every(every), "tick"))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    runner.start()
    print("started", flush=True)
    done.wait()
    runner.stop()


if __name__ == "__main__":
    main()
