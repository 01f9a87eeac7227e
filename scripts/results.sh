#!/usr/bin/env bash
# make results: rerun every shipped experiment with three seeds, report on the test split, and
# write the README's results table (scripts/results_table.py). Hours on 2 cores; not part of CI.
#
# Each experiment runs with seeds s, s+1, s+2 (s = its own `seed`); its eval stages grade 200
# tasks of each environment's *test* split (the runs' settings were chosen on validation), and the
# table reports the mean over seeds with a 95% t-interval and the paired change. Then quickstart's
# first seed runs again with one thread for Ponder and OpenBLAS, to say how much the figures move
# with the summation order. Everything lands in results/ (store, checkpoints, logs, JSON); an
# interrupted `make results` continues where it stopped (`--resume`).
# EXPERIMENTS="quickstart counting-grpo" make results measures a subset; the table names what is missing.
# The refusal and hallucination tables come after them (scripts/knowledge_results.sh, its own
# recipes and seeds); PARTS=knowledge make results runs only those, PARTS=experiments only the rest.
# THREADS=1 runs the experiments with one thread for Ponder and OpenBLAS, for a second job beside a
# first (on 2 cores, a one-thread pretraining beside a two-thread one made about 25% more steps in
# all than the two-thread one alone); the table says which experiments ran so.
set -euo pipefail
cd "$(dirname "$0")/.."
PONDER=${PONDER:-.build/release/ponder}
OUT=${OUT:-results}
EXPERIMENTS=${EXPERIMENTS:-"quickstart arithmetic-grpo counting-grpo counting-tool-grpo code-grpo"}
TASKS=${TASKS:-200}
if [ -n "${THREADS:-}" ]; then export PONDER_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS; fi
PARTS=${PARTS:-"experiments knowledge"}
mkdir -p "$OUT"
if [[ " $PARTS " == *" experiments "* ]]; then

test_split=(--set stages.before_rl.split=test --set stages.after_rl.split=test
            --set stages.before_rl.tasks=$TASKS --set stages.after_rl.tasks=$TASKS)

for e in $EXPERIMENTS; do
  file=experiments/$e.yaml
  seed=$("$PONDER" config show "$file" | sed -n 's/^seed: \([0-9]*\)$/\1/p')
  seeds="$seed,$((seed + 1)),$((seed + 2))"
  echo "== $e (seeds $seeds), $(date -u +%H:%M:%S)"
  "$PONDER" run "$file" --seeds "$seeds" "${test_split[@]}" --resume \
    --db "$OUT/ponder.sqlite" --runs "$OUT/runs" --summary-json "$OUT/$e.json" > "$OUT/$e.log" 2>&1
  tail -n 4 "$OUT/$e.log"
done

# The same first seed of quickstart with one thread everywhere: how much the summation order moves it.
seed=$("$PONDER" config show experiments/quickstart.yaml | sed -n 's/^seed: \([0-9]*\)$/\1/p')
echo "== quickstart, seed $seed, one thread, $(date -u +%H:%M:%S)"
PONDER_THREADS=1 OPENBLAS_NUM_THREADS=1 "$PONDER" run experiments/quickstart.yaml --seeds "$seed" "${test_split[@]}" --resume \
  --db "$OUT/threads1.sqlite" --runs "$OUT/runs-threads1" --summary-json "$OUT/quickstart-threads1.json" > "$OUT/quickstart-threads1.log" 2>&1

python3 scripts/results_table.py "$OUT" README.md
fi

if [[ " $PARTS " == *" knowledge "* ]]; then
  OUT=$OUT scripts/knowledge_results.sh
fi
