#!/usr/bin/env bash
# Regenerate every figure and table in the README (takes ~10 minutes on 2 cores).
# Run from the repository root after the README's set-up command.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/img

# The notebook end to end: seed table, trace and fit plots.
gradpoly demo --plots docs/img --json docs/seed_demo.json | tee docs/seed_demo.txt

# Every engine configuration, 200,000 steps, one thread, median of 5 after a warm-up.
gradpoly bench --steps 200000 --repeats 5 --threads 1 \
  --json docs/bench.json --csv docs/bench.csv --plot docs/img/bench.png | tee docs/bench.txt

# The ladder: one remedy at a time, 20,000 steps a run, median of 3.
gradpoly ladder --steps 20000 --repeats 3 --threads 1 \
  --json docs/ladder.json --markdown docs/ladder.md --plot docs/img/ladder.png

# What bounds torch.compile here: a cold compile, and a profile of the warm per-call cost.
python benchmarks/profile_torch_compiled.py --profile-lines 8 2>&1 | tee docs/profile_torch_compiled.txt

# A fresh process's first compiled fit: built in the call, by a builder process, cached.
{ python benchmarks/compile_cache.py --gradient manual --strategy per-sample \
    --json docs/compile_cache.json
  python benchmarks/compile_cache.py; } \
  | tee docs/compile_cache.txt

# Why compiled per-sample torch reads the transposed design: both layouts' packages.
python benchmarks/per_sample_layout.py --json docs/per_sample_layout.json \
  | tee docs/per_sample_layout.txt

# The issue's targets, as ratios measured side by side in the bench run above (and
# the cold compile from compile_cache.json).
python benchmarks/targets.py docs/bench.json | tee docs/targets.txt

# The derivative demo: the notebook's first figure, checked, and every method timed.
gradpoly derivative --function sin --points 100 --method onehot-loop --dtype float32 \
  --plot docs/img/derivative.png
gradpoly derivative --table --dtype float32 --repeats 3 \
  --markdown docs/derivative_table.md --json docs/derivative_table.json

# Fits that converge: steps to the least-squares optimum per basis and optimizer, and the plot.
python benchmarks/convergence.py --plot docs/img/convergence.png | tee docs/convergence.txt

# Accuracy where the problem is hard: every path against exact rational least squares.
python benchmarks/hard_set.py --json docs/hard_set.json | tee docs/hard_set.txt

# Certified accuracy: NIST StRD's polynomial sets, coefficients and statistics digit by digit.
python benchmarks/certified.py --json docs/certified.json --markdown docs/certified.md \
  | tee docs/certified.txt

# What batched statistics cost on top of lstsq_many (20,000 x 200, numba).
python benchmarks/stats_cost.py | tee docs/stats_cost.txt

# Many curves at once: 10,000 series x 1,000 points against a loop of np.polyfit.
python benchmarks/many.py --repeats 3 --json docs/many.json | tee docs/many.txt
python benchmarks/many_large.py | grep -v '^$' | tee docs/many_large.txt

# Out of core on Dask: 10^8 float32 pairs in 100 Parquet files, time and peak RSS vs N.
python benchmarks/dask_scaling.py make --dir /tmp/gradpoly-parquet --files 100
python benchmarks/dask_scaling.py run --dir /tmp/gradpoly-parquet --sizes 1e6 3e6 1e7 3e7 1e8 --repeats 3

# Grids on one shared axis (clean and 10% NaN) against np.polynomial and xarray; a dask cube.
python benchmarks/grids.py --cube 365,1000,1000 --repeats 9 --json docs/grids.json \
  --markdown docs/grids.md | tee docs/grids.txt

# One small fit (100 points, degree 4) against np.polyfit.
python benchmarks/small_fit.py --json docs/small_fit.json | tee docs/small_fit.txt

# Beyond the anchors: constraints (and monotone), degree selection, calibration, robust fits.
python benchmarks/constraints.py --repeats 9 --json docs/constraints.json \
  --markdown docs/constraints.md
python benchmarks/degree_selection.py --repeats 7 --json docs/degree_selection.json \
  --markdown docs/degree_selection.md
python benchmarks/calibration.py --repeats 5 --json docs/calibration.json \
  --markdown docs/calibration.md
python benchmarks/robust.py --repeats 9 --json docs/robust.json --markdown docs/robust.md
python benchmarks/monotone_agreement.py --json docs/monotone_agreement.json \
  --markdown docs/monotone_agreement.md

# Refresh the README's generated table and examples (tests/test_benchmarks.py checks them).
python benchmarks/readme_sync.py

# The documentation site: every table rendered from the JSON above, the notebooks executed.
mkdocs build --strict
