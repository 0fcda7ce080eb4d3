#!/usr/bin/env bash
# Command (a): install what buttress needs and run the control plane on the embedded default
# (SQLite catalog and local files in ./.buttress). Prints the URL and, on the first start, the
# admin token. Extra arguments go to `buttress serve` (e.g. --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_venv "server,backup"
exec .venv/bin/buttress serve "$@"
