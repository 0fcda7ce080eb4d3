#!/usr/bin/env bash
# Command (b): install everything (Python dependencies into .venv, Debian packages that are
# missing, PostgreSQL/MariaDB/Redis started when they do not answer) and run the whole check:
# ruff (lint + format), mypy --strict, the import contracts, and pytest against the real services and Chromium.
# Extra arguments go to pytest (e.g. -k token).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
started=$(date +%s)

ensure_debian_packages chromium postgresql postgresql-client mariadb-server mariadb-client \
  redis-server redis-tools openssl age zstd faketime
ensure_postgres
ensure_mariadb
ensure_redis
ensure_venv "dev"

say "ruff"
.venv/bin/ruff check src tests scripts bench
.venv/bin/ruff format --check src tests scripts bench
say "mypy --strict"
.venv/bin/mypy
say "import contracts (lint-imports: [tool.importlinter] in pyproject.toml)"
.venv/bin/lint-imports --no-cache
say "pytest"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests; that is a failure, not a pass" >&2
  rc=1
fi
say "check finished in $(( $(date +%s) - started ))s with exit code $rc"
exit "$rc"
