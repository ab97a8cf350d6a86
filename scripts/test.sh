#!/usr/bin/env bash
# Run the whole test suite (engine and web): creates/updates .venv, makes sure Redis answers,
# then pytest over tests/. Extra arguments go to pytest (e.g. scripts/test.sh tests/web -x).
# DATABASE_URL=postgres://... runs the web tests against PostgreSQL instead of SQLite.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_redis
trap stop_started_redis EXIT
export DJANGO_SETTINGS_MODULE=vreid_site.settings_test
set +e
"$PY" -m pytest "${@:-tests}"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  log "pytest collected no tests: that is a failure, not a pass"
  rc=1
fi
exit "$rc"
