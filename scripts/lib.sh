# Shared helpers for scripts/serve.sh and scripts/check.sh (sourced, not run).
# Each step is idempotent: it does nothing when what it ensures is already there.

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "error: '$*' needs root (run as root or install sudo)" >&2; return 1; fi
}

# A Python >= 3.11 interpreter.
find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  echo "error: buttress needs Python 3.11 or newer (none found on PATH)" >&2
  return 1
}

# ensure_venv EXTRAS: a virtualenv in .venv with buttress installed editable with EXTRAS, at
# the versions of constraints.txt (the tested ones; scripts/update_constraints.py writes it).
ensure_venv() {
  local extras="$1"
  if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    "$(find_python)" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  # skip pip when this exact pyproject.toml and constraints.txt were already installed with
  # these extras
  local stamp=".venv/.buttress-$extras" digest
  digest=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then return 0; fi
  say "installing buttress[$extras] into .venv (versions of constraints.txt)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt \
    -e ".[$extras]"
  echo "$digest" > "$stamp"
}

# The lowest redis-py that pyproject.toml's redis extra allows ("redis[hiredis]>=5.0.1" ->
# 5.0.1), installed alone into .venv/min-redis (MIN_REDIS_DIR) to put first on PYTHONPATH:
# the state store uses redis-py's connection and cluster internals, which move between
# releases.
MIN_REDIS_DIR=.venv/min-redis
ensure_min_redis() {
  local version
  version=$(.venv/bin/python - <<'PY'
import re, tomllib
specs = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["redis"]
found = [m.group(1) for s in specs if (m := re.match(r"redis(?:\[[^\]]*\])?\s*>=\s*([0-9.]+)", s))]
print(found[0] if found else "")
PY
)
  if [ -z "$version" ]; then echo "error: pyproject.toml: the redis extra has no 'redis>=' bound" >&2; return 1; fi
  if [ "$(cat "$MIN_REDIS_DIR/.version" 2>/dev/null)" = "$version" ]; then return 0; fi
  say "installing redis==$version alone into $MIN_REDIS_DIR"
  rm -rf "$MIN_REDIS_DIR"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$MIN_REDIS_DIR" "redis==$version"
  echo "$version" > "$MIN_REDIS_DIR/.version"
}

# ensure_debian_packages PKG...: install the Debian packages whose status is not "installed".
ensure_debian_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

wait_for() {  # wait_for SECONDS COMMAND...: retry COMMAND until it succeeds or time runs out
  local seconds="$1"; shift
  for _ in $(seq 1 $((seconds * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  return 1
}

pg_answers() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; }

ensure_postgres() {
  if pg_answers; then return 0; fi
  say "starting PostgreSQL"
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then echo "error: no PostgreSQL cluster in /etc/postgresql" >&2; return 1; fi
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  # the tests connect as postgres over TCP without a password, as on the CI machines
  if ! as_root grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  wait_for 30 pg_answers || { echo "error: PostgreSQL does not answer on 127.0.0.1:5432" >&2; return 1; }
}

mariadb_answers() { mariadb-admin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; }

ensure_mariadb() {
  if mariadb_answers; then return 0; fi
  say "starting MariaDB"
  as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  wait_for 30 mariadb_answers || { echo "error: MariaDB does not answer on 127.0.0.1:3306" >&2; return 1; }
}

redis_answers() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

ensure_redis() {
  if redis_answers; then return 0; fi
  say "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for 15 redis_answers || { echo "error: Redis does not answer on 127.0.0.1:6379" >&2; return 1; }
}

# PostgreSQL runs archive_command/restore_command as its own OS user: the WAL tests have it run
# this checkout's buttress, so that user must reach the interpreter (pyenv's lives under /root,
# which is 0700 on these machines): every folder on the way gets o+x (traverse, not list).
ensure_postgres_runs_venv() {
  id postgres >/dev/null 2>&1 || return 0
  local python dir
  python=$(readlink -f .venv/bin/python)
  dir=$(dirname "$python")
  while [ "$dir" != "/" ]; do
    if [ "$(( 0$(stat -c %a "$dir") & 1 ))" -eq 0 ]; then
      say "letting the postgres user traverse $dir (WAL archive tests)"
      as_root chmod o+x "$dir"
    fi
    dir=$(dirname "$dir")
  done
  for dir in "$(pwd)" "$(pwd)/.venv"; do
    while [ "$dir" != "/" ]; do
      [ "$(( 0$(stat -c %a "$dir") & 1 ))" -eq 0 ] && as_root chmod o+x "$dir"
      dir=$(dirname "$dir")
    done
  done
  runuser -u postgres -- .venv/bin/python -c 'import sys' ||
    { echo "error: the postgres user cannot run .venv/bin/python" >&2; return 1; }
}
