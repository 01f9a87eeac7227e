#!/usr/bin/env bash
# The refusal and hallucination results (README, "Refusal and hallucination: results"): the
# knowledge recipes with three seeds, each checkpoint graded once on the knowledge *test* split
# (`ponder eval --split test --json`), then scripts/knowledge_table.py writes tables (a)-(d):
#   (a) plain SFT (knowledge-exposure) against knowledge probing (knowledge-probe-sft) and GRPO
#       with an abstention-aware reward on the questions left out of a first SFT (knowledge-grpo-refusal)
#   (b) the same plain-SFT pipeline with 10%, 30% and 60% of the facts seen exactly once
#   (c) the second SFT half with every answer (knowledge-unknown-sft) against "I don't know" for
#       what the probe found unknown (knowledge-probe-sft's sft_probe)
#   (d) the suite before and after arithmetic GRPO with a correctness-only reward
#       (knowledge-abstention-tax)
# Every chain of runs is independent of the others; JOBS of them run at once (default 2, each
# with one thread). Everything lands in OUT/knowledge (default results/knowledge); an interrupted
# run continues where it stopped (`--resume`, and finished evals are kept).
# SEEDS="0" scripts/knowledge_results.sh measures one seed; the table says how many it had.
set -euo pipefail
cd "$(dirname "$0")/.."
export PONDER=${PONDER:-.build/release/ponder}
export KNOWLEDGE_OUT=${KNOWLEDGE_OUT:-${OUT:-results}/knowledge}
OUT=$KNOWLEDGE_OUT
SEEDS=${SEEDS:-"0 1 2"}
JOBS=${JOBS:-2}
export KNOWLEDGE_TASKS=${KNOWLEDGE_TASKS:-400}
mkdir -p "$OUT/evals"

if [ "${1:-}" = "--chain" ]; then
  chain=$2 seed=$3
  export PONDER_THREADS=${PONDER_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
  runs=$OUT/runs
  # One store per chain: the chains run side by side.
  run() { # EXPERIMENT NAME [--set ...]
    local file=$1 name=$2; shift 2
    echo "  $(date -u +%H:%M:%S) $name seed $seed"
    "$PONDER" run "experiments/$file.yaml" --seeds "$seed" --set "name=$name" "$@" --resume \
      --db "$OUT/$chain-$seed.sqlite" --runs "$runs" > "$OUT/$name-seed$seed.log" 2>&1
  }
  grade() { # CHECKPOINT LABEL [ENVIRONMENT]
    local out=$OUT/evals/$2-seed$seed.json
    [ -s "$out" ] && return 0
    "$PONDER" eval "$1" --env "${3:-knowledge}" --split test --tasks "$KNOWLEDGE_TASKS" --json \
      --db "$OUT/$chain-$seed.sqlite" > "$out.part" 2> "$OUT/evals/$2-seed$seed.err"
    mv "$out.part" "$out"
  }
  case $chain in
    main)
      run knowledge-exposure knowledge-exposure
      grade "$runs/knowledge-exposure/seed-$seed/sft" sft
      KNOWLEDGE_PRETRAIN=$runs/knowledge-exposure/seed-$seed/pretrain run knowledge-probe-sft knowledge-probe-sft
      grade "$runs/knowledge-probe-sft/seed-$seed/sft" sft-half
      grade "$runs/knowledge-probe-sft/seed-$seed/sft_probe" sft-probe
      KNOWLEDGE_SFT_HALF=$runs/knowledge-probe-sft/seed-$seed/sft run knowledge-grpo-refusal knowledge-grpo-refusal
      grade "$runs/knowledge-grpo-refusal/seed-$seed/grpo" grpo-refusal
      KNOWLEDGE_SFT_HALF=$runs/knowledge-probe-sft/seed-$seed/sft run knowledge-unknown-sft knowledge-unknown-sft
      grade "$runs/knowledge-unknown-sft/seed-$seed/sft_answers" sft-answers
      ;;
    once10|once60)
      # The share of facts seen once, the rest kept in proportion (never stays 10%).
      if [ "$chain" = once10 ]; then shares=(0.1 0.4 0.4); else shares=(0.6 0.15 0.15); fi
      e=environments.knowledge.settings.exposure
      run knowledge-exposure "knowledge-$chain" --set "$e.once=${shares[0]}" --set "$e.few=${shares[1]}" --set "$e.many=${shares[2]}"
      grade "$runs/knowledge-$chain/seed-$seed/sft" "sft-$chain"
      ;;
    tax)
      run knowledge-abstention-tax knowledge-abstention-tax
      grade "$runs/knowledge-abstention-tax/seed-$seed/sft" tax-before
      grade "$runs/knowledge-abstention-tax/seed-$seed/grpo" tax-after
      grade "$runs/knowledge-abstention-tax/seed-$seed/sft" tax-before-arithmetic arithmetic
      grade "$runs/knowledge-abstention-tax/seed-$seed/grpo" tax-after-arithmetic arithmetic
      ;;
    *) echo "unknown chain $chain" >&2; exit 2 ;;
  esac
  echo "  $(date -u +%H:%M:%S) chain $chain seed $seed done"
  exit 0
fi

echo "== knowledge results (seeds $SEEDS, $JOBS at once), $(date -u +%H:%M:%S)"
for seed in $SEEDS; do for chain in main tax once10 once60; do echo "$chain $seed"; done; done |
  xargs -P "$JOBS" -L 1 bash -c '"$0" --chain "$1" "$2"' "$PWD/scripts/knowledge_results.sh"
python3 scripts/knowledge_table.py "$OUT" README.md
