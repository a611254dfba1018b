#!/usr/bin/env bash
# The GPU half, measured in one command on a machine with a CUDA device and the project's
# dependencies already installed (no network, no install: it runs from the source tree).
# Writes every result under docs/gpu/: the CUDA tests' report, the seed's five presets,
# bench, the ladder on cuda, grids on cuda, with their JSON and PNGs.
#
#   bash benchmarks/gpu.sh            # on the GPU machine, from the repository root
#   GPU_STEPS=20000 bash benchmarks/gpu.sh   # shorter runs (the default is the seed's)
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
OUT="${GPU_OUT:-docs/gpu}"
STEPS="${GPU_STEPS:-200000}"
mkdir -p "$OUT/img"
if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu.sh: no CUDA device here (torch.cuda.is_available() is False): nothing measured" >&2
  exit 2
fi
status=0
step() {  # run one part, keep going on failure, remember it
  echo "== $*" | tee -a "$OUT/log.txt"
  "$@" 2>&1 | tee -a "$OUT/log.txt"
  local code=${PIPESTATUS[0]}
  [ "$code" -eq 0 ] || { echo "== failed ($code): $*" | tee -a "$OUT/log.txt"; status=1; }
}
: > "$OUT/log.txt"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
python -c "from gradpoly.environment import describe_machine as d; import json; print(json.dumps(d(), indent=2))" > "$OUT/machine.json"

# Every CUDA test (they skip without a GPU elsewhere; here they must run).
step python -m pytest -q -rs -k "cuda" -p no:cacheprovider tests --junitxml="$OUT/tests.xml"

# The seed's five presets (CPU and GPU, numpy/torch/autograd), its table and plots.
step python -m gradpoly demo --steps "$STEPS" --plots "$OUT/img" --json "$OUT/seed_demo.json"

# Every engine configuration, the CUDA ones included, side by side.
step python -m gradpoly bench --steps "$STEPS" --repeats 5 --threads 1 \
  --json "$OUT/bench.json" --csv "$OUT/bench.csv" --plot "$OUT/img/bench.png"

# The ladder on the GPU: one remedy at a time.
step python -m gradpoly ladder --device cuda --steps 20000 --repeats 3 \
  --json "$OUT/ladder.json" --markdown "$OUT/ladder.md" --plot "$OUT/img/ladder.png"

# Grids on one axis, torch on cuda beside the CPU engines.
step python benchmarks/grids.py --device cuda --cube 0 --json "$OUT/grids.json"

# Many curves (per-series x) with torch on cuda.
step python benchmarks/many.py --repeats 3 --device cuda --json "$OUT/many.json"

echo "gpu.sh: results in $OUT (status $status)"
exit "$status"
