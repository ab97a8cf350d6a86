#!/usr/bin/env bash
# Set everything up and run VReID: virtualenv + requirements, database migrations, a first admin
# account, Redis (started if none answers at REDIS_URL), one RQ worker and the web server (gunicorn) on
# http://127.0.0.1:8000. Ctrl+C stops them. Run more workers: .venv/bin/python manage.py rqworker default
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
umask 077  # the database, media and Redis's files: readable by this account only
ensure_redis
mkdir -p var
chmod 700 var
if [ -z "${SECRET_KEY:-}" ]; then
  [ -s var/secret_key ] || "$PY" -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret_key
  chmod 600 var/secret_key
  SECRET_KEY="$(cat var/secret_key)"
  export SECRET_KEY
fi
export DJANGO_SETTINGS_MODULE=vreid_site.settings

# The recommended vehicle models (registry), when their official source answers within a few
# seconds; offline, the embedded models keep working and one line says so.
if [ "${VREID_FETCH_MODELS:-1}" != "0" ]; then
  if "$PY" -m engine models fetch --recommended --timeout 5 --quiet >/dev/null 2>var/fetch.log; then
    log "vehicle models present ($("$PY" -m engine models | grep -c ' present ') files in the model folders)"
  else
    log "could not fetch the recommended vehicle models ($(tail -n 1 var/fetch.log | cut -c1-120)); using the embedded ones"
  fi
fi

"$PY" manage.py migrate --noinput
"$PY" manage.py ensure_admin

WORKER_PID=""
cleanup() {
  [ -n "$WORKER_PID" ] && kill "$WORKER_PID" 2>/dev/null || true
  stop_started_redis
}
trap cleanup EXIT INT TERM
# The worker runs at a lower CPU priority (VREID_WORKER_NICE, default 10; 0 = same as the web) and
# one inference thread per model, so that pages and the job page's polling stay responsive while
# a search saturates the cores (benchmarks/RESULTS.md, web load); on an idle machine it still
# gets all the CPU.
VREID_ENGINE_THREADS="${VREID_ENGINE_THREADS:-1}" nice -n "${VREID_WORKER_NICE:-10}" "$PY" manage.py rqworker default &
WORKER_PID=$!
log "open http://${VREID_BIND:-127.0.0.1:8000}/ (Ctrl+C stops the server, the worker and any Redis started here)"
# gunicorn, as measured by benchmarks/load_test.py: threads wait on the database and Redis while
# another request renders; one process per core.
"$PY" -m gunicorn vreid_site.wsgi:application --bind "${VREID_BIND:-127.0.0.1:8000}" \
  --workers "${VREID_WEB_WORKERS:-2}" --worker-class gthread --threads "${VREID_WEB_THREADS:-4}" \
  --timeout 120 --graceful-timeout 10 --log-level warning
