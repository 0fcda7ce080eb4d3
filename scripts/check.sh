#!/usr/bin/env bash
# Command (b): install everything (Python dependencies into .venv, pinned by constraints.txt;
# Debian packages that are missing; PostgreSQL/MariaDB/Redis started when they do not answer)
# and run the whole check: ruff (lint + format), mypy --strict, imports against declared
# dependencies, the import contracts (layers, independent domains), the state tests at the
# lowest declared redis-py, and pytest against the real
# services and Chromium with branch coverage (printed per package). This is what CI runs.
#
# --fast (first argument): the fast lane: ruff, the dependency check and every test that
# needs no service and takes no seconds (the marker expression FAST_LANE of tests/conftest.py);
# no service is installed or started, no mypy, no coverage.
#
# Extra arguments go to pytest (e.g. -k token, or --fast -k token); a run given some is a
# developer's: it skips the lowest-redis-py stage and coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
started=$(date +%s)
fast=0
if [ "${1:-}" = "--fast" ]; then fast=1; shift; fi
# tests/conftest.py marks the tests (FAST_LANE there is this expression; a test keeps them equal)
FAST_LANE="not (postgres or mariadb or redis or s3 or browser or root or slow)"

if [ "$fast" -eq 1 ]; then
  ensure_debian_packages openssl age zstd
else
  ensure_debian_packages chromium postgresql postgresql-client mariadb-server mariadb-client \
    redis-server redis-tools openssl age zstd faketime prometheus prometheus-alertmanager
  ensure_postgres
  ensure_mariadb
  ensure_redis
fi
ensure_venv "dev"
if [ "$fast" -eq 0 ]; then ensure_postgres_runs_venv; fi

say "ruff"
.venv/bin/ruff check src tests scripts bench
.venv/bin/ruff format --check src tests scripts bench
say "dependencies (scripts/check_deps.py)"
.venv/bin/python scripts/check_deps.py
say "import contracts (lint-imports: [tool.importlinter] in pyproject.toml)"
.venv/bin/lint-imports --no-cache

set +e
if [ "$fast" -eq 1 ]; then
  say "pytest: the fast lane"
  .venv/bin/python -m pytest -m "$FAST_LANE" "$@"
  rc=$?
else
  say "mypy --strict"
  set -e
  .venv/bin/mypy
  if [ "$#" -eq 0 ]; then  # the whole check (CI); a run given pytest arguments skips this
    ensure_min_redis
    say "tests/state at the lowest declared redis-py ($(cat "$MIN_REDIS_DIR/.version"))"
    PYTHONPATH="$MIN_REDIS_DIR" .venv/bin/python -c "import redis, sys
from packaging.version import Version
sys.exit(Version(redis.__version__) != Version('$(cat "$MIN_REDIS_DIR/.version")'))"
    PYTHONPATH="$MIN_REDIS_DIR" .venv/bin/python -m pytest -q -p no:cacheprovider tests/state \
      -m "not slow"
  fi
  set +e
  if [ "$#" -gt 0 ]; then
    say "pytest $*"
    .venv/bin/python -m pytest "$@"
    rc=$?
  else
    say "pytest (branch coverage; the tests' subprocesses are measured too)"
    rm -f .coverage .coverage.*
    COVERAGE_FILE="$PWD/.coverage" .venv/bin/python -m coverage run -m pytest
    rc=$?
    say "coverage per package"
    if ! { COVERAGE_FILE="$PWD/.coverage" .venv/bin/python -m coverage combine -q &&
           .venv/bin/python scripts/coverage_report.py .coverage; }; then
      echo "error: the coverage report failed" >&2
      [ "$rc" -eq 0 ] && rc=1
    fi
  fi
fi
set -e
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests; that is a failure, not a pass" >&2
  rc=1
fi
say "check finished in $(( $(date +%s) - started ))s with exit code $rc"
exit "$rc"
