"""Run in a child process by the crash tests: start a run of ``argv[2]`` on catalog ``argv[1]``,
print its id, and execute it (the test kills this process mid-run)."""

from __future__ import annotations

import sys

from buttress.catalog import Catalog
from tests.runbooks.standin import service


def main() -> None:
    catalog = Catalog(sys.argv[1])
    runs = service(catalog)
    run_id = runs.start(sys.argv[2], {}, "cli:child")
    print(run_id, flush=True)
    runs.execute(run_id)


if __name__ == "__main__":
    main()
