#!/usr/bin/env bash
# Set up the benchmark-only virtual environment for benchmarks/bench_perception.py's
# Ultralytics comparison: torch (CPU) and ultralytics live ONLY here, never in saferoad's
# own dependencies. Idempotent; run from the repository root:
#   bash benchmarks/setup_bench_perception.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-bench
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip
# torch 2.13.0 resolves to the local CPU wheel on this machine
"$VENV/bin/pip" install -q "torch==2.13.0"
# torchvision 0.28 is the release built for torch 2.13; pinning it keeps pip from pulling a
# newer (CUDA) torch in its place
"$VENV/bin/pip" install -q "torchvision==0.28.0"
"$VENV/bin/pip" install -q ultralytics onnx onnxslim onnxruntime lap "torch==2.13.0" "torchvision==0.28.0"
"$VENV/bin/python" -c "import torch, ultralytics; print('torch', torch.__version__, 'ultralytics', ultralytics.__version__)"
