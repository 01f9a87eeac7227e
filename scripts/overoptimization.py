"""Reward-model over-optimisation, measured with an exact gold reward: the README's tables, from
experiments/overoptimization.yaml.

    python3 scripts/overoptimization.py [--ponder .build/release/ponder] [--out overoptimization-runs]
                                        [--seeds 0,1] [--best-of 16] [--tasks 200] [--readme README.md]

Per seed S: `ponder run experiments/overoptimization.yaml --resume --set seed=S` (store
OUT/overoptimization-S.sqlite, checkpoints OUT/runs-S/; a finished store is only read, a killed one
continues), then `ponder eval .../sft --split test --best-of N --reward-model ...` with every
reward model of the run scoring one set of N samples per test task (the ensemble three times: mean, min,
mean - std), saved as OUT/best-of-S.json (kept: delete it to sample again).

Tables (d = sqrt(KL) from the SFT model; gold = the verifier's verdict):
  best-of-n  per reward model: its held-out pair accuracy (Wilson interval), test gold accuracy at n = 1
             and n = N (t-interval over tasks), and Gao et al.'s fit gold(d) - gold(0) = d (alpha - beta d)
             over n = 1, 2, 4 ... N with R^2 and the peak (d*, gold*) when beta > 0. `ponder eval` computes
             the fit (PonderCore/Overoptimization.swift); this script only reads it.
  PPO        per run: the reward model and kl_coef, rollout gold reward and proxy score over the first and
             last five steps, sqrt(KL) at the end, the fit d (alpha - beta log d) to the per-step
             (sqrt_kl, gold_reward) points (`ponder compare RUN --metric gold_reward --x sqrt_kl --fit rl
             --json`), and the policy's greedy test accuracy after (Wilson interval) against before.
  mitigations  the KL penalty and the ensemble's min against the same run without them: test accuracy
             with and without, the change paired on the same tasks.
  DPO        test accuracy before and after with the paired change, per label-noise rate.
With --readme the text between `<!-- overoptimization:begin -->` and `<!-- overoptimization:end -->` is replaced.
"""
import argparse
import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from readme_section import write_section  # noqa: E402
from rlhf import evaluation, interval, metric, paired, pct, first_last  # noqa: E402

ROOT = os.path.dirname(os.path.abspath(os.path.dirname(__file__)))
NAME = "overoptimization"
# (stage, what it varies); rm_ensemble appears once per combination rule.
REWARD_MODELS = [("rm", "1500 pairs, no noise, 4 layers"), ("rm_noise10", "10% labels flipped"),
                 ("rm_noise25", "25% labels flipped"), ("rm_pairs250", "250 pairs"), ("rm_small", "1 layer of 4"),
                 ("rm_weak", "1 layer, 50 pairs, 25% flipped")]
ENSEMBLE_RULES = ["mean", "min", "mean_minus_std"]
PPO_RUNS = [("ppo", "rm", "0.05"), ("ppo_noise10", "rm_noise10", "0.05"), ("ppo_noise25", "rm_noise25", "0.05"),
            ("ppo_noise25_nokl", "rm_noise25", "0"), ("ppo_pairs250", "rm_pairs250", "0.05"), ("ppo_small", "rm_small", "0.05"),
            ("ppo_ensemble_min", "rm_ensemble (min of 3, 25% noise)", "0.05"),
            ("ppo_weak", "rm_weak (120 steps, lr x2)", "0"), ("ppo_weak_kl", "rm_weak (120 steps, lr x2)", "0.1")]
# (what is compared, with it, without it): test-split evaluations paired on the same tasks.
MITIGATIONS = [("KL penalty 0.05 vs none, rm_noise25", "after_ppo_noise25", "after_ppo_noise25_nokl"),
               ("KL penalty 0.1 vs none, rm_weak", "after_ppo_weak_kl", "after_ppo_weak"),
               ("ensemble min vs one model, 25% noise", "after_ppo_ensemble_min", "after_ppo_noise25")]
DPO_RUNS = [("dpo", "after_dpo", "0%"), ("dpo_noise25", "after_dpo_noise25", "25%")]


def run(command, **kwargs):
    print("$", " ".join(command), file=sys.stderr)
    return subprocess.run(command, check=True, **kwargs)


def best_of(args, seed, runs):
    path = os.path.join(args.out, f"best-of-{seed}.json")
    if not os.path.exists(path):
        base = os.path.join(runs, NAME)
        models = [os.path.join(base, stage) for stage, _ in REWARD_MODELS] + [os.path.join(base, "rm_ensemble")] * len(ENSEMBLE_RULES)
        rules = ["mean"] * len(REWARD_MODELS) + ENSEMBLE_RULES
        command = [args.ponder, "eval", os.path.join(base, "sft"), "--env", "arithmetic", "--split", "test", "--tasks", str(args.tasks),
                   "--best-of", str(args.best_of), "--seed", str(seed), "--json"]
        for m, r in zip(models, rules):
            command += ["--reward-model", m, "--combine", r]
        out = run(command, stdout=subprocess.PIPE, text=True).stdout
        with open(path + ".partial", "w") as f:
            f.write(out)
        os.replace(path + ".partial", path)
    with open(path) as f:
        return json.load(f)


def fit_cells(fit, max_d):
    """alpha, beta, R^2 and the peak; a peak past the largest d measured is an extrapolation, said as such."""
    if not fit:
        return "| - | - | - | - |"
    if "peak_d" not in fit:
        peak = "none (beta <= 0)"
    elif fit["peak_d"] > max_d:
        peak = f"past the measured range (d* {fit['peak_d']:.3g} > {max_d:.2f})"
    else:
        peak = f"d* {fit['peak_d']:.2f}, gold* {pct(fit.get('peak', fit.get('peak_gold')))}%"
    return f"| {fit['alpha']:.3f} | {fit['beta']:.3f} | {fit['r_squared']:.2f} | {peak} |"


def rm_accuracy(db, stage):
    values = [metric(db, stage, f"eval/accuracy{s}") for s in ("", "_lower", "_upper")]
    if not values[0]:
        return "-"
    acc, lo, hi = (v[-1] for v in values)
    return f"{pct(acc)}% [{pct(lo)}, {pct(hi)}]"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ponder", default=os.path.join(ROOT, ".build", "release", "ponder"))
    parser.add_argument("--out", default="overoptimization-runs")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--best-of", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--readme")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    os.makedirs(args.out, exist_ok=True)

    bon = [f"Best-of-n on the test split ({args.tasks} tasks, N = {args.best_of} samples of the SFT model per task, the pick "
           f"of each reward model among n = 1, 2, 4 ... {args.best_of}); fit: gold(d) - gold(0) = d (alpha - beta d).", "",
           "| reward model | seed | held-out pair accuracy | gold, n = 1 | gold, n = N | alpha | beta | R^2 | peak |",
           "|---|---|---|---|---|---|---|---|---|"]
    ppo = ["PPO from the SFT model (40 steps of 16 prompts x 4 samples unless said); gold and proxy are the rollouts' mean verifier "
           "verdict and reward-model score over five steps (the first, the best for gold, the last); fit: gold(d) - gold(0) = d (alpha - beta log d) "
           "on the per-step points.", "",
           "| run | seed | reward model | kl_coef | gold: first -> best -> last | proxy | sqrt(KL) at the end | alpha | beta | R^2 | peak | "
           "test accuracy before -> after |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    mitigations = ["What the mitigations changed in PPO: greedy test accuracy with and without, and the change paired on "
                   "the same 200 tasks.", "", "| comparison | seed | with | without | change (points, paired) |",
                   "|---|---|---|---|---|"]
    dpo = ["DPO from the SFT model (100 steps) on the same pairs, greedy test accuracy (200 tasks):", "",
           "| label noise | seed | before | after | change (points, paired) |", "|---|---|---|---|---|"]
    for seed in seeds:
        store = os.path.join(args.out, f"{NAME}-{seed}.sqlite")
        runs = os.path.join(args.out, f"runs-{seed}")
        run([args.ponder, "run", os.path.join(ROOT, "experiments", f"{NAME}.yaml"), "--resume", "--set", f"seed={seed}",
             "--db", store, "--runs", runs], stdout=subprocess.DEVNULL)
        db = sqlite3.connect(store)
        tables = best_of(args, seed, runs)
        labels = [(s, w) for s, w in REWARD_MODELS] + [("rm_ensemble", f"3 x 25% noise, {r}") for r in ENSEMBLE_RULES]
        for (stage, what), table in zip(labels, tables):
            rows = table["rows"]
            first, last = rows[0], rows[-1]
            gold = lambda r: f"{pct(r['gold'])}% [{pct(r['gold_lower'])}, {pct(r['gold_upper'])}]"  # noqa: E731
            bon.append(f"| {stage} ({what}) | {seed} | {rm_accuracy(db, stage)} | {gold(first)} | {gold(last)} "
                       + fit_cells(table.get("fit"), max(r["sqrt_kl"] for r in rows)))
        before, before_items = evaluation(db, "before")
        for stage, model, kl in PPO_RUNS:
            out = run([args.ponder, "compare", f"{NAME}/{stage}", "--metric", "gold_reward", "--x", "sqrt_kl", "--fit", "rl",
                       "--json", "--db", store], stdout=subprocess.PIPE, text=True).stdout
            curve = json.loads(out)[0]
            golds = metric(db, stage, "gold_reward")
            g0, g1 = first_last(golds)
            means = [sum(golds[i:i + 5]) / 5 for i in range(len(golds) - 4)]
            best = max(range(len(means)), key=means.__getitem__)
            s0, s1 = first_last(metric(db, stage, "score"))
            _, d1 = first_last(metric(db, stage, "sqrt_kl"))
            after, after_items = evaluation(db, f"after_{stage}")
            ppo.append(f"| {stage} | {seed} | {model} | {kl} | {g0:.2f} -> {means[best]:.2f} (steps {best + 1}-{best + 5}) -> {g1:.2f} | {s0:+.2f} -> {s1:+.2f} | {d1:.2f} "
                       + fit_cells(curve.get("fit"), max(x for x, _ in curve["points"]))
                       + f" {interval(before)} -> {interval(after)} ({paired(before_items, after_items)}) |")
        for what, with_stage, without_stage in MITIGATIONS:
            (a, a_items), (b, b_items) = evaluation(db, with_stage), evaluation(db, without_stage)
            mitigations.append(f"| {what} | {seed} | {interval(a)} | {interval(b)} | {paired(b_items, a_items)} |")
        for stage, eval_stage, noise in DPO_RUNS:
            after, after_items = evaluation(db, eval_stage)
            dpo.append(f"| {noise} | {seed} | {interval(before)} | {interval(after)} | {paired(before_items, after_items)} |")
    text = "\n".join(bon + [""] + ppo + [""] + mitigations + [""] + dpo)
    print(text)
    if args.readme:
        write_section(args.readme, NAME, text)


if __name__ == "__main__":
    main()
