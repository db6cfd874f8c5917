#!/usr/bin/env bash
# One prepared run on the GPU machine (device tool): training/ml's tests (CUDA ones included) and
# the train-step throughput benchmark. Needs .gpu/minilm (MiniLM's config.json and tokenizer, no
# weights), carried along: see training/ml/README.md. Results go to $OUT.
set -uo pipefail
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 PYTHONPATH=. STEWARD_MINILM_DIR=.gpu/minilm
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, transformers, sklearn, pyarrow, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda, '| transformers', transformers.__version__, '| sklearn', sklearn.__version__, '| pyarrow', pyarrow.__version__, '| numpy', numpy.__version__)"
} 2>&1 | tee "$OUT/env.txt"
# The GPU machine has no Django: tests/training/ml and the conftest files above it import none at
# import time, and the fixtures that need it stay unused (the same run as `pytest tests/training/ml -p no:django`).
timeout 150 python3 -m pytest -c /dev/null --rootdir=. -p no:django -p no:cacheprovider \
  -q -x tests/training/ml 2>&1 | tail -25 | tee "$OUT/tests.txt"
timeout "${THROUGHPUT_TIMEOUT:-330}" python3 bench/train.py --gpu-throughput --json-out "$OUT/throughput.json" 2>&1 \
  | grep -v "Loading weights" | tee "$OUT/throughput.txt"
