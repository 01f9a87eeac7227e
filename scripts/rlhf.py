"""RLHF and DPO before and after, from the stores of experiments/rlhf.yaml and dpo.yaml: the
README's RLHF table.

    python3 scripts/rlhf.py [--ponder .build/release/ponder] [--out rlhf-runs] [--seeds 0,1,2]
                            [--reuse] [--readme README.md]

Runs each experiment once per seed (`ponder run FILE --set seed=S`, store OUT/NAME-S.sqlite,
checkpoints OUT/runs-S/), or with --reuse reads the stores already there. Per experiment and seed:
test-split greedy accuracy before and after (each with its 95% Wilson interval), the change
paired on the same greedy tasks (mean of per-task differences, 95% t-interval), and the trainer's
own figures: the reward model's held-out pair accuracy (Wilson interval) and PPO's gold reward
and sqrt(KL) over its first and last five steps, or DPO's held-out implicit-reward accuracy and
its log-probabilities of chosen and rejected answers. With --readme the text between
`<!-- rlhf:begin -->` and `<!-- rlhf:end -->` is replaced.
"""
import argparse
import json
import math
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from readme_section import write_section  # noqa: E402

ROOT = os.path.dirname(os.path.abspath(os.path.dirname(__file__)))
EXPERIMENTS = ("rlhf", "dpo")


def pct(x):
    return f"{100 * x:.1f}"


def interval(m):
    return f"{pct(m['accuracy'])}% [{pct(m['accuracy_lower'])}, {pct(m['accuracy_upper'])}]"


def metric(db, stage, name):
    return [v for (v,) in db.execute("""SELECT m.value FROM metrics m JOIN runs r ON r.id = m.run_id
                                        WHERE r.stage = ? AND m.name = ? AND m.value IS NOT NULL ORDER BY m.step""",
                                     (stage, name))]


def evaluation(db, stage):
    row = db.execute("""SELECT e.id, e.metrics FROM evals e JOIN runs r ON r.id = e.run_id
                        WHERE r.stage = ? AND e.split = 'test' ORDER BY e.id DESC LIMIT 1""", (stage,)).fetchone()
    items = {i: v == "correct" for i, v in db.execute(
        "SELECT item_index, verdict FROM eval_items WHERE eval_id = ? AND sample_index < 0", (row[0],))}
    return json.loads(row[1]), items


def paired(before, after):
    diffs = [float(after[i]) - float(before[i]) for i in before if i in after]
    n = len(diffs)
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    z, nu = 1.959964, n - 1  # the t quantile of nu degrees of freedom (Cornish-Fisher), as Ponder's paired changes use
    t = z + (z ** 3 + z) / (4 * nu) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * nu ** 2)
    half = t * sd / math.sqrt(n)
    return f"{100 * mean:+.1f} [{100 * (mean - half):.1f}, {100 * (mean + half):.1f}]"


def first_last(values, k=5):
    return sum(values[:k]) / len(values[:k]), sum(values[-k:]) / len(values[-k:])


def summarize(path, name, seed):
    db = sqlite3.connect(path)
    (before, b_items), (after, a_items) = evaluation(db, "before"), evaluation(db, "after")
    row = f"| {name}.yaml | {seed} | {interval(before)} | {interval(after)} | {paired(b_items, a_items)} | "
    if name == "rlhf":
        acc, lo, hi = (metric(db, "reward_model", f"eval/accuracy{s}")[-1] for s in ("", "_lower", "_upper"))
        g0, g1 = first_last(metric(db, "ppo", "gold_reward"))
        s0, s1 = first_last(metric(db, "ppo", "score"))
        _, d1 = first_last(metric(db, "ppo", "sqrt_kl"))
        row += (f"reward model: held-out pair accuracy {pct(acc)}% [{pct(lo)}, {pct(hi)}]; PPO rollouts: gold reward "
                f"{g0:.2f} -> {g1:.2f}, proxy score {s0:+.2f} -> {s1:+.2f}, sqrt(KL) {d1:.2f} (first and last 5 steps) |")
    else:
        acc, lo, hi = (metric(db, "dpo", f"eval/rewards/accuracies{s}")[-1] for s in ("", "_lower", "_upper"))
        c0, c1 = first_last(metric(db, "dpo", "logps/chosen"))
        r0, r1 = first_last(metric(db, "dpo", "logps/rejected"))
        row += (f"held-out implicit-reward accuracy {pct(acc)}% [{pct(lo)}, {pct(hi)}]; log p(chosen) {c0:.1f} -> {c1:.1f}, "
                f"log p(rejected) {r0:.1f} -> {r1:.1f} (first and last 5 steps) |")
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ponder", default=os.path.join(ROOT, ".build", "release", "ponder"))
    parser.add_argument("--out", default="rlhf-runs")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--reuse", action="store_true", help="read the stores in OUT instead of running")
    parser.add_argument("--readme")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    os.makedirs(args.out, exist_ok=True)
    lines = ["| experiment | seed | test accuracy before | after | change (points, paired) | trainer's figures |",
             "|---|---|---|---|---|---|"]
    for name in EXPERIMENTS:
        for seed in seeds:
            store = os.path.join(args.out, f"{name}-{seed}.sqlite")
            if not args.reuse:
                command = [args.ponder, "run", os.path.join(ROOT, "experiments", f"{name}.yaml"), "--set", f"seed={seed}",
                           "--db", store, "--runs", os.path.join(args.out, f"runs-{seed}")]
                print("$", " ".join(command), file=sys.stderr)
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            lines.append(summarize(store, name, seed))
    text = "\n".join(lines)
    print(text)
    if args.readme:
        write_section(args.readme, "rlhf", text)


if __name__ == "__main__":
    main()
