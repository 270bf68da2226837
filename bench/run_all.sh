#!/usr/bin/env bash
# Every CPU benchmark in one fresh run, one log: the figures BENCHMARKS.md quotes come from it.
#
#   bash bench/run_all.sh                 # ~30 min on the 2-core dev machine
#   QUICK=1 bash bench/run_all.sh         # each script's CI-sized --quick mode
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-bench/results/cpu-$(date +%Y%m%d-%H%M%S).log}
mkdir -p "$(dirname "$OUT")"
Q=()
[ -n "${QUICK:-}" ] && Q=(--quick)
step() { "$PY" "$@" || echo "FAILED (exit $?): $*"; }  # one failure must not hide the rest

{
  echo "# bench/run_all.sh, $(date -Iseconds), $(git rev-parse --short HEAD)$(git diff --quiet -- ssl_core bench || echo ' (uncommitted changes)')"
  lscpu | grep -E '^(Model name|CPU\(s\)|Thread)' || true
  echo; echo "## target 3: augmentation"; step bench/augment_speed.py "${Q[@]}"
  echo; echo "## the data path before/after this issue's ssl_core changes"
  step bench/augment_before_after.py --threads 1
  echo; echo "## target 4: memory"; step bench/memory.py "${Q[@]}"
  echo; echo "## target 2: seed baseline"; step bench/seed_baseline.py "${Q[@]}"
  echo; echo "## target 5: store vs MLflow"; step bench/store_vs_mlflow.py "${Q[@]}"
  echo; echo "## target 1: train speed, torch's default threads, wall clock"
  step bench/train_speed.py "${Q[@]}"
  echo; echo "## target 1 cross-check: 1 thread, process CPU time (steadier on a shared machine)"
  step bench/train_speed.py --threads 1 --clock cpu "${Q[@]}"
} 2>&1 | grep --line-buffered -v -i -e deprecat -e "from starlette" | tee "$OUT"
echo "log: $OUT"
